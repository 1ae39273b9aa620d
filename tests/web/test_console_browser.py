"""The console in a real browser (Debian's chromium via Playwright): a customer is handed
off; an agent signs in, takes over, replies (the customer's page shows it), hands back and
relabels an intent with a reason; an admin finds the correction on the learning page and
disables and enables it. Live updates arrive over server-sent events."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from frontdesk.storage.db import Database
from frontdesk.storage.tenants import ensure_tenant
from frontdesk.storage.users import Role, create_user
from tests.conftest import require
from tests.web.csp import watch_csp

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
PASSWORD = "correct horse battery"


def _add_agent(workspace: Path) -> None:
    async def run() -> None:
        db = Database(f"sqlite+aiosqlite:///{workspace / '.frontdesk' / 'frontdesk.db'}")
        try:
            tenant = await ensure_tenant(db, "default")
            await create_user(db, tenant.id, email="ana@kestrel.test", password=PASSWORD,
                              role=Role.AGENT)  # fmt: skip
            await create_user(db, tenant.id, email="root@kestrel.test", password=PASSWORD,
                              role=Role.ADMIN)  # fmt: skip
        finally:
            await db.dispose()

    asyncio.run(run())


def test_agent_takes_over_replies_hands_back_and_relabels(
    live_server: str, workspace: Path, tmp_path: Path
) -> None:
    require(CHROMIUM is not None, "Debian's chromium is not installed (make browser)")
    from playwright.sync_api import expect, sync_playwright

    _add_agent(workspace)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            customer = browser.new_context().new_page()
            violations = watch_csp(customer)
            customer.goto(live_server + "/")
            customer.fill("#text", "My parcel never arrived and nobody has replied")
            customer.click("button[type=submit]")
            expect(customer.locator(".msg.assistant")).to_have_count(2, timeout=20_000)
            customer.fill("#text", "I want to speak to a real person")
            customer.click("button[type=submit]")
            handed = customer.locator(".msg.assistant").nth(2)
            expect(handed).to_contain_text("Customer Support team", timeout=20_000)

            agent = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            agent_violations = watch_csp(agent)
            agent.goto(live_server + "/console")
            expect(agent).to_have_url(live_server + "/console/login")
            agent.fill("input[name=email]", "ana@kestrel.test")
            agent.fill("input[name=password]", PASSWORD)
            agent.click("button[type=submit]")
            queue = agent.locator('section.queue[data-team="support"] tr.ticket')
            expect(queue).to_have_count(1)
            expect(queue.locator(".sla")).to_contain_text("left")  # the SLA timer runs
            queue.locator("a").click()
            expect(agent.locator("#summary")).to_contain_text("customer asks for a human")
            expect(agent.locator("#trace")).to_contain_text("human_requested")

            agent.click("#take-over")
            expect(agent.locator(".flash.notice")).to_contain_text("You own this conversation")
            expect(agent.locator("#conversation-status")).to_have_text("agent")
            expect(agent.locator("body")).to_have_attribute("data-live", "on", timeout=10_000)

            # The customer writes while the agent owns it: no bot reply, and the agent's page
            # shows the message live.
            customer.fill("#text", "Hello? Is anyone there?")
            customer.click("button[type=submit]")
            expect(agent.locator("#messages")).to_contain_text("Is anyone there?", timeout=10_000)
            expect(customer.locator(".msg.assistant")).to_have_count(3)

            agent.fill("#reply-form textarea", "Hi, I'm Ana from support. Let me check.")
            agent.click("#send-reply")
            expect(customer.locator(".msg.agent")).to_contain_text("I'm Ana from support",
                                                                   timeout=10_000)  # fmt: skip

            agent.fill("#hand-back-form textarea", "Parcel located at the Leeds depot")
            agent.click("#hand-back")
            expect(agent.locator("#conversation-status")).to_have_text("open")
            customer.fill("#text", "ok thanks")
            customer.click("button[type=submit]")
            expect(customer.locator(".msg.assistant")).to_have_count(4, timeout=20_000)

            first = agent.locator("details.turn").first
            first.locator("summary").click()
            first.locator("select[name=intent]").select_option("lost_parcel")
            first.locator("input[name=note]").fill("the parcel never came: lost, not late")
            first.locator("button", has_text="Save correction").click()
            expect(agent.locator(".flash.notice")).to_contain_text("training example")
            expect(agent.locator("details.turn").first).to_contain_text("relabelled lost_parcel")

            # An admin sees the correction with who and why on the learning page, and can
            # disable it (kept for review, left out of every training) and enable it again.
            admin = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            admin_violations = watch_csp(admin)
            admin.goto(live_server + "/console/login")
            admin.fill("input[name=email]", "root@kestrel.test")
            admin.fill("input[name=password]", PASSWORD)
            admin.click("button[type=submit]")
            admin.goto(live_server + "/console/admin/learning")
            expect(admin.locator("tr.version").first).to_be_visible()  # the model in use
            correction = admin.locator("tr.correction")
            expect(correction).to_have_count(1)
            expect(correction).to_contain_text("lost_parcel")
            expect(correction).to_contain_text("the parcel never came: lost, not late")
            expect(correction).to_contain_text("ana@kestrel.test")
            correction.locator("button", has_text="Disable").click()
            expect(admin.locator("tr.correction.disabled")).to_have_count(1)
            admin.locator("tr.correction button", has_text="Enable").click()
            expect(admin.locator("tr.correction.enabled")).to_have_count(1)
            assert admin_violations == []
            shot = Path(os.environ.get("FRONTDESK_CONSOLE_SCREENSHOT", tmp_path / "console.png"))
            agent.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            assert violations == []
            assert agent_violations == []
        finally:
            browser.close()
