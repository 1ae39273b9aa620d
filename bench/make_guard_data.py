"""Rebuild `src/frontdesk/guard/data/support_benign.jsonl`: benign customer messages that teach
the injection model what ordinary support traffic looks like (without them about 7% of
BANKING77's test messages scored as injections).

10 training messages per BANKING77 intent (CC BY 4.0) and 2 per CLINC150 intent (CC BY 3.0),
drawn with a fixed seed from the *train* splits only, so their test splits stay unseen.

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
OUT = ROOT / "src" / "frontdesk" / "guard" / "data" / "support_benign.jsonl"


def per_label(pairs: list[tuple[str, str]], k: int, seed: int = 7) -> list[str]:
    by_label: dict[str, list[str]] = defaultdict(list)
    for text, label in pairs:
        by_label[label].append(text)
    rnd = random.Random(seed)
    out: list[str] = []
    for label in sorted(by_label):
        out += rnd.sample(by_label[label], min(k, len(by_label[label])))
    return out


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "datasets"
    with (data / "banking77" / "train.csv").open(encoding="utf-8") as handle:
        banking = [(row["text"], row["category"]) for row in csv.DictReader(handle)]
    clinc = json.loads((data / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    rows = [{"text": t, "label": 0, "source": "banking77"} for t in per_label(banking, 10)]
    rows += [
        {"text": t, "label": 0, "source": "clinc150"}
        for t in per_label([(t, label) for t, label in clinc["train"]], 2)
    ]
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    print(f"{len(rows)} rows -> {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
