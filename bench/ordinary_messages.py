"""Ordinary technical messages through the demo pipeline: how many are refused or doubted,
and how many of the phone numbers in them become `phone` entities.

The messages are tests/guard/ordinary_technical.jsonl (an internet provider's customers:
router settings, DNS, error codes, config snippets; six carry a phone number). Each goes to a
new conversation of a fresh copy of the demo workspace. `--block` runs them under a policy
that refuses every doubted message, as the default did before `flag`.

    .venv/bin/python bench/ordinary_messages.py [--block]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
from pathlib import Path

from frontdesk.orchestration.runtime import open_runtime
from frontdesk.storage.conversations import create_conversation
from frontdesk.types import InboundMessage

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "src" / "frontdesk" / "demo" / "workspace"
FIXTURE = ROOT / "tests" / "guard" / "ordinary_technical.jsonl"
REFUSAL = "Sorry, I can't take that message"


async def run(block: bool) -> dict[str, object]:
    rows = [json.loads(line) for line in FIXTURE.read_text("utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "ws"
        shutil.copytree(DEMO, workspace)
        runtime = await open_runtime(workspace)
        if block:
            runtime.settings.guard.injection_action = "block"
            guard = runtime.settings.guard
            # Refusal needs a rule and the model together (strong evidence); this asks the
            # model only for a doubt, the most a tenant can refuse (before 011aaa0: every doubt).
            guard.injection_block_threshold = guard.injection_threshold
        refused = doubted = expected = found = 0
        extra: list[str] = []
        try:
            for row in rows:
                async with runtime.db.session(runtime.tenant.id) as session:
                    conversation = await create_conversation(session, channel="api")
                    await session.commit()
                reply = await runtime.assistant.handle(
                    InboundMessage(
                        tenant_id=runtime.tenant.id,
                        conversation_id=conversation.id,
                        text=row["text"],
                    )
                )
                screening = runtime.assistant.deps.input_guard.screen(row["text"])
                phones = [e for e in reply.entities if e.type == "phone"]
                refused += reply.text.startswith(REFUSAL)
                doubted += "prompt_injection" in screening.findings
                expected += len(row["phones"])
                found += min(len(phones), len(row["phones"]))
                if len(phones) > len(row["phones"]):
                    extra.append(row["text"])
                print(
                    f"{'refused' if reply.text.startswith(REFUSAL) else 'ok':8}"
                    f"{reply.route.action.value if reply.route else '-':9}"
                    f"phones {len(phones)}/{len(row['phones'])}  {row['text'][:60]!r}"
                )
        finally:
            await runtime.close()
    return {
        "policy": "block every doubt" if block else "default",
        "messages": len(rows),
        "refused": refused,
        "doubted": doubted,
        "phone_numbers": expected,
        "phone_entities_found": found,
        "messages_with_a_phone_that_is_none": extra,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--block", action="store_true", help="refuse every doubted message")
    args = parser.parse_args()
    result = asyncio.run(run(args.block))
    print()
    print("| messages | refused | doubted | phone entities found |")
    print("|---|---|---|---|")
    print(
        f"| {result['messages']} | {result['refused']} | {result['doubted']} "
        f"| {result['phone_entities_found']} of {result['phone_numbers']} |"
    )
    name = "ordinary_messages-block" if args.block else "ordinary_messages"
    out = ROOT / "bench" / "results" / f"{name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
