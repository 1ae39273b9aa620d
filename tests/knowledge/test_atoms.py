from __future__ import annotations

from datetime import date
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


@pytest.mark.parametrize(
    ("written", "kept"),
    [("1.2", "1.2"), ("1.10", "1.10"), ('"2.0.1"', "2.0.1"), ("2.0.1", "2.0.1"), ("3", "3"),
     ("'1.10'", "1.10"), ("!!float 1.50", "1.50")],
)  # fmt: skip
def test_a_numeric_version_is_kept_as_written(tmp_path: Path, written: str, kept: str) -> None:
    atom = parse_atom(tmp_path / "a.md", ATOM.replace("version: 2", f"version: {written}"))
    assert atom.meta.version == kept
    assert atom.meta.model_dump(mode="json")["version"] == kept


@pytest.mark.parametrize(
    "written",
    ["2026-01-05", "'2026-01-05'", '"2026-01-05"', "2026-1-5", "2026-01-05T09:30:00Z",
     "2026-01-05 09:30:00", "'2026-01-05T23:30:00-05:00'", "20260105"],
)  # fmt: skip
def test_an_unambiguous_created_date_is_accepted(tmp_path: Path, written: str) -> None:
    atom = parse_atom(tmp_path / "a.md", ATOM.replace("created: 2026-01-05", f"created: {written}"))
    assert atom.meta.created == date(2026, 1, 5)


NOT_A_DATE = "is not a date; write it as YYYY-MM-DD"
CREATED = "created: 2026-01-05"


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        (CREATED, "created: 05/01/2026", rf"a.md:5: created: '05/01/2026' {NOT_A_DATE}"),
        (CREATED, "created: 2026-13-45", r"a.md:5: created: '2026-13-45' is not a real date"),
        (CREATED, "created: '2026-02-30'", r"a.md:5: created: '2026-02-30' is not a real date"),
        (CREATED, "created:", r"a.md:5: created: empty"),
        ("version: 2", "version: yes", r"a.md:6: version: a version is a number or text"),
        ("version: 2", "version:", r"a.md:6: version: empty"),
        ("version: 2", "version: " + "9" * 40, r"a.md:6: version: String should have at most 32"),
        ("author: Billing\n", "", r"a.md:1: missing author \(every atom has title, author"),
        # an impossible date in another field is a YAML error with its line, not a crash
        ("tags: [refunds]", "tags: [refunds]\nreviewed: 2026-02-30",
         r"a.md:8: invalid YAML front matter: '2026-02-30' is not a real date"),
    ],
)  # fmt: skip
def test_bad_metadata_says_which_line_and_why(
    tmp_path: Path, replace: str, by: str, expected: str
) -> None:
    assert replace in ATOM
    with pytest.raises(AtomError, match=expected) as caught:
        parse_atom(tmp_path / "a.md", ATOM.replace(replace, by))
    assert caught.value.code in {"invalid_metadata", "invalid_front_matter"}
