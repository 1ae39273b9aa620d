"""Files to Markdown-ish text that the chunker understands (headings kept where the format
has them). Each converter raises `ConversionError` with a readable reason for a bad file."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import PurePath

from frontdesk.knowledge.screening import mark_hidden_html


class ConversionError(ValueError):
    """`code`: "unsupported_type", "unreadable_file" (binary, not UTF-8, a broken PDF or
    DOCX) or "empty_file" (no text to index)."""

    def __init__(self, message: str, *, code: str = "unreadable_file") -> None:
        super().__init__(message)
        self.code = code


def _text(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ConversionError("looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConversionError(f"not valid UTF-8 text (byte {exc.start})") from exc


def _html(data: bytes) -> str:
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    text = _text(data)
    if "<" not in text:
        raise ConversionError("no HTML markup found")
    soup = BeautifulSoup(text, "html.parser")
    title = soup.title.get_text(strip=True) if soup.title else ""
    for element in soup(["script", "style", "noscript", "template", "head"]):
        element.decompose()
    mark_hidden_html(soup)  # hidden text stays, marked, for the screen to quarantine
    markdown = MarkdownConverter(heading_style="ATX").convert_soup(soup)
    if title and not re.search(r"^# ", markdown, re.M):
        markdown = f"# {title}\n\n{markdown}"
    return re.sub(r"\n{3,}", "\n\n", markdown).strip()


def _pdf(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ConversionError(f"unreadable PDF ({exc})") from exc
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise ConversionError(
            "the PDF has no extractable text (scanned images need OCR)", code="empty_file"
        )
    return text


def _docx(data: bytes) -> str:
    import zipfile

    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ConversionError(f"unreadable DOCX ({exc})") from exc
    lines = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        level = re.match(r"Heading (\d)", style)
        if style == "Title":
            lines.append(f"# {text}")
        elif level:
            lines.append(f"{'#' * min(6, int(level.group(1)) + 1)} {text}")
        else:
            lines.append(text)
    if not lines:
        raise ConversionError("the DOCX has no text", code="empty_file")
    return "\n\n".join(lines)


CONVERTERS: dict[str, Callable[[bytes], str]] = {
    ".md": _text,
    ".markdown": _text,
    ".txt": _text,
    ".html": _html,
    ".htm": _html,
    ".pdf": _pdf,
    ".docx": _docx,
}


def convert(name: str, data: bytes) -> str:
    suffix = PurePath(name).suffix.lower()
    converter = CONVERTERS.get(suffix)
    if converter is None:
        known = ", ".join(sorted(CONVERTERS))
        raise ConversionError(
            f"unsupported file type {suffix or '(none)'!r}; supported: {known}",
            code="unsupported_type",
        )
    return converter(data)
