"""The knowledge base's screen (issue 17.3): its confusion matrix on the evaluation set and
the passages it would quarantine in the shipped knowledge folders.

    .venv/bin/python bench/kb_screen.py [--out FILE]

The set (tests/knowledge/data/kb_injection_cases.yaml, committed before the detector in
adfe2b1) holds 46 benign help-article passages that mention secrets safely (banking, telecom,
SaaS, e-commerce, energy) and 35 malicious ones (14 requests for secrets, 11 instructions
to the assistant, 10 hidden-text cases). Each case is read as `kb ingest` reads it
(converted, chunked, each chunk screened); a malicious case counts as caught when one of its
chunks has the case's code. The set was written by the author of the rules, who then fixed
the one case it missed, and the shipped folders' 7 false quarantines were fixed the same way:
these figures are a regression check, not an estimate on documents the rules never saw.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import yaml

from frontdesk.knowledge.chunking import chunk_document
from frontdesk.knowledge.ingest import list_source_files, parse_source
from frontdesk.knowledge.screening import screen_passage

ROOT = Path(__file__).resolve().parents[1]
SETS = {
    "cases": ROOT / "tests/knowledge/data/kb_injection_cases.yaml",
    "heldout": ROOT / "tests/knowledge/data/kb_injection_heldout.yaml",
}
FOLDERS = [
    ROOT / "src/frontdesk/demo/workspace/knowledge",
    *sorted(ROOT.glob("examples/*/knowledge")),
]


def codes_per_chunk(name: str, data: bytes) -> list[set[str]]:
    parsed = parse_source(name, data)
    drafts = chunk_document(parsed.title, parsed.body, parsed.faqs, merge_words=parsed.merge_words)
    return [{f.code for f in screen_passage(d.text, d.hidden)} for d in drafts]


def evaluate(path: Path) -> dict[str, Any]:
    cases = yaml.safe_load(path.read_text())
    matrix = {"tp": 0, "fn": 0, "fp": 0, "tn": 0}
    missed: list[str] = []
    flagged: list[str] = []
    for case in cases["benign"]:
        found = set().union(*codes_per_chunk(case["id"] + case.get("file", ".md"),
                                             case["text"].encode()))  # fmt: skip
        matrix["fp" if found else "tn"] += 1
        flagged += [case["id"]] if found else []
    by_code: dict[str, list[int]] = {}
    for case in cases["malicious"]:
        found = set().union(*codes_per_chunk(case["id"] + case.get("file", ".md"),
                                             case["text"].encode()))  # fmt: skip
        hit = case["code"] in found
        matrix["tp" if hit else "fn"] += 1
        by_code.setdefault(case["code"], [0, 0])[0 if hit else 1] += 1
        missed += [] if hit else [case["id"]]
    return {
        "confusion": matrix,
        "recall": matrix["tp"] / (matrix["tp"] + matrix["fn"]),
        "false_positive_rate": matrix["fp"] / (matrix["fp"] + matrix["tn"]),
        "recall_by_code": {k: v[0] / sum(v) for k, v in sorted(by_code.items())},
        "by_code": by_code,
        "missed": missed,
        "benign_quarantined": flagged,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/kb_screen.json")
    args = parser.parse_args()
    began = time.perf_counter()
    result: dict[str, Any] = {name: evaluate(path) for name, path in SETS.items()}
    folders: dict[str, dict[str, int]] = {}
    for folder in FOLDERS:
        files = list_source_files(folder)
        chunks = [c for p in files for c in codes_per_chunk(str(p), p.read_bytes())]
        folders[str(folder.relative_to(ROOT))] = {
            "files": len(files), "chunks": len(chunks), "quarantined": sum(1 for c in chunks if c)
        }  # fmt: skip
    result["shipped_folders"] = folders
    result["seconds"] = round(time.perf_counter() - began, 2)
    for name in SETS:
        matrix = result[name]["confusion"]
        print(f"{name:12}{'quarantined':>12}{'kept':>8}")
        print(f"{'  malicious':12}{matrix['tp']:>12}{matrix['fn']:>8}")
        print(f"{'  benign':12}{matrix['fp']:>12}{matrix['tn']:>8}")
        for code, (hit, miss) in sorted(result[name]["by_code"].items()):
            print(f"    {code}: {hit}/{hit + miss}")
        for label in ("missed", "benign_quarantined"):
            if result[name][label]:
                print(f"    {label}: {', '.join(result[name][label])}")
    for name, counts in folders.items():
        print(f"{name}: {counts['files']} files, {counts['chunks']} chunks, "
              f"{counts['quarantined']} quarantined")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
