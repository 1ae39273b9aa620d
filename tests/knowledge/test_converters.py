from __future__ import annotations

import pytest

from frontdesk.knowledge.converters import ConversionError, convert
from frontdesk.knowledge.ingest import IngestError, parse_source
from tests.knowledge.files import HTML, docx_bytes, pdf_bytes


def test_markdown_and_text() -> None:
    assert convert("a.md", b"# Title\n\nbody") == "# Title\n\nbody"
    assert convert("a.txt", "\ufeffplain".encode()) == "plain"  # BOM dropped


def test_html_keeps_headings_and_drops_scripts() -> None:
    text = convert("fees.html", HTML)
    assert text.startswith("# Customs fees")
    assert "## Who pays" in text
    assert "**recipient**" in text
    assert "alert(1)" not in text
    assert "color:red" not in text


def test_pdf_text_is_extracted() -> None:
    text = convert("guide.pdf", pdf_bytes(["Returns guide", "Send items back within 30 days."]))
    assert "Returns guide" in text
    assert "within 30 days" in text


def test_docx_headings_become_markdown() -> None:
    data = docx_bytes("Safe place", [("Choosing a place", "A porch or a shed works well.")])
    text = convert("safe.docx", data)
    assert text.splitlines()[0] == "# Safe place"
    assert "## Choosing a place" in text
    assert "porch" in text


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf", "unreadable PDF"),
        ("empty.pdf", pdf_bytes([]), "no extractable text"),
        ("broken.docx", b"PK\x03\x04 not a zip", "unreadable DOCX"),
        ("image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        ("latin1.txt", "caf\xe9".encode("latin-1"), "not valid UTF-8"),
        ("photo.png", b"\x89PNG", "unsupported file type '.png'"),
        ("page.html", b"no markup at all", "no HTML markup"),
    ],
)
def test_bad_files_give_a_reason(name: str, data: bytes, message: str) -> None:
    with pytest.raises(ConversionError, match=message):
        convert(name, data)


def test_parse_source_names_the_file() -> None:
    with pytest.raises(IngestError, match=r"^broken.pdf: unreadable PDF"):
        parse_source("broken.pdf", b"%PDF-1.4 nope")
    parsed = parse_source("guide.pdf", pdf_bytes(["Returns guide", "Within 30 days."]))
    assert parsed.doc_type == "document"
    assert parsed.title == "Guide"
