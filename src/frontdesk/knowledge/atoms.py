"""Knowledge atoms: Markdown with YAML front matter and optional trailing Q:/A: FAQ pairs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

AtomType = Literal[
    "error",
    "procedure",
    "playbook",
    "interface_input",
    "troubleshooting_tip",
    "config_template",
    "pitfall",
    "faq",
]

_FAQ_Q = re.compile(r"^Q:\s*(.+)$")
_FAQ_A = re.compile(r"^A:\s*(.*)$")


class AtomMeta(BaseModel):
    model_config = ConfigDict(extra="allow")
    title: str = Field(min_length=1)
    author: str = Field(min_length=1)
    type: AtomType
    created: date
    version: str | int
    tags: list[str] = Field(default_factory=list)
    related: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class FaqPair:
    question: str
    answer: str
    line: int


@dataclass
class Atom:
    path: Path
    meta: AtomMeta
    body: str
    body_line: int  # line of the body's first line in the file, for messages
    faqs: list[FaqPair] = field(default_factory=list)


class AtomError(ValueError):
    """A file that is not a valid atom; the message starts with file:line."""


def parse_atom(path: Path, text: str | None = None) -> Atom:
    if text is None:
        text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise AtomError(f"{path}:1: missing YAML front matter (the file must start with ---)")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise AtomError(f"{path}:1: front matter is not closed with a --- line") from None
    try:
        raw = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        raise AtomError(f"{path}:{line}: invalid YAML front matter: {exc}") from exc
    if not isinstance(raw, dict):
        raise AtomError(f"{path}:2: front matter must be a mapping of fields")
    try:
        meta = AtomMeta.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise AtomError(f"{path}:{_field_line(lines, end, exc)}: {problems}") from exc
    body_lines, faqs = _split_faqs(lines[end + 1 :], first_line=end + 2)
    return Atom(path, meta, "\n".join(body_lines).strip(), end + 2, faqs)


def _field_line(lines: list[str], end: int, exc: ValidationError) -> int:
    first = exc.errors()[0]["loc"]
    name = str(first[0]) if first else ""
    for i in range(1, end):
        if lines[i].startswith(f"{name}:"):
            return i + 1
    return 1


def _split_faqs(lines: list[str], first_line: int) -> tuple[list[str], list[FaqPair]]:
    """FAQ pairs sit at the bottom: from the first `Q:` line that starts the trailing block."""
    start = None
    for i, line in enumerate(lines):
        if _FAQ_Q.match(line.strip()):
            start = i
            break
    if start is None:
        return lines, []
    faqs: list[FaqPair] = []
    question: str | None = None
    q_line = 0
    answer: list[str] = []
    for i, raw in enumerate(lines[start:], start=start):
        line = raw.strip()
        q = _FAQ_Q.match(line)
        a = _FAQ_A.match(line)
        if q:
            if question is not None and answer:
                faqs.append(FaqPair(question, " ".join(answer).strip(), q_line))
            question, q_line, answer = q.group(1).strip(), first_line + i, []
        elif a and question is not None:
            answer = [a.group(1)]
        elif line and question is not None and answer:
            answer.append(line)
    if question is not None and answer:
        faqs.append(FaqPair(question, " ".join(answer).strip(), q_line))
    return lines[:start], faqs
