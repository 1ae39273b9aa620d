"""Rebuild the support-message files in `src/frontdesk/guard/data/`: benign customer messages
that teach the injection model what ordinary support traffic looks like (without them about 7%
of BANKING77's test messages scored as injections). Only the *train* splits of BANKING77
(CC BY 4.0) and CLINC150 (CC BY 3.0, in-scope) are used; their test splits stay unseen.

- `support_benign.jsonl`: 10 training messages per BANKING77 intent and 2 per CLINC150
  intent (fixed seed 7; unchanged since the first version).
- held out (not written, see `held_out_support`): 2,000 BANKING77 and 2,000 CLINC150 train
  messages not in any shipped file (fixed seed), the benign side on which `bench/guard.py`
  measures support false positives when it chooses the operating point.
- `support_more.jsonl`: more CLINC150 train messages from neither of the above: 20 per
  intent of the "meta" and "small_talk" domains (messages to the assistant itself: "are you
  a bot", "repeat that", "yes", "no", "thank you", "call me ...") and 3 per other intent.

    .venv/bin/python bench/make_guard_data.py [DATASETS_DIR]
"""

from __future__ import annotations

import csv
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "src" / "frontdesk" / "guard" / "data"
OUT = DATA_DIR / "support_benign.jsonl"
MORE = DATA_DIR / "support_more.jsonl"
DEFAULT_DATASETS = ROOT.parent / "shared" / "datasets"
HELD_OUT_PER_SOURCE = 2000
HELD_OUT_SEED = 20261124
BOT_DOMAINS = ("meta", "small_talk")


def per_label(pairs: list[tuple[str, str]], k: int | dict[str, int], seed: int = 7) -> list[str]:
    by_label: dict[str, list[str]] = defaultdict(list)
    for text, label in pairs:
        by_label[label].append(text)
    rnd = random.Random(seed)
    out: list[str] = []
    for label in sorted(by_label):
        n = k if isinstance(k, int) else k[label]
        out += rnd.sample(by_label[label], min(n, len(by_label[label])))
    return out


def load_train(data: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(BANKING77 train, CLINC150 in-scope train) as (text, intent) pairs."""
    with (data / "banking77" / "train.csv").open(encoding="utf-8") as handle:
        banking = [(row["text"], row["category"]) for row in csv.DictReader(handle)]
    clinc = json.loads((data / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    return banking, [(t, label) for t, label in clinc["train"]]


def base_rows(data: Path) -> list[dict[str, object]]:
    banking, clinc = load_train(data)
    rows = [{"text": t, "label": 0, "source": "banking77"} for t in per_label(banking, 10)]
    rows += [{"text": t, "label": 0, "source": "clinc150"} for t in per_label(clinc, 2)]
    return rows


def held_out_support(data: Path = DEFAULT_DATASETS) -> dict[str, list[str]]:
    """Train messages of BANKING77 and CLINC150 that no shipped file contains (the base rows
    are rebuilt here, so this does not depend on what the data folder holds now)."""
    banking, clinc = load_train(data)
    taken = {str(r["text"]) for r in base_rows(data)}
    rnd = random.Random(HELD_OUT_SEED)
    out = {}
    for name, pairs in (("banking77_train", banking), ("clinc150_train", clinc)):
        pool = sorted({t for t, _ in pairs} - taken)
        out[name] = rnd.sample(pool, HELD_OUT_PER_SOURCE)
    return out


def more_rows(data: Path) -> list[dict[str, object]]:
    _, clinc = load_train(data)
    domains = json.loads((data / "clinc150" / "domains.json").read_text(encoding="utf-8"))
    bot_intents = {i for d in BOT_DOMAINS for i in domains[d]}
    excluded = {str(r["text"]) for r in base_rows(data)}
    excluded |= {t for texts in held_out_support(data).values() for t in texts}
    pool = [(t, label) for t, label in clinc if t not in excluded]
    counts = {label: 20 if label in bot_intents else 3 for _, label in pool}
    return [{"text": t, "label": 0, "source": "clinc150"} for t in per_label(pool, counts, seed=8)]


def write(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    print(f"{len(rows)} rows -> {path.relative_to(ROOT)}")


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DATASETS
    write(OUT, base_rows(data))
    write(MORE, more_rows(data))


if __name__ == "__main__":
    main()
