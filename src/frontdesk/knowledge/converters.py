"""Files to Markdown-ish text that the chunker understands (headings kept where the format
has them). Each converter raises `ConversionError` with a readable reason for a bad file.

Uploaded files are hostile until read: every converter works within `Limits` (input size,
unpacked size, pages, paragraphs, text), and a DOCX is checked from its zip directory and
for XML DTDs before python-docx unpacks it. Time is limited by the caller, which runs the
binary formats in a child process it can kill (frontdesk/knowledge/parsing.py)."""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from frontdesk.knowledge.screening import mark_hidden_html


class ConversionError(ValueError):
    """`code`: "unsupported_type", "unreadable_file" (binary, not UTF-8, a broken PDF or
    DOCX), "empty_file" (no text to index), "too_large" (over a size, page, paragraph or
    text limit), "decompression_bomb" (a DOCX that unpacks too far), "unsafe_xml" (an XML
    part with a DTD or in an encoding the check cannot read) or "parse_timeout" (set by the
    caller that timed the parse)."""

    def __init__(self, message: str, *, code: str = "unreadable_file") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Limits:
    """What reading one file may cost; `knowledge.parsing` in the settings (same names)."""

    max_file_bytes: int = 20 * 1024 * 1024
    max_unpacked_bytes: int = 100 * 1024 * 1024  # a DOCX's parts together, unpacked
    max_compression_ratio: float = 100.0  # a DOCX part over 1 MiB unpacked, to its packed size
    max_pages: int = 2000  # PDF
    max_paragraphs: int = 50_000  # DOCX
    max_text_chars: int = 2_000_000  # the text a file converts to


def _too_large(what: str, limit: int, setting: str) -> ConversionError:
    return ConversionError(
        f"{what}, over the limit of {limit} (knowledge.parsing.{setting})", code="too_large"
    )


def _text(data: bytes, limits: Limits | None = None) -> str:
    if b"\x00" in data[:8192]:
        raise ConversionError("looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConversionError(f"not valid UTF-8 text (byte {exc.start})") from exc


# Page furniture dropped before the main content is looked for: elements of these kinds,
# roles, or with an id or class named so (a whole name, or its last part: "mdbook-help-
# container", "site-footer"; blocks only: mdBook's heading links are <a class="header">),
# unless they hold the page's <main> or <article>.
_CHROME_TAGS = ("nav", "footer", "aside", "menu", "dialog", "button", "svg")
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "dialog", "menu",
                           "menubar", "complementary"})  # fmt: skip
_NAMED_BLOCKS = frozenset({"div", "section", "ul", "ol", "span", "table", "form", "details"})
_CHROME_NAMES = re.compile(
    r"^(?:[\w-]+[-_])?(?:nav|navbar|navigation|menu|menu-bar|menubar|sidebar|side-bar|toc|"
    r"table-of-contents|breadcrumbs?|footer|header|overlay|modal|popup|help-container|"
    r"help-popup|cookies?|cookie-banner|cookie-consent|skip-link|searchbar|search-wrapper|"
    r"edit-link|page-nav|pagination)$",
    re.IGNORECASE,
)


def _html(data: bytes, limits: Limits) -> str:
    """An HTML page's title and main content as Markdown. The main content is found by
    trafilatura (navigation, menus, sidebars, overlays such as mdBook's keyboard help, and
    footers left out); when it finds none, the page less its <nav>, <header>, <footer>,
    <aside> and the elements named or marked as such is read instead. Headings are kept.
    The page's own first heading is its title, else its <title> (or og:title)."""
    from bs4 import BeautifulSoup

    text = _text(data)
    if "<" not in text:
        raise ConversionError("no HTML markup found")
    soup = BeautifulSoup(text, "html.parser")
    og_title = soup.find("meta", attrs={"property": "og:title"})
    title = (og_title.get("content") if og_title is not None else None) or (
        soup.title.get_text(" ", strip=True) if soup.title else ""
    )
    for element in soup(["script", "style", "noscript", "template", "head"]):
        element.decompose()
    mark_hidden_html(soup)  # hidden text stays, marked, for the screen to quarantine
    _drop_chrome(soup)
    markdown = _main_content(str(soup)) or _markdown(soup)
    markdown = re.sub(r"\n{3,}", "\n\n", markdown).strip()
    if title and not re.search(r"^ {0,3}# ", _outside_fences(markdown), re.M):
        markdown = f"# {' '.join(str(title).split())}\n\n{markdown}"
    return markdown


def _main_content(page: str) -> str:
    import trafilatura

    found = trafilatura.extract(
        page,
        output_format="markdown",
        include_formatting=True,
        include_tables=True,
        include_links=False,
        include_images=False,
        include_comments=False,
        favor_recall=True,
        deduplicate=False,
        with_metadata=False,
    )
    if not found:
        return ""
    # The hidden-text marks are text to the extractor, which escapes their "<".
    return re.sub(r"\\<!-- hidden \(", "<!-- hidden (", found)


