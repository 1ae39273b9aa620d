"""The console shows a greeting's name as the customer saw it (Debian's chromium via
Playwright): the assistant's reply is stored with a reference to the name (frontdesk.text.
NAME_MARK) and rendered from the customer's profile, both when it arrives on an open page
(live) and when the page is loaded; the private-use character never reaches the page."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from frontdesk.text import NAME_MARK
from tests.conftest import require, workspace_key
from tests.web.csp import watch_csp
from tests.web.test_console_browser import ARGS, CHROMIUM, PASSWORD, _add_agent
from tests.web.test_console_memory_browser import _chat

pytestmark = pytest.mark.browser


def test_a_greeting_shows_the_customer_s_name_live_and_on_load(
    live_server: str, workspace: Path
) -> None:
    require(CHROMIUM is not None, "Debian's chromium is not installed (make browser)")
    from playwright.sync_api import expect, sync_playwright

    _add_agent(workspace)
    key = workspace_key(workspace, "service")
    _chat(live_server, key, "cust-91", "Hi, my name is Maria and my parcel KP-20481736 is late")
    second = _chat(live_server, key, "cust-91")  # opened by the agent before its first message
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            agent = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            violations = watch_csp(agent)
            agent.goto(live_server + "/console/login")
            agent.fill("input[name=email]", "ana@kestrel.test")
            agent.fill("input[name=password]", PASSWORD)
            agent.click("button[type=submit]")
            agent.goto(f"{live_server}/console/conversations/{second}")
            expect(agent.locator("body")).to_have_attribute("data-live", "on", timeout=10_000)
            sent = httpx.post(
                f"{live_server}/v1/conversations/{second}/messages",
                json={"text": "I need a refund for KP-20481736"},
                headers={"Authorization": f"Bearer {key}"}, timeout=30,
            )  # fmt: skip
            assert sent.status_code == 200, sent.text
            assert sent.json()["answer"].startswith("Hi Maria")  # what the customer saw
            live = agent.locator("#messages li.msg.assistant .text").first
            expect(live).to_have_text(sent.json()["answer"], timeout=10_000)
            agent.reload()
            loaded = agent.locator("#messages li.msg.assistant .text").first
            expect(loaded).to_have_text(sent.json()["answer"])
            assert NAME_MARK not in agent.content()
            assert violations == []
        finally:
            browser.close()
