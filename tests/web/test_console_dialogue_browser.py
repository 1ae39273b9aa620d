"""The console's conversation page shows the dialogue state, in a real browser (Debian's
chromium via Playwright): the active task, its form, the slot asked for and the slots
filled, and per turn what the message did (filled a slot, switched task...)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import require, workspace_key
from tests.web.csp import watch_csp
from tests.web.test_console_browser import ARGS, CHROMIUM, PASSWORD, _add_agent
from tests.web.test_console_memory_browser import _chat

pytestmark = pytest.mark.browser


def test_the_conversation_page_shows_the_dialogue_state(live_server: str, workspace: Path
                                                         ) -> None:  # fmt: skip
    require(CHROMIUM is not None, "Debian's chromium is not installed (make browser)")
    from playwright.sync_api import expect, sync_playwright

    _add_agent(workspace)
    key = workspace_key(workspace, "service")
    conversation = _chat(live_server, key, "cust-dialogue", "I want a refund please", "KP-20481736")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            agent = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            violations = watch_csp(agent)
            agent.goto(live_server + "/console/login")
            agent.fill("input[name=email]", "ana@kestrel.test")
            agent.fill("input[name=password]", PASSWORD)
            agent.click("button[type=submit]")
            agent.goto(f"{live_server}/console/conversations/{conversation}")
            state = agent.locator("#dialogue")
            expect(state.locator(".task")).to_contain_text("request_refund")
            expect(state.locator(".form")).to_contain_text("refund_form")
            expect(state.locator(".requested-slot")).to_have_text("amount")
            expect(state.locator(".slots")).to_contain_text("order_id=KP-20481736")
            last = agent.locator("#trace details.turn").last
            expect(last.locator(".dialogue-event")).to_contain_text("fill")
            assert violations == []
        finally:
            browser.close()
