"""Ask a running frontdesk server a few demo questions over the streaming API and print the
conversation: each answer with its [n] citations and their sources, how many `delta` events
it streamed in, and what the turn recorded (model, tokens, cost, why it fell back).

    frontdesk init /tmp/ws && frontdesk keys create -w /tmp/ws   # prints KEY
    frontdesk serve -w /tmp/ws --port 8765 &
    python scripts/demo_answers.py --url http://127.0.0.1:8765 --key KEY
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import httpx

# The demo's rules answer these from the knowledge base (others ask for an order number
# first, or go to a person).
QUESTIONS = [
    "How long does a refund take to reach my card? Order KP-20481736",
    "Can I change the delivery address after dispatch?",
    "Do you deliver on Sundays?",
    "How much does Saturday delivery cost?",
    "Do you sell gift cards?",
]


def events(body: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
        out.append((fields.get("event", "message"), json.loads(fields.get("data", "{}"))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8765")
    parser.add_argument("--key", required=True)
    parser.add_argument("questions", nargs="*")
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {args.key}"}
    with httpx.Client(base_url=args.url, headers=headers, timeout=120) as http:
        for question in args.questions or QUESTIONS:
            # One conversation per question: each is a customer's opening message.
            cid = http.post("/v1/conversations", json={"channel": "api"}).json()["id"]
            started = time.perf_counter()
            response = http.post(
                f"/v1/conversations/{cid}/messages?stream=true", json={"text": question}
            )
            elapsed = time.perf_counter() - started
            got = events(response.text)
            reply = next(data for name, data in got if name == "reply")
            deltas = sum(1 for name, _ in got if name == "delta")
            resets = sum(1 for name, _ in got if name == "reset")
            drafts, draft = [], ""  # what streamed before a `reset`: a draft taken back
            for name, data in got:
                if name == "delta":
                    draft += data["text"]
                elif name == "reset":
                    drafts.append((draft, data.get("reason") or data.get("text") or ""))
                    draft = ""
            turn = http.get(f"/v1/conversations/{cid}").json()["turns"][-1]
            print(f"**Customer:** {question}\n")
            for text, why in drafts:
                print(f"_(streamed, then taken back: {text!r} ({why}))_\n")
            print(f"**Assistant:** {reply['answer']}\n")
            for citation in reply.get("citations") or []:
                print(f"- [{citation['n']}] {citation['title']} ({citation['source']})")
            route = reply.get("route") or {}
            print(
                f"\n_intent {reply.get('intent')}, route {route.get('action')}"
                f"{' -> ' + route['team'] if route.get('team') else ''}; model {turn['model']}, "
                f"{turn['prompt_tokens']}+{turn['completion_tokens']} tokens, cost "
                f"{turn['cost']}; {deltas} delta / {resets} reset events; {elapsed:.2f} s"
                f"{'; note: ' + turn['note'] if turn.get('note') else ''}_\n"
            )


if __name__ == "__main__":
    main()
