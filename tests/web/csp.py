"""Content-Security-Policy violations a page reports (Chromium logs each one to the console):
a policy that blocks a page's own script or style must fail its browser test."""

from __future__ import annotations

from typing import Any


def watch_csp(page: Any) -> list[str]:
    violations: list[str] = []

    def seen(message: Any) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    page.on("console", seen)
    return violations
