"""A hand-off demo, end to end over HTTP: an angry customer with a lost parcel is handed to
the support team with a structured summary; an agent's console view is saved as a PNG.

    .venv/bin/python scripts/demo_handoff.py --out /tmp/demo   # writes demo.json, console.png

Runs on a fresh copy of the demo workspace, a real server on 127.0.0.1 and Debian's
chromium (for the screenshot; skipped when it is missing). One run is kept in the repo:
docs/demo-handoff.json and docs/console-handoff.png (the screenshot reduced to 256 colours).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import tempfile
import threading
import time
from datetime import UTC
from pathlib import Path

import httpx
import uvicorn

from frontdesk.api.app import create_app
from frontdesk.orchestration.runtime import open_runtime
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.tickets import active_tickets
from frontdesk.storage.users import Role, create_user

DEMO = Path(__file__).resolve().parent.parent / "src" / "frontdesk" / "demo" / "workspace"
PASSWORD = "demo password 1"
CONVERSATION = [
    "My parcel never arrived and I'm furious. Second time this month!",
    "It's KP-20481739. I've waited two weeks, this is absolutely useless.",
    "This is ridiculous. Nobody has helped me and I want my money back now!",
]


async def prepare(root: Path) -> str:
    runtime = await open_runtime(root)
    try:
        await create_user(runtime.db, runtime.tenant.id, email="ana@kestrel.test",
                          password=PASSWORD, role=Role.AGENT)  # fmt: skip
        key = await create_key(runtime.db, runtime.tenant.id, name="demo", scope=Scope.SERVICE)
        return key.token
    finally:
        await runtime.close()


async def ticket_summary(root: Path) -> dict[str, object]:
    runtime = await open_runtime(root, sync=False)
    try:
        async with runtime.db.session(runtime.tenant.id) as session:
            [ticket] = await active_tickets(session)
            due = ticket.due_at
            if due is not None and due.tzinfo is None:  # SQLite keeps UTC without the zone
                due = due.replace(tzinfo=UTC)
            return {"id": ticket.id, "team": ticket.team, "priority": ticket.priority,
                    "subject": ticket.subject, "due_at": due.isoformat() if due else None,
                    "summary": ticket.summary}  # fmt: skip
    finally:
        await runtime.close()


def serve(root: Path) -> tuple[str, uvicorn.Server, threading.Thread]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(root), host="127.0.0.1", port=port,
                                           log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


def screenshot(base: str, conversation_id: str, path: Path) -> bool:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return False
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(base + "/console/login")
        page.fill("input[name=email]", "ana@kestrel.test")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{base}/console/conversations/{conversation_id}")
        page.wait_for_selector("#summary")
        page.screenshot(path=str(path), full_page=True)
        browser.close()
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp()) / "ws"
    shutil.copytree(DEMO, root)
    token = asyncio.run(prepare(root))
    base, server, thread = serve(root)
    turns = []
    try:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            conversation = client.post("/v1/conversations", json={"channel": "web"}).json()["id"]
            for text in CONVERSATION:
                reply = client.post(f"/v1/conversations/{conversation}/messages",
                                    json={"text": text}).json()  # fmt: skip
                route = reply["route"] or {}
                turns.append({"customer": text, "assistant": reply["answer"],
                              "intent": reply["intent"], "confidence": reply["confidence"],
                              "action": route.get("action"), "team": route.get("team"),
                              "rule": route.get("rule"), "reason": route.get("reason"),
                              "ticket_id": reply["ticket_id"]})  # fmt: skip
        shot = args.out / "console.png"
        took = screenshot(base, conversation, shot)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    result = {"turns": turns, "ticket": asyncio.run(ticket_summary(root)),
              "screenshot": str(shot) if took else None}  # fmt: skip
    (args.out / "demo.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
