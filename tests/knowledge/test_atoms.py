from __future__ import annotations

from pathlib import Path

import pytest

from frontdesk.knowledge.atoms import AtomError, parse_atom
from frontdesk.knowledge.chunking import chunk_atom
from tests.conftest import DEMO

ATOM = """---
title: Refund timelines
author: Billing
type: faq
created: 2026-01-05
version: 2
tags: [refunds]
related: [Requesting a refund]
---
# Refund timelines

Refunds go back to the original payment method.

## Card payments

Card refunds take 5 to 7 working days.

Q: How long does a refund take?
A: Five to seven working days.

Q: Can I get cash instead?
A: No. Refunds always go back
to the original payment method.
"""


def test_parse_atom_with_faq_pairs(tmp_path: Path) -> None:
    atom = parse_atom(tmp_path / "a.md", ATOM)
    assert atom.meta.title == "Refund timelines"
    assert atom.meta.type == "faq"
    assert atom.meta.related == ["Requesting a refund"]
    assert [f.question for f in atom.faqs] == [
        "How long does a refund take?",
        "Can I get cash instead?",
    ]
    assert atom.faqs[1].answer == "No. Refunds always go back to the original payment method."
    assert atom.faqs[0].line == 18
    assert "Q:" not in atom.body


def test_chunks_follow_headings_and_faqs_stand_alone(tmp_path: Path) -> None:
    chunks = chunk_atom(parse_atom(tmp_path / "a.md", ATOM))
    assert [(c.kind, c.heading) for c in chunks] == [
        ("section", "Refund timelines"),
        ("section", "Card payments"),
        ("faq", "How long does a refund take?"),
        ("faq", "Can I get cash instead?"),
    ]


def test_long_sections_split_with_overlap(tmp_path: Path) -> None:
    body = " ".join(f"word{i}" for i in range(100))
    text = ATOM.split("# Refund")[0] + f"# Long\n\n{body}\n"
    chunks = chunk_atom(parse_atom(tmp_path / "a.md", text), max_words=40, overlap_words=10)
    assert len(chunks) == 3
    assert chunks[0].text.split()[-10:] == chunks[1].text.split()[:10]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no front matter", r"a.md:1: missing YAML front matter"),
        ("---\ntitle: x\n", r"a.md:1: front matter is not closed"),
        (ATOM.replace("type: faq", "type: recipe"), r"a.md:4: type"),
        (ATOM.replace("created: 2026-01-05", "created: soon"), r"a.md:5: created"),
        ("---\ntitle: [unclosed\n---\nbody\n", r"a.md:\d+: invalid YAML front matter"),
    ],
)
def test_bad_atoms_name_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(AtomError, match=expected):
        parse_atom(tmp_path / "a.md", text)


def test_demo_knowledge_is_valid() -> None:
    atoms = [parse_atom(p) for p in sorted((DEMO / "knowledge").glob("*.md"))]
    assert len(atoms) >= 30
    titles = {a.meta.title for a in atoms}
    assert len(titles) == len(atoms)
    for atom in atoms:
        assert set(atom.meta.related) <= titles, atom.path
