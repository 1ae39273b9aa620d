"""The chat page in a real browser: Debian's chromium driven by Playwright."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import require
from tests.web.csp import watch_csp

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_customer_chats_on_the_web_page(live_server: str) -> None:
    require(CHROMIUM is not None, "Debian's chromium is not installed (make browser)")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        try:
            page = browser.new_page()
            violations = watch_csp(page)
            page.goto(live_server + "/")
            expect(page.locator("h1")).to_have_text("Kestrel Parcel support")
            page.fill("#text", "I want a refund for order KP-20481736")
            page.click("button[type=submit]")
            reply = page.locator(".msg.assistant").nth(1)
            expect(reply).to_have_attribute("data-intent", "request_refund", timeout=20_000)
            expect(reply.locator(".sources li")).not_to_have_count(0)
            expect(reply.locator(".meta")).to_contain_text("answer → billing")

            # Markup in a message is shown as text, never run.
            page.fill("#text", "<img src=x onerror=alert(1)> hello")
            page.click("button[type=submit]")
            expect(page.locator(".msg.customer").nth(1)).to_have_text(
                "<img src=x onerror=alert(1)> hello"
            )
            assert page.locator(".msg img").count() == 0
            assert violations == []
        finally:
            browser.close()
