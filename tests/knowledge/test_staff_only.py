"""Staff-only knowledge: indexed for routing and agents, never quoted to a customer."""

from __future__ import annotations

from frontdesk.knowledge.chunking import chunk_document
from frontdesk.knowledge.ingest import STAFF_TAG, parse_source

ATOM = b"""---
title: Refund approvals
author: Billing
type: procedure
created: 2025-01-02
version: 1.2
audience: staff
---
# Refund approvals

Refunds over 100 pounds need a team lead.
"""


def test_an_atom_for_staff_is_tagged() -> None:
    parsed = parse_source("knowledge/refund-approvals.md", ATOM)
    assert STAFF_TAG in parsed.tags
    public = parse_source("knowledge/x.md", ATOM.replace(b"audience: staff\n", b""))
    assert STAFF_TAG not in public.tags


def test_sections_for_staff_are_their_own_kind() -> None:
    body = (
        "Refunds reach your card in 7 days.\n\n"
        "## Escalation (staff only)\n\nApprovals over 100 pounds go to a lead.\n\n"
        "## Internal notes\n\nCheck the billing screen first.\n\n"
        "## Staff: fraud checks\n\nLook for three refunds in a week.\n\n"
        "## Paying it back\n\n<!-- audience: staff -->\nUse the manual refund form.\n\n"
        "## Where it goes\n\nTo the card you paid with."
    )
    kinds = {c.heading: c.kind for c in chunk_document("Refunds", body, merge_words=0)}
    assert kinds == {
        "Refunds": "section",
        "Escalation (staff only)": "staff",
        "Internal notes": "staff",
        "Staff: fraud checks": "staff",
        "Paying it back": "staff",
        "Where it goes": "section",
    }
    marked = next(
        c for c in chunk_document("Refunds", body, merge_words=0) if c.heading == "Paying it back"
    )
    assert "audience" not in marked.text  # the marker itself is not indexed
    # A plain document's short sections join their neighbours, never across kinds.
    merged = chunk_document("Refunds", body)
    assert [(c.kind, c.heading) for c in merged] == [
        ("section", "Refunds"),
        ("staff", "Escalation (staff only)"),
        ("section", "Where it goes"),
    ]
    assert "Use the manual refund form." in merged[1].text
    assert "audience" not in merged[1].text
