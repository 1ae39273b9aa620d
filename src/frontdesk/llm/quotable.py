"""What of a passage may be quoted to a customer, cut into pieces a reply can pick from.

Sentences, list items and table rows (a row reads as "Yorkshire: Electricity unit rate
25.62p; Standing charge 51.27p."), each with what it is about (title, heading, the table's
header; the rows of a table without a header are one record, like a list item's sentences).
Left out: the atom's scaffolding ("Purpose: ...", "Prerequisites: ..."), text
written for staff ("tell the customer ...", "check the account screen ..."), sections and
atoms marked for staff (kind `staff`, tag `audience:staff`), and code blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from frontdesk.types import Passage

STAFF_TAG = "audience:staff"

_SCAFFOLD = re.compile(
    r"^(purpose|applies to|prerequisites?|audience|owner|scope|summary|last reviewed|"
    r"review date|reviewed|related|see also|version|author|tags|keywords|internal notes?|"
    r"notes? (to|for) (agents?|staff)|agent notes?|staff notes?|escalation|sla)\s*:",
    re.IGNORECASE,
)
_STAFF = re.compile(
    r"\b(tell|ask|advise|remind|offer|give|explain to|inform|reassure|warn) the "
    r"(customer|caller|member|account holder)s?\b"
    r"|\bthe (customer|caller)(?:'s|s')? (account|record|details|file)\b"
    r"|\b(check|open|look at|see|use|update) the (account|admin|agent|crm|back[- ]office|"
    r"billing) (screen|panel|page|view|tool|system)\b"
    r"|\b(agents?|advisors?|advisers?|staff|colleagues) (should|must|can|may|need to)\b"
    r"|\b(internal(ly)?|staff) only\b"
    r"|\bdo not (tell|share with|promise) (the )?customers?\b",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(£€$])")
_LIST = re.compile(r"^([-*+]|\d+[.)])\s+")
_EMPHASIS = re.compile(r"[*_`]{1,2}([^*_`]+)[*_`]{1,2}")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*)$")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{2,}")


@dataclass(frozen=True)
class Unit:
    """One quotable piece of a passage."""

    text: str
    passage: int  # 1-based, as the passage is cited
    order: int  # position within the passage
    block: int  # the paragraph, list or table it belongs to
    context: str  # what it is about: title, heading, an FAQ's question, a table's header
    faq: bool = False
    item: int | None = None  # the list item it is a sentence of (a line of the passage)


def is_staff_only(passage: Passage) -> bool:
    return passage.kind == "staff" or STAFF_TAG in passage.tags


def is_staff_text(sentence: str) -> bool:
    return bool(_STAFF.search(sentence))


def units(passage: Passage, n: int) -> list[Unit]:
    """The quotable pieces of passage number `n`, in order."""
    if is_staff_only(passage):
        return []
    frame = f"{passage.title}. {passage.heading}"
    if passage.kind == "faq":
        question, _, answer = passage.text.partition("\nA:")
        answer = _clean(answer or passage.text)
        if not answer or is_staff_text(answer):
            return []
        asked = passage.heading or question.removeprefix("Q:").strip()
        return [Unit(answer, n, 0, 0, f"{frame} {asked}", faq=True)]
    found: list[Unit] = []
    block = 0
    in_code = False
    table_head: list[str] | None = None
    table_start = 0
    previous_kind = ""
    for line_number, raw in enumerate(passage.text.splitlines()):
        line = raw.strip()
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        if not line:
            block += 1
            previous_kind, table_head = "", None
            continue
        heading = _HEADING.match(line)
        if heading:
            block += 1
            frame = f"{passage.title}. {heading.group(1)}"
            previous_kind = ""
            continue
        if line.startswith("|"):
            cells = [_clean(c) for c in line.strip("|").split("|")]
            if _TABLE_RULE.match(line):
                continue
            if previous_kind != "table":
                block += 1
                table_head, previous_kind, table_start = cells, "table", line_number
                continue
            text = _row(table_head or [], cells)
            if text:
                about = f"{frame} {' '.join(table_head or [])}"
                # A table with no header is one record ("Sort code | 40-11-62", "Account
                # number | ..."): its rows are one answer, like a list item's sentences.
                record = table_start if not any(table_head or []) else None
                found.append(Unit(text, n, len(found), block, about, item=record))
            continue
        kind = "list" if _LIST.match(line) else "text"
        if kind != previous_kind:  # a list, or a paragraph, starts: a new block
            block += 1
        previous_kind = kind
        text = _clean(_LIST.sub("", line))
        if not text or _SCAFFOLD.match(text):
            continue
        for sentence in _SENTENCE.split(text):
            sentence = sentence.strip()
            if len(sentence) < 3 or is_staff_text(sentence):
                continue
            if sentence[-1] not in ".!?:":
                sentence += "."
            item = line_number if kind == "list" else None
            found.append(Unit(sentence, n, len(found), block, frame, item=item))
    return found


def _row(head: list[str], cells: list[str]) -> str:
    """A table row as a sentence: the first cell names the row, the others say what they are."""
    if not cells or not any(cells[1:]):
        return ""
    parts = []
    for i, cell in enumerate(cells[1:], start=1):
        if cell:
            label = head[i] if i < len(head) and head[i] else ""
            parts.append(f"{label} {cell}".strip())
    return f"{cells[0]}: {'; '.join(parts)}." if cells[0] else f"{'; '.join(parts)}."


def _clean(text: str) -> str:
    text = _LINK.sub(r"\1 (\2)", text)
    text = _EMPHASIS.sub(r"\1", text)
    return re.sub(r"\s+", " ", text).strip()
