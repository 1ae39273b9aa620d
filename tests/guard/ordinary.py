"""Ordinary technical messages to an internet provider (`ordinary_technical.jsonl`): router
settings, DNS, port forwarding, config snippets, error codes and phrasing that sounds like an
order to the assistant ("ignore the previous bill", "act as the account holder"). Written for
these tests; each row has the phone numbers it contains, as written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).with_name("ordinary_technical.jsonl")


def ordinary_technical_messages() -> list[dict[str, Any]]:
    return [json.loads(line) for line in FIXTURE.read_text("utf-8").splitlines() if line.strip()]
