"""`frontdesk kb lint`: problems in a knowledge folder, each with file:line.

Errors: files that do not parse (missing or invalid metadata), `related` titles that name
no atom, duplicate titles, a `Q:` without its `A:`. Warnings: atoms whose body is over the
chunk budget (they still index, split into several chunks) or has no text at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from frontdesk.knowledge.atoms import Atom, AtomError, parse_atom
from frontdesk.text import estimate_tokens

_Q = re.compile(r"^\s*Q:")
_A = re.compile(r"^\s*A:")


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    severity: str  # error | warning
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity}: {self.message}"


def _line_of(text: str, pattern: str, default: int = 1) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern in line:
            return number
    return default


def lint_folder(folder: Path, *, max_body_tokens: int = 1000) -> list[Finding]:
    findings: list[Finding] = []
    atoms: list[tuple[Atom, str]] = []
    for path in sorted(folder.rglob("*.md")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            findings.append(Finding(path, 1, "error", f"cannot read: {exc}"))
            continue
        try:
            atom = parse_atom(path, text)
        except AtomError as exc:
            where, _, message = str(exc).partition(": ")
            line = int(where.rsplit(":", 1)[1]) if where.rsplit(":", 1)[-1].isdigit() else 1
            findings.append(Finding(path, line, "error", message))
            continue
        atoms.append((atom, text))
        lines = text.splitlines()
        for number, content in enumerate(lines, start=1):
            if _Q.match(content):
                following = next((item for item in lines[number:] if item.strip()), "")
                if not _A.match(following):
                    findings.append(Finding(path, number, "error", "Q: without an A: after it"))
        tokens = estimate_tokens(atom.body)
        if tokens > max_body_tokens:
            findings.append(
                Finding(
                    path,
                    atom.body_line,
                    "warning",
                    f"body is about {tokens} tokens, over the budget of "
                    f"{max_body_tokens}; consider splitting the atom",
                )
            )
        if not atom.body.strip() and not atom.faqs:
            findings.append(Finding(path, atom.body_line, "warning", "the atom has no text"))
    by_title: dict[str, Path] = {}
    for atom, text in atoms:
        title = atom.meta.title
        if title in by_title:
            other = by_title[title]
            findings.append(
                Finding(
                    atom.path,
                    _line_of(text, "title:"),
                    "error",
                    f"duplicate title {title!r} (also in {other})",
                )
            )
        else:
            by_title[title] = atom.path
    for atom, text in atoms:
        for related in atom.meta.related:
            if related not in by_title:
                findings.append(
                    Finding(
                        atom.path,
                        _line_of(text, "related:"),
                        "error",
                        f"related title {related!r} names no atom",
                    )
                )
    return sorted(findings, key=lambda f: (str(f.path), f.line))
