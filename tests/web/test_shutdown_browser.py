"""Ctrl-C stops `frontdesk serve` at once while people have its pages open: the chat page
polling for agents' replies and the console holding its live event stream (the stream used
to keep the server waiting until the agent closed the page)."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from frontdesk.cli.main import app
from tests.conftest import require, serve_process

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
PASSWORD = "correct horse battery"


def test_ctrl_c_with_the_chat_page_and_the_console_open(workspace: Path) -> None:
    require(CHROMIUM is not None, "Debian's chromium is not installed (make browser)")
    from playwright.sync_api import expect, sync_playwright

    made = CliRunner().invoke(
        app,
        ["users", "create", "-w", str(workspace), "--email", "ana@kestrel.test"],
        env={"FRONTDESK_PASSWORD": PASSWORD},
    )
    assert made.exit_code == 0, made.output
    with serve_process(workspace) as (process, port, log), sync_playwright() as p:
        url = f"http://127.0.0.1:{port}"
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            customer = browser.new_page()
            customer.goto(url + "/")
            customer.fill("#text", "Where is my parcel KP-20481736?")
            customer.click("button[type=submit]")
            expect(customer.locator(".msg.assistant")).to_have_count(2, timeout=20_000)
            agent = browser.new_page()
            agent.goto(url + "/console")
            agent.fill("input[name=email]", "ana@kestrel.test")
            agent.fill("input[name=password]", PASSWORD)
            agent.click("button[type=submit]")
            expect(agent.locator("body")).to_have_attribute("data-live", "on", timeout=10_000)
            time.sleep(2.5)  # the chat page polls at least once
            process.send_signal(signal.SIGINT)
            asked = time.monotonic()
            process.wait(timeout=30)
            stopped_in = time.monotonic() - asked
        finally:
            browser.close()
    text = log.read_text()
    assert process.returncode == 0, text
    assert "/updates?after=" in text  # the chat page was polling
    assert stopped_in < 4, text  # not the 5 s grace: nothing was left to cut off
    assert "Exception in ASGI application" not in text
