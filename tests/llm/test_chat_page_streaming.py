"""The web chat page shows a model's answer as it streams: the served app, configured in
frontdesk.yaml to use an OpenAI-compatible provider (the fake one on 127.0.0.1, sending a
word every 150 ms), in Debian's chromium driven by Playwright."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import require
from tests.llm.fakes import FakeProvider, Step

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def workspace(workspace: Path, fake: FakeProvider) -> Path:
    """The demo workspace with `llm` pointing at the fake provider (`live_server` serves it)."""
    config = workspace / "frontdesk.yaml"
    text = config.read_text(encoding="utf-8")
    assert "llm:\n  answer_model: extractive" in text
    config.write_text(
        text.replace(
            "llm:\n  answer_model: extractive",
            "llm:\n"
            "  models: {answer: [openai:gpt-test]}\n"
            f"  providers: {{openai: {{base_url: '{fake.url}/v1', api_key: test-key}}}}\n"
            "  retries: 0\n",
        ),
        encoding="utf-8",
    )
    return workspace


def test_the_page_shows_the_answer_while_it_streams(fake: FakeProvider, live_server: str) -> None:
    require(CHROMIUM is not None, "Debian's chromium is not installed (make browser)")
    from playwright.sync_api import expect, sync_playwright

    fake.default = Step(echo=True, piece_delay=0.15)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        try:
            page = browser.new_page()
            page.goto(live_server + "/")
            page.fill("#text", "I want a refund for order KP-20481736")
            page.click("button[type=submit]")
            streaming = page.locator(".msg.assistant.streaming p")
            expect(streaming).not_to_be_empty(timeout=20_000)
            partial = streaming.text_content() or ""
            reply = page.locator(".msg.assistant").nth(1)
            expect(reply).to_have_attribute("data-intent", "request_refund", timeout=20_000)
            expect(page.locator(".msg.assistant.streaming")).to_have_count(0)
            answer = reply.locator("p").text_content() or ""
            assert answer.endswith("[1]")
            assert partial
            assert len(partial) < len(answer)  # seen part-way through
            assert answer.startswith(partial)
            expect(reply.locator(".sources li")).not_to_have_count(0)
        finally:
            browser.close()
    assert fake.requests[0]["body"]["stream"] is True
