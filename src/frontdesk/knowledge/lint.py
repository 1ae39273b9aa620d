"""`frontdesk kb lint`: problems in a knowledge folder, each with file:line.

Errors: files that `kb ingest` would reject (an unsupported type, an unreadable or empty file,
an atom whose front matter does not parse or whose metadata is wrong: `rejected` findings,
one per file, with the same reason ingest gives), `related`
titles that name no atom, duplicate titles, a `Q:` without its `A:`, and passages the
knowledge screen would quarantine (instructions to the assistant, requests for a customer's
secrets, hidden text: `knowledge/screening.py`; they are indexed but never used in answers).
Warnings: atoms whose body is over the chunk budget (they still index, split into several
chunks) or has no text. Information: files `kb ingest` does not read because they are not
documents (a type no reader handles, a page of front matter only), and each file indexed as
a plain document (Markdown without front matter or with a publishing tool's, HTML, text,
PDF, DOCX) and what an atom's front matter would add to it; near-duplicate pages, which
`kb ingest` skips.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from frontdesk.config.settings import ParsingSettings
from frontdesk.knowledge.atoms import Atom
from frontdesk.knowledge.chunking import chunk_document
from frontdesk.knowledge.converters import ConversionError
from frontdesk.knowledge.ingest import (
    ATOM_SUFFIXES,
    SUPPORTED_SUFFIXES,
    IngestError,
    Parsed,
    find_duplicates,
    line_of,
    list_source_files,
    parse_source,
)
from frontdesk.knowledge.parsing import DocumentParser
from frontdesk.knowledge.screening import screen_passage
from frontdesk.text import estimate_tokens

_Q = re.compile(r"^\s*Q:")
_A = re.compile(r"^\s*A:")


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    severity: str  # error | warning | info (what a plain document lacks: not a problem)
    message: str
    rejected: bool = False  # `kb ingest` would not index the file
    code: str = ""  # the knowledge screen's code for a quarantined passage, or "duplicate"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity}: {self.message}"


def _line_of(text: str, pattern: str, default: int = 1) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern in line:
            return number
    return default


def _quarantined(path: Path, parsed: Parsed, texts: dict[str, str]) -> list[Finding]:
    """The passages `kb ingest` would index but quarantine, each where its words are. The
    file's chunks' text goes into `texts` (for the near-duplicate check)."""
    found = []
    drafts = chunk_document(parsed.title, parsed.body, parsed.faqs,
                            merge_words=parsed.merge_words)  # fmt: skip
    texts[str(path)] = "\n".join(draft.text for draft in drafts)
    for draft in drafts:
        for finding in screen_passage(draft.text, draft.hidden):
            line = line_of(parsed.text, finding.excerpt) or 1
            message = (f"quarantined passage ({finding.code}): {finding.reason}; it is "
                       "indexed but never used in answers")  # fmt: skip
            found.append(Finding(path, line, "error", message, code=finding.code))
    return found


_ATOM_ADDS = ("a type (faq, procedure, troubleshooting_tip...) that search can filter on, "
              "an author, a created date and a version, related titles")  # fmt: skip


def _document_note(path: Path, parsed: Parsed) -> str:
    """What a file indexed as a plain document lacks compared to an atom."""
    kept = parsed.meta.get("front_matter") or {}
    mapped = [key for key in ("aliases", "description", "date") if parsed.meta.get(key)]
    mapped = ["title", *(["tags"] if parsed.tags else []), *mapped]
    if path.suffix.lower() in ATOM_SUFFIXES and (kept or len(mapped) > 1):
        where = f"a document with publishing front matter ({', '.join(mapped)} read"
        where += f"; {len(kept)} other key(s) kept as metadata)" if kept else ")"
    elif path.suffix.lower() in ATOM_SUFFIXES:
        where = "a plain Markdown document (no front matter)"
    else:
        where = f"a {path.suffix.lower().lstrip('.') or 'text'} document"
    faqs = " and Q:/A: pairs as FAQ chunks" if path.suffix.lower() in ATOM_SUFFIXES else ""
    return (f"{where}, titled {parsed.title!r}: indexed by its headings. An atom's front "
            f"matter would add {_ATOM_ADDS}{faqs} (see README, 'A workspace')")  # fmt: skip


def lint_folder(
    folder: Path, *, max_body_tokens: int = 1000, parsing: ParsingSettings | None = None
) -> list[Finding]:
    """The folder's findings; files are read as `kb ingest` reads them, within `parsing`'s
    limits (HTML, PDF and DOCX in a worker process that a time limit kills)."""
    parser = DocumentParser(parsing)
    try:
        return _lint_folder(folder, parser, max_body_tokens)
    finally:
        parser.close()


def _converted(parser: DocumentParser, path: Path, data: bytes) -> str:
    try:
        return parser.convert_now(str(path), data)
    except ConversionError as exc:
        raise IngestError(str(path), str(exc), code=exc.code) from exc


def _lint_folder(folder: Path, parser: DocumentParser, max_body_tokens: int) -> list[Finding]:
    findings: list[Finding] = []
    atoms: list[tuple[Atom, str]] = []
    texts: dict[str, str] = {}  # each indexed file's chunks, for the near-duplicate check
    for path in list_source_files(folder):
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            note = (f"not read: {path.suffix.lower() or 'a file without an extension'} is not a "
                    f"document type ({', '.join(sorted(SUPPORTED_SUFFIXES))})")  # fmt: skip
            findings.append(Finding(path, 1, "info", note, rejected=True))
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            reason = f"cannot read: {exc.strerror or exc}"
            findings.append(Finding(path, 1, "error", reason, rejected=True))
            continue
        try:
            parsed = parse_source(str(path), data, text=_converted(parser, path, data))
        except IngestError as exc:
            severity = "info" if exc.not_a_document else "error"  # front matter only
            findings.append(Finding(path, exc.line or 1, severity, exc.reason, rejected=True))
            continue
        findings.extend(_quarantined(path, parsed, texts))
        atom = parsed.atom
        if atom is None:  # indexed as a document: what an atom would add, as information
            findings.append(Finding(path, 1, "info", _document_note(path, parsed)))
            continue
        text = data.decode("utf-8-sig")
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
    for duplicate in find_duplicates(texts):
        others = ", ".join(duplicate.of[:3]) + (
            f" and {len(duplicate.of) - 3} more" if len(duplicate.of) > 3 else ""
        )
        note = (f"a near-duplicate: kb ingest skips it ({duplicate.share:.0%} of its text is in "
                f"{others})")  # fmt: skip
        findings.append(Finding(Path(duplicate.source), 1, "info", note, code="duplicate"))
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
