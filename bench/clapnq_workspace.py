"""CLAPNQ (answer or abstain, `../shared/datasets/clapnq_abstain`) as a frontdesk workspace:
its 596 passages as knowledge documents, its questions as golden answers (dev and test).

An answerable question must cite its gold passage (a document is named by its file stem,
the passage id); an unanswerable one must quote nothing and hand off. The understanding
part is deliberately minimal (a few greetings and one generic question intent, written
here, none taken from CLAPNQ): every question is routed to `answer`, so what is measured
is retrieval, the answerability decision and the reply.

    .venv/bin/python bench/clapnq_workspace.py [--data PATH] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "clapnq_abstain"
DEFAULT_OUT = ROOT / "bench" / ".cache" / "clapnq-workspace"

SETTINGS = {
    "tenant": "default",
    "assistant": {"name": "Reference Assistant", "company": "the reference desk"},
    "knowledge": {"top_k": 5, "chunk_words": 350, "overlap_words": 40},
    "nlu": {"classifier": "hybrid"},
    "llm": {"answer_model": "extractive"},
}

NLU = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - hi there
    - good morning
    - hey
    - hello, anyone there?
    - hi, I have a question
- intent: thank_you
  examples: |
    - thanks
    - thank you very much
    - cheers, that helps
    - great, thanks a lot
    - thanks for the help
    - much appreciated
- intent: ask_question
  examples: |
    - who was the first person to do this
    - when did it happen
    - where does the name come from
    - what is the meaning of the word
    - how many people live there
    - which country is it in
    - why is it called that
    - what year was it built
    - who wrote it
    - how long does it last
    - what does it stand for
    - where is it located
"""

RULES = """teams:
  research:
    description: Questions the reference desk answers from its documents.
    sla_minutes: 240
rules:
  - name: greeting
    when: {intent: [greet], confidence_at_least: 0.6}
    then: {action: answer, message: "Hello! What would you like to know?"}
  - name: thanks
    when: {intent: [thank_you], confidence_at_least: 0.6}
    then: {action: answer, message: "You're welcome."}
  - name: everything else
    then: {action: answer, team: research}
"""


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def golden_cases(questions: list[dict[str, Any]]) -> dict[str, Any]:
    cases = []
    for q in questions:
        case: dict[str, Any] = {"id": f"q{q['id']}", "message": q["question"]}
        if q["answerable"]:
            case |= {"answerable": True, "cite": list(q["gold_doc_ids"])}
        else:
            case |= {"answerable": False, "handoff": True, "team": "research"}
        cases.append(case)
    return {"cases": cases}


def build(data: Path, out: Path) -> Path:
    """Write the workspace (idempotent: unchanged files are left alone, so the index and
    trained model in .frontdesk/ stay valid)."""
    (out / "knowledge").mkdir(parents=True, exist_ok=True)
    (out / "nlu").mkdir(exist_ok=True)
    (out / "golden").mkdir(exist_ok=True)
    files: dict[Path, str] = {
        out / "frontdesk.yaml": yaml.safe_dump(SETTINGS, sort_keys=False),
        out / "nlu" / "nlu.yml": NLU,
        out / "rules.yaml": RULES,
    }
    for doc in read_jsonl(data / "docs.jsonl"):
        files[out / "knowledge" / f"{doc['id']}.txt"] = f"# {doc['title']}\n\n{doc['text']}\n"
    for split in ("dev", "test"):
        cases = golden_cases(read_jsonl(data / f"questions_{split}.jsonl"))
        files[out / "golden" / f"answers-{split}.yaml"] = yaml.safe_dump(cases, sort_keys=False)
    for path, text in files.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    print(build(args.data, args.out))


if __name__ == "__main__":
    main()
