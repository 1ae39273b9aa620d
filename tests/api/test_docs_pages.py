"""The API's documentation page works with no network: Swagger UI (/docs) loads its files
from this server, and a real browser that may reach nothing else renders the operations.
There is no /redoc (ReDoc loads its logo from a CDN)."""

from __future__ import annotations

import re
import shutil

import httpx
import pytest

from tests.conftest import require
from tests.web.csp import watch_csp

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def test_docs_pages_name_only_this_server(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as http:
        assert http.get("/redoc").status_code == 404
        for page in ("/docs",):
            html = http.get(page)
            assert html.status_code == 200
            urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html.text)
            urls += re.findall(r"""url: ?["']([^"']+)["']""", html.text)
            assert urls, html.text
            for url in urls:
                assert url.startswith("/"), f"{page} loads {url} from elsewhere"
                assert http.get(url).status_code == 200, url
        icon = http.get("/favicon.ico")
        assert icon.status_code == 200
        assert icon.headers["content-type"].startswith("image/svg+xml")


@pytest.mark.browser
def test_swagger_ui_renders_the_operations_offline(live_server: str) -> None:
    require(CHROMIUM is not None, "Debian's chromium is not installed (make browser)")
    from playwright.sync_api import Route, expect, sync_playwright

    elsewhere: list[str] = []

    def only_this_server(route: Route) -> None:
        if route.request.url.startswith(live_server):
            route.continue_()
        else:  # what a machine with no network gets
            elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context()
            context.route("**/*", only_this_server)
            page = context.new_page()
            violations = watch_csp(page)
            page.goto(live_server + "/docs")
            operation = page.locator(".opblock-summary-path", has_text="/v1/conversations")
            expect(operation.first).to_be_visible(timeout=20_000)
            assert page.locator(".opblock").count() > 20
            page.locator(".opblock-summary", has_text="/readyz").first.click()
            page.get_by_role("button", name="Try it out").click()
            page.get_by_role("button", name="Execute").click()
            expect(
                page.locator(".live-responses-table tbody .response-col_status").first
            ).to_contain_text("200", timeout=20_000)
            assert violations == []  # its policy lets Swagger UI start, nothing else inline
        finally:
            browser.close()
    assert elsewhere == []
