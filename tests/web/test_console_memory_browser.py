"""The console's memory panel in a real browser (Debian's chromium via Playwright): a returning
customer's conversation page shows the running summary and the customer profile (name given,
contacts, language, facts, past tickets), and an agent adds a note to the profile with the
form; the note is there after reloading."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.conftest import require, workspace_key
from tests.web.csp import watch_csp
from tests.web.test_console_browser import ARGS, CHROMIUM, PASSWORD, _add_agent

pytestmark = pytest.mark.browser


def _chat(base: str, key: str, ref: str, *texts: str) -> str:
    headers = {"Authorization": f"Bearer {key}"}
    created = httpx.post(f"{base}/v1/conversations", json={"customer_ref": ref}, headers=headers)
    conversation = str(created.json()["id"])
    for text in texts:
        sent = httpx.post(f"{base}/v1/conversations/{conversation}/messages",
                          json={"text": text}, headers=headers, timeout=30)  # fmt: skip
        assert sent.status_code == 200, sent.text
    return conversation


def test_the_conversation_page_shows_summary_and_profile_and_takes_a_note(
    live_server: str, workspace: object
) -> None:
    require(CHROMIUM is not None, "Debian's chromium is not installed (make browser)")
    from pathlib import Path

    from playwright.sync_api import expect, sync_playwright

    assert isinstance(workspace, Path)
    _add_agent(workspace)
    key = workspace_key(workspace, "service")
    _chat(live_server, key, "cust-77", "Hi, my name is Maria and my parcel KP-20481736 is late",
          "I want to speak to a real person")  # fmt: skip
    second = _chat(live_server, key, "cust-77", "I need a refund for KP-20481736")
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
            memory = agent.locator("#memory")
            expect(memory.locator(".running-summary")).to_contain_text("request_refund")
            expect(memory.locator(".running-summary")).to_contain_text("KP-20481736")
            profile = memory.locator(".profile")
            expect(profile).to_contain_text("Maria")
            expect(profile.locator(".contacts")).to_have_text("2")
            expect(profile).to_contain_text("order_id")
            expect(profile.locator(".past-tickets")).to_contain_text("support")
            agent.fill("#profile-note-form textarea", "Prefers e-mail; parcel 1 was a gift")
            agent.click("#add-profile-note")
            expect(agent.locator(".flash.notice")).to_contain_text("Note added")
            agent.reload()
            notes = agent.locator("#memory .profile-notes")
            expect(notes).to_contain_text("Prefers e-mail; parcel 1 was a gift")
            expect(notes).to_contain_text("ana@kestrel.test")
            shot = os.environ.get("FRONTDESK_MEMORY_SCREENSHOT")
            if shot:
                agent.screenshot(path=shot, full_page=True)
            assert violations == []
        finally:
            browser.close()
