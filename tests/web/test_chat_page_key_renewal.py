"""An open chat page whose widget key an admin revokes keeps working (issue 17): its next call
is refused, it reads the fresh key the server now serves with the page and sends again, and the
conversation goes on (the conversation's token does not depend on the widget key)."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.conftest import require, workspace_key
from tests.web.csp import watch_csp

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_an_open_page_survives_the_revocation_of_its_widget_key(
    live_server: str, workspace: Path
) -> None:
    require(CHROMIUM is not None, "Debian's chromium is not installed (make browser)")
    from playwright.sync_api import expect, sync_playwright

    admin = {"Authorization": f"Bearer {workspace_key(workspace, 'admin')}"}
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
            old = page.locator(".chat").get_attribute("data-widget-key")
            assert old
            page.fill("#text", "I want a refund for order KP-20481736")
            page.click("button[type=submit]")
            expect(page.locator(".msg.assistant")).to_have_count(2, timeout=20_000)

            prefix = old.split("_")[1]
            revoked = httpx.delete(f"{live_server}/v1/admin/keys/{prefix}", headers=admin)
            assert revoked.status_code == 204

            page.fill("#text", "where is my parcel")
            page.click("button[type=submit]")
            expect(page.locator(".msg.assistant")).to_have_count(3, timeout=20_000)
            assert page.locator(".msg.error").count() == 0
            fresh = page.locator(".chat").get_attribute("data-widget-key")
            assert fresh
            assert fresh != old
            assert violations == []
        finally:
            browser.close()
