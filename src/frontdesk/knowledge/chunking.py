"""Chunking: split an atom's body at headings, then by a word budget with overlap.

Each FAQ pair becomes its own chunk so a question can match its answer directly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from frontdesk.knowledge.atoms import Atom, FaqPair

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
# A section written for staff: "## Escalation (staff only)", "## Internal notes",
# "## Staff: ...", or `<!-- audience: staff -->` on its first line. Such a section is indexed
# (routing and agents use it) as kind "staff", which no customer reply quotes.
_STAFF_HEADING = re.compile(
    r"\((staff|internal|agents?)( only)?\)\s*$"
    r"|^(staff|internal|agents?)( only)?\b( notes?)?\s*[:\u2014-]"
    r"|^(internal|staff|agent) notes?$|^notes? for (staff|agents)",
    re.IGNORECASE,
)
_STAFF_MARK = re.compile(r"^<!--\s*audience:\s*(staff|internal)\s*-->$", re.IGNORECASE)


@dataclass(frozen=True)
class ChunkDraft:
    kind: str  # section | faq | staff (never quoted to customers)
    heading: str
    text: str


def chunk_atom(atom: Atom, *, max_words: int = 350, overlap_words: int = 40) -> list[ChunkDraft]:
    return chunk_document(
        atom.meta.title, atom.body, atom.faqs, max_words=max_words, overlap_words=overlap_words
    )


def chunk_document(
    title: str,
    body: str,
    faqs: Sequence[FaqPair] = (),
    *,
    max_words: int = 350,
    overlap_words: int = 40,
) -> list[ChunkDraft]:
    chunks: list[ChunkDraft] = []
    for heading, text in _sections(body, default_heading=title):
        kind = "section"
        first = text.lstrip().splitlines()[0].strip() if text.strip() else ""
        if _STAFF_HEADING.search(heading) or _STAFF_MARK.match(first):
            kind = "staff"
            if _STAFF_MARK.match(first):
                text = text.lstrip().split("\n", 1)[1] if "\n" in text.lstrip() else ""
        for piece in _split_words(text, max_words, overlap_words):
            if piece.strip():
                chunks.append(ChunkDraft(kind, heading, piece))
    for faq in faqs:
        chunks.append(ChunkDraft("faq", faq.question, f"Q: {faq.question}\nA: {faq.answer}"))
    return chunks


def _sections(body: str, default_heading: str) -> list[tuple[str, str]]:
    sections: list[tuple[str, list[str]]] = [(default_heading, [])]
    for line in body.splitlines():
        match = _HEADING.match(line.strip())
        if match:
            title = match.group(2).strip()
            if match.group(1) == "#" and not sections[-1][1]:
                sections[-1] = (title, [])  # the document's own H1 names the first section
            else:
                sections.append((title, []))
        else:
            sections[-1][1].append(line)
    result = []
    for heading, lines in sections:
        text = "\n".join(lines).strip()
        if text:
            result.append((heading, text))
    return result


def _split_words(text: str, max_words: int, overlap: int) -> list[str]:
    words = text.split()
    if len(words) <= max_words:
        return [text]
    step = max(1, max_words - overlap)
    return [" ".join(words[i : i + max_words]) for i in range(0, len(words) - overlap, step)]
