from __future__ import annotations

import pytest

from frontdesk.knowledge.converters import ConversionError, convert
from frontdesk.knowledge.ingest import REJECTION_CODES, IngestError, parse_source
from tests.knowledge.files import HTML, docx_bytes, pdf_bytes
from tests.knowledge.test_atoms import ATOM


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


@pytest.mark.parametrize(
    ("name", "data", "code", "line"),
    [
        ("photo.png", b"\x89PNG", "unsupported_type", None),
        ("broken.pdf", b"%PDF-1.4 nope", "unreadable_file", None),
        ("blob.md", b"\x00\x01binary", "unreadable_file", None),
        ("empty.pdf", pdf_bytes([]), "empty_file", None),
        ("blank.txt", b"  \n", "empty_file", None),
        ("open.md", b"---\ntitle: x\n", "invalid_front_matter", 1),
        ("yaml.md", b"---\ntitle: [x\nauthor: y\n---\n", "invalid_front_matter", 3),
        ("meta.md", ATOM.replace("type: faq", "type: recipe").encode(), "invalid_metadata", 4),
        # an extra field that cannot be stored as JSON text is a rejection, not a crash
        ("bytes.md", ATOM.replace("tags:", "blob: !!binary gICA\ntags:").encode(),
         "invalid_metadata", 2),
    ],
)  # fmt: skip
def test_every_rejection_has_a_stable_code(
    name: str, data: bytes, code: str, line: int | None
) -> None:
    with pytest.raises(IngestError) as caught:
        parse_source(name, data)
    assert (caught.value.code, caught.value.line) == (code, line)
    assert caught.value.code in REJECTION_CODES
    rejection = caught.value.rejection()
    assert str(rejection).startswith(f"{name}:{line}: " if line else f"{name}: ")
    assert rejection.as_dict()["code"] == code


def test_an_atoms_version_is_indexed_as_written() -> None:
    parsed = parse_source("a.md", ATOM.replace("version: 2", "version: 1.10").encode())
    assert parsed.version == "1.10"
    assert parsed.meta["version"] == "1.10"
