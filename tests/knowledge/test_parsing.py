"""Reading hostile files: size, decompression, entity and time limits (issue 17, point 4).
The bomb files are built here with zipfile; none is committed."""

from __future__ import annotations

import os
import zipfile

import pytest

from frontdesk.config.settings import ParsingSettings
from frontdesk.knowledge.converters import ConversionError, Limits, convert
from frontdesk.knowledge.ingest import IngestError, parse_source
from frontdesk.knowledge.parsing import DocumentParser, limits_of
from tests.knowledge.files import (
    docx_bytes,
    docx_with_body,
    entity_bomb_docx,
    paragraphs_docx,
    pdf_bytes,
)

PARAGRAPH = b"<w:p><w:r><w:t>%s</w:t></w:r></w:p>"


@pytest.fixture(scope="module")
def hundred_thousand_paragraphs() -> bytes:
    return paragraphs_docx(100_000)


def _code(name: str, data: bytes, limits: Limits | None = None) -> str:
    with pytest.raises(ConversionError) as caught:
        convert(name, data, limits)
    return caught.value.code


def test_the_limits_default_to_the_settings_defaults() -> None:
    assert limits_of(ParsingSettings()) == Limits()


def test_an_entity_bomb_is_refused_before_any_xml_parser_reads_it() -> None:
    with pytest.raises(ConversionError, match=r"word/document.xml declares a DTD") as caught:
        convert("bomb.docx", entity_bomb_docx())
    assert caught.value.code == "unsafe_xml"


@pytest.mark.parametrize(
    "declaration",
    [
        # "<!DOCTYPE" would not be these bytes: the scan could not see it.
        b'<?xml version="1.0" encoding="UTF-7"?>',
        b'<?xml version="1.0" encoding="utf-16"?>',
        b'<?xml version="1.0" encoding="no-such-charset"?>',
    ],
)
def test_xml_in_an_encoding_the_check_cannot_read_is_refused(declaration: bytes) -> None:
    data = docx_with_body(PARAGRAPH % b"hello")
    patched = _replace_part(
        data, "word/document.xml", lambda xml: declaration + xml[xml.index(b"?>") + 2 :]
    )
    assert _code("odd.docx", patched) == "unsafe_xml"


def test_a_dtd_in_any_xml_part_counts_not_only_the_document() -> None:
    data = docx_bytes("Fine", [("Section", "Text.")])
    patched = _replace_part(
        data,
        "word/styles.xml",
        lambda xml: xml.replace(b"?>", b'?><!DOCTYPE x [<!ENTITY a "b">]>', 1),
    )
    assert _code("styles.docx", patched) == "unsafe_xml"


def test_decompression_limits_are_read_from_the_zip_directory(
    hundred_thousand_paragraphs: bytes,
) -> None:
    # 45 KB that unpacks to 3.4 MB: the compression ratio (over 300) gives it away.
    assert len(hundred_thousand_paragraphs) < 100_000
    with pytest.raises(ConversionError, match=r"unpacks to \d+ times its packed size"):
        convert("small.docx", hundred_thousand_paragraphs)
    # A part of zeros: 8 MiB for about 8 KB.
    padded = docx_with_body(PARAGRAPH % b"hello", extra={"word/media/pad.bin": bytes(8 << 20)})
    assert _code("padded.docx", padded) == "decompression_bomb"
    # All parts together, whatever their ratio.
    fine = docx_bytes("Fine", [("Section", "Text.")])
    assert _code("fine.docx", fine, Limits(max_unpacked_bytes=10_000)) == "decompression_bomb"
    assert "Text." in convert("fine.docx", fine)


def test_size_page_paragraph_and_text_limits() -> None:
    with pytest.raises(ConversionError, match=r"60 paragraphs, over the limit of 50 ") as caught:
        convert("long.docx", paragraphs_docx(60), Limits(max_paragraphs=50))
    assert caught.value.code == "too_large"
    assert _code("a.pdf", pdf_bytes(["one page"]), Limits(max_pages=0)) == "too_large"
    text = "A sentence of the help article.\n" * 100
    assert _code("long.txt", text.encode(), Limits(max_text_chars=1000)) == "too_large"
    assert _code("long.pdf", pdf_bytes([text[:200]]), Limits(max_text_chars=100)) == "too_large"
    docx = docx_bytes("Long", [("Part", text)])
    assert _code("long.docx", docx, Limits(max_text_chars=1000)) == "too_large"
    assert _code("big.md", b"x" * 2000, Limits(max_file_bytes=1000)) == "too_large"


def test_docx_headings_survive_the_faster_style_lookup() -> None:
    data = docx_bytes("Safe place", [("Choosing a place", "A porch works."), ("Sheds", "Fine.")])
    assert convert("safe.docx", data) == (
        "# Safe place\n\n## Choosing a place\n\nA porch works.\n\n## Sheds\n\nFine."
    )


def test_front_matter_aliases_and_size_are_refused() -> None:
    # Each level of aliases multiplies by nine: nine levels make 387 million strings once the
    # metadata is stored; five (59,049) are enough to show they are refused.
    lines = ["---", "title: T", "author: a", "type: faq", "created: 2024-01-01", "version: 1"]
    lines.append('x0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]')
    lines += [f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 5)]
    bomb = "\n".join([*lines, "---", "Body."]).encode()
    with pytest.raises(IngestError, match=r"aliases \(\*name\) are not allowed") as caught:
        parse_source("laughs.md", bomb)
    assert (caught.value.code, caught.value.line) == ("invalid_front_matter", 8)

    long = "\n".join([*lines[:6], *(f"k{i}: value {i}" for i in range(2000)), "---", "Body."])
    with pytest.raises(IngestError, match=r"front matter of \d+ characters, over 16384"):
        parse_source("long.md", long.encode())


def test_a_parse_over_the_time_limit_is_killed(hundred_thousand_paragraphs: bytes) -> None:
    parser = DocumentParser(
        ParsingSettings(timeout_s=1.0, max_compression_ratio=10_000, max_paragraphs=1_000_000)
    )
    good = docx_bytes("Walrus insurance", [("Cover", "Up to 1000 pounds.")])
    try:
        assert "Up to 1000 pounds." in parser.convert_now("good.docx", good)
        (first,) = parser.worker_pids()
        with pytest.raises(ConversionError, match=r"longer than 1 s") as caught:
            parser.convert_now("slow.docx", hundred_thousand_paragraphs)
        assert caught.value.code == "parse_timeout"
        assert parser.worker_pids() == []
        with pytest.raises(ProcessLookupError):  # killed and reaped, not left running
            os.kill(first, 0)
        # The next file gets a new worker.
        assert "Up to 1000 pounds." in parser.convert_now("good.docx", good)
        assert parser.worker_pids() != [first]
        # Text is decoded here: no worker for it, and one over the size limit never gets one.
        assert parser.convert_now("note.txt", b"plain words") == "plain words"
    finally:
        parser.close()
    assert parser.worker_pids() == []


def _replace_part(data: bytes, name: str, change: object) -> bytes:
    import io

    assert callable(change)
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for info in source.infolist():
            part = source.read(info.filename)
            package.writestr(info.filename, change(part) if info.filename == name else part)
    return out.getvalue()
