"""Log helpers. Message text never goes into logs: only a short fingerprint of it."""

from __future__ import annotations

import hashlib
import logging


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def configure(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=False
    )