def _drop_chrome(soup: Any) -> None:
    content = ("main", "article")
    for element in soup.find_all(True):
        if element.decomposed or element.name in ("html", "body", *content):
            continue
        names = [str(element.get("id") or ""), *(element.get("class") or [])]
        chrome = (
            element.name in _CHROME_TAGS
            or str(element.get("role") or "").lower() in _CHROME_ROLES
            or (element.name in _NAMED_BLOCKS and any(_CHROME_NAMES.match(n) for n in names if n))
            or (element.name == "header" and element.find_parent(content) is None
                and element.find("h1") is None)
        )  # fmt: skip
        if chrome and element.find(content) is None:
            element.decompose()


def _markdown(soup: Any) -> str:
    from markdownify import MarkdownConverter

    main = soup.find("main") or soup.find(attrs={"role": "main"}) or soup.find("article")
    return str(MarkdownConverter(heading_style="ATX").convert_soup(main or soup))


def _outside_fences(markdown: str) -> str:
    return re.sub(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", "", markdown, flags=re.M | re.S)


def _pdf(data: bytes, limits: Limits) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    pages: list[str] = []
    try:
        reader = PdfReader(io.BytesIO(data))
        if len(reader.pages) > limits.max_pages:
            raise _too_large(f"{len(reader.pages)} pages", limits.max_pages, "max_pages")
        size = 0
        for page in reader.pages:
            pages.append(page.extract_text() or "")
            size += len(pages[-1])
            if size > limits.max_text_chars:  # stop reading, not just refuse at the end
                raise _too_large(
                    f"at least {size} characters of text", limits.max_text_chars, "max_text_chars"
                )
    except ConversionError:
        raise
    except PyPdfError as exc:  # pypdf's own limits: streams that inflate too far, huge arrays
        limit = type(exc).__name__ == "LimitReachedError"
        code = "decompression_bomb" if limit and "decompress" in str(exc).lower() else None
        code = code or ("too_large" if limit else "unreadable_file")
        raise ConversionError(f"unreadable PDF ({exc})", code=code) from exc
    except (ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise ConversionError(f"unreadable PDF ({exc})") from exc
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise ConversionError(
            "the PDF has no extractable text (scanned images need OCR)", code="empty_file"
        )
    return text


# A DOCX part larger than this unpacked must keep to max_compression_ratio; smaller ones
# (styles, settings) may compress better harmlessly.
_RATIO_GRACE_BYTES = 1024 * 1024
_MAX_PARTS = 10_000
# Encodings in which "<!DOCTYPE" can only be written as those ASCII bytes (codecs' names).
_SCANNABLE = frozenset({"utf-8", "ascii", "iso8859-1", "cp1252"})
_MEDIA = ("image/", "audio/", "video/")
_DECLARED_ENCODING = re.compile(rb"(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding=[\"']([A-Za-z0-9._-]+)")


def _check_package(data: bytes, limits: Limits) -> None:
    """Refuse a DOCX before python-docx unpacks it: its size and each large part's compression
    ratio from the zip directory (zipfile stops at the declared size, so the directory cannot
    lie about it), then any XML part that declares a DTD. OOXML has no use for one and Word
    refuses them; a DTD is how an XML entity bomb (billion laughs) is written."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ConversionError(f"unreadable DOCX ({exc})") from exc
    if len(entries) > _MAX_PARTS:
        raise ConversionError(f"a DOCX of {len(entries)} parts, over {_MAX_PARTS}",
                              code="decompression_bomb")  # fmt: skip
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > limits.max_unpacked_bytes:
        raise ConversionError(
            f"unpacks to {unpacked} bytes, over the limit of {limits.max_unpacked_bytes} "
            "(knowledge.parsing.max_unpacked_bytes)",
            code="decompression_bomb",
        )
    for entry in entries:
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > _RATIO_GRACE_BYTES and ratio > limits.max_compression_ratio:
            raise ConversionError(
                f"{entry.filename} unpacks to {ratio:.0f} times its packed size, over the "
                f"limit of {limits.max_compression_ratio:g} "
                "(knowledge.parsing.max_compression_ratio)",
                code="decompression_bomb",
            )
    types = _content_types(archive)
    for entry in entries:
        kind = types(entry.filename)
        if not (kind.startswith(_MEDIA) and not kind.endswith("xml")) and not entry.is_dir():
            _refuse_dtd(archive, entry)


def _content_types(archive: zipfile.ZipFile) -> Callable[[str], str]:
    """A part name's content type, from [Content_Types].xml (checked for a DTD first)."""
    from lxml import etree  # type: ignore[import-untyped]

    try:
        entry = archive.getinfo("[Content_Types].xml")
    except KeyError:
        raise ConversionError("unreadable DOCX (no [Content_Types].xml)") from None
    _refuse_dtd(archive, entry)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(archive.read(entry), parser)
    except (etree.XMLSyntaxError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ConversionError(f"unreadable DOCX ([Content_Types].xml: {exc})") from exc
    defaults: dict[str, str] = {}
    overrides: dict[str, str] = {}
    for element in root:
        tag = str(element.tag).rsplit("}", 1)[-1]
        if tag == "Default":
            defaults[str(element.get("Extension", "")).lower()] = str(
                element.get("ContentType", "")
            )
        elif tag == "Override":
            overrides[str(element.get("PartName", "")).lstrip("/")] = str(
                element.get("ContentType", "")
            )

    def content_type(name: str) -> str:
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        return overrides.get(name) or defaults.get(extension, "")

    return content_type


def _refuse_dtd(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> None:
    unsafe = "unsafe_xml"
    try:
        with archive.open(entry) as part:
            head = part.read(1024)
            declared = _DECLARED_ENCODING.match(head)
            try:
                name = codecs.lookup(declared.group(1).decode("ascii")).name if declared else ""
            except LookupError:
                name = "unknown"
            if (
                b"\x00" in head[:4]
                or head[:2] in (b"\xff\xfe", b"\xfe\xff")
                or (name and name not in _SCANNABLE)
            ):
                raise ConversionError(
                    f"{entry.filename} is XML in an encoding this reader refuses "
                    "(Word writes UTF-8)",
                    code=unsafe,
                )
            window = head
            while window:
                if b"<!DOCTYPE" in window or b"<!ENTITY" in window:
                    raise ConversionError(
                        f"{entry.filename} declares a DTD (<!DOCTYPE or <!ENTITY): XML "
                        "entities are refused, a DOCX never needs them",
                        code=unsafe,
                    )
                more = part.read(1024 * 1024)
                window = window[-16:] + more if more else b""
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise ConversionError(f"unreadable DOCX ({entry.filename}: {exc})") from exc


def _docx(data: bytes, limits: Limits) -> str:
    from docx import Document
    from docx.enum.style import WD_STYLE_TYPE
    from docx.opc.exceptions import PackageNotFoundError
    from docx.oxml.ns import qn
    from lxml import etree

    _check_package(data, limits)
    try:
        document = Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, etree.LxmlError,
            OSError, EOFError) as exc:  # fmt: skip
        raise ConversionError(f"unreadable DOCX ({exc})") from exc
    count = sum(1 for _ in document.element.body.iter(qn("w:p")))
    if count > limits.max_paragraphs:
        raise _too_large(f"{count} paragraphs", limits.max_paragraphs, "max_paragraphs")
    # Style names looked up once: python-docx's paragraph.style searches styles.xml each
    # time (with Word's default styles, 2,000 paragraphs took 16 s on a busy 2-core machine).
    names = {style.style_id: style.name or "" for style in document.styles}
    default = document.styles.default(WD_STYLE_TYPE.PARAGRAPH)
    default_name = (default.name if default is not None else "") or ""
    lines = []
    size = 0
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        size += len(text)
        if size > limits.max_text_chars:
            raise _too_large(
                f"at least {size} characters of text", limits.max_text_chars, "max_text_chars"
            )
        style_id = paragraph._p.style  # the w:pStyle value; no public accessor without lookup
        style = names.get(style_id, default_name) if style_id is not None else default_name
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


CONVERTERS: dict[str, Callable[[bytes, Limits], str]] = {
    ".md": _text,
    ".markdown": _text,
    ".txt": _text,
    ".html": _html,
    ".htm": _html,
    ".pdf": _pdf,
    ".docx": _docx,
}


# C0 controls but tab, line feed and carriage return, and DEL: PDFs hand them through from
# their strings, a text file may hold a NUL past the binary sniff, and PostgreSQL refuses a
# NUL in text (the whole upload would fail). A vertical tab or form feed is a line or page
# break in PDFs and Word, so it becomes a line break rather than glue between two words.
_LINE_BREAKS = str.maketrans({"\x0b": "\n", "\x0c": "\n"})
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]+")


def without_controls(text: str) -> str:
    return _CONTROLS.sub("", text.translate(_LINE_BREAKS))


# Read in this process: decoding text is linear and cheap; the others go to a child process.
TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt"})


def convert(name: str, data: bytes, limits: Limits | None = None) -> str:
    limits = limits or Limits()
    suffix = PurePath(name).suffix.lower()
    converter = CONVERTERS.get(suffix)
    if converter is None:
        known = ", ".join(sorted(CONVERTERS))
        raise ConversionError(
            f"unsupported file type {suffix or '(none)'!r}; supported: {known}",
            code="unsupported_type",
        )
    if len(data) > limits.max_file_bytes:
        raise _too_large(f"{len(data)} bytes", limits.max_file_bytes, "max_file_bytes")
    text = without_controls(converter(data, limits))
    if len(text) > limits.max_text_chars:
        raise _too_large(f"{len(text)} characters of text", limits.max_text_chars, "max_text_chars")
    return text
