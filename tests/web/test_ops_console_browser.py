"""Approving a change plan in a real browser (Debian's chromium via Playwright): an operator
signs in, lands on the Operations page, makes a plan from words, reads the diff, cannot
approve it herself (four eyes), another operator approves and applies it; the depot files
change on disk; rolling back restores their exact bytes."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from frontdesk.storage.db import Database
from frontdesk.storage.tenants import ensure_tenant
from frontdesk.storage.users import Role, create_user
from tests.conftest import require
from tests.ops.conftest import tree_bytes
from tests.web.csp import watch_csp

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
PASSWORD = "correct horse battery"


def _add_operator(workspace: Path) -> None:
    async def run() -> None:
        db = Database(f"sqlite+aiosqlite:///{workspace / '.frontdesk' / 'frontdesk.db'}")
        try:
            tenant = await ensure_tenant(db, "default")
            for email in ("olga@kestrel.test", "oscar@kestrel.test"):
                await create_user(db, tenant.id, email=email, password=PASSWORD,
                                  role=Role.OPERATOR)  # fmt: skip
        finally:
            await db.dispose()

    asyncio.run(run())


def test_operator_approves_and_applies_a_plan(live_server: str, workspace: Path) -> None:
    require(CHROMIUM is not None, "Debian's chromium is not installed (make browser)")
    from playwright.sync_api import expect, sync_playwright

    _add_operator(workspace)
    target = workspace / "ops" / "target"
    before = tree_bytes(target)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            violations = watch_csp(page)
            page.goto(live_server + "/console/login")
            page.fill("input[name=email]", "olga@kestrel.test")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(live_server + "/console/ops")
            page.fill(
                "#request", "Move the cut-off to 18:30 for every depot in Leinster except D07"
            )
            page.click("#make-plan")
            expect(page.locator("#status")).to_have_text("planned")
            expect(page.locator("#elements")).to_contain_text("11 elements: D01 D02")
            expect(page.locator("#diff .add").first).to_have_text("+cutoff: '18:30'")
            plan_url = page.url
            page.click("#approve")  # four eyes: the planner cannot approve
            expect(page.locator(".flash.error")).to_contain_text("another operator or admin")
            page.goto(live_server + "/console/login")
            page.fill("input[name=email]", "oscar@kestrel.test")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(live_server + "/console/ops")
            page.goto(plan_url)

            page.click("#approve")
            expect(page.locator(".flash.notice")).to_contain_text("Approved")
            expect(page.locator("#status")).to_have_text("approved")
            page.click("#apply")
            expect(page.locator(".flash.notice")).to_contain_text("Applied as version 1")
            expect(page.locator('tr.element[data-element="D12"]')).to_contain_text("applied")
            d12 = (target / "elements" / "depots" / "D12.yaml").read_text()
            assert "cutoff: '18:30'" in d12

            page.click("#rollback")
            expect(page.locator("#status")).to_have_text("rolled_back")
            assert tree_bytes(target) == before
            page.click("text=Operations")
            expect(page.locator('tr.plan[data-status="rolled_back"]')).to_have_count(1)
            assert violations == []
        finally:
            browser.close()


def test_operator_asks_the_chat(live_server: str, workspace: Path) -> None:
    require(CHROMIUM is not None, "Debian's chromium is not installed (make browser)")
    from playwright.sync_api import expect, sync_playwright

    _add_operator(workspace)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            violations = watch_csp(page)
            page.goto(live_server + "/console/login")
            page.fill("input[name=email]", "olga@kestrel.test")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(live_server + "/console/ops")
            page.click("a[href='/console/ops/chat']")
            page.fill("#question", "why were Dublin parcels late this afternoon?")
            page.fill("#at", "2026-12-01T17:00Z")
            page.click("#ask")
            incident = page.locator(".incident").first
            expect(incident).to_have_attribute("data-root", "C-DPD")
            expect(incident.locator(".evidence li").first).to_contain_text(
                "[2026-12-01T14:05:00Z] C-DPD CARRIER-503"
            )
            expect(incident.locator(".atoms")).to_contain_text("CARRIER-503")
            expect(incident.locator(".next-steps li").first).to_contain_text("Confirm it is")
            assert violations == []
        finally:
            browser.close()
