"""Control characters inside uploaded documents' text (issue 17): a NUL in extracted text would
fail PostgreSQL's insert (it refuses U+0000 in text), so it and the other C0 controls except
tab, newline and carriage return are dropped before storage. Each file ingests, on SQLite and
PostgreSQL alike, and the stored passages hold none of them."""

from __future__ import annotations

import re

import httpx

from frontdesk.knowledge.converters import convert
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope
from tests.api.test_knowledge_api import _key, _wait
from tests.knowledge.files import pdf_bytes

CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
FILLER = "Opening hours are listed on the depot page. " * 220  # past the 8 KiB binary sniff

# pypdf hands NUL and other controls inside a PDF string through as they are.
PDF = pdf_bytes(
    ["Zebra mugs \x00 can be returned\x07 within 30", "days \x1b of delivery.\x0cPage two"]
)
# Text files are refused as binary only for a NUL in their first 8 KiB.
MARKDOWN = f"# Ostrich depot\n\n{FILLER}\n\nThe ostrich \x00depot opens\x01 at eight.\n"
HTML = f"<html><body><h1>Walrus</h1><p>{FILLER}</p><p>Walrus figurines \x00are insured\x02.</p>"


async def test_documents_with_control_characters_ingest_without_them(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    admin = await _key(runtime, Scope.ADMIN)
    batch = [
        ("files", ("zebra.pdf", PDF, "application/pdf")),
        ("files", ("ostrich.md", MARKDOWN.encode(), "text/markdown")),
        ("files", ("walrus.html", HTML.encode(), "text/html")),
    ]
    accepted = await client.post("/v1/knowledge/documents", files=batch, headers=admin)
    assert accepted.status_code == 202, accepted.text
    job = await _wait(client, accepted.json()["job_id"], admin)
    assert job["status"] == "done", job
    result = job["result"]
    assert sorted(result["added"]) == [
        "upload/ostrich.md",
        "upload/walrus.html",
        "upload/zebra.pdf",
    ]
    assert result["rejected"] == [], result["rejected"]

    for query, source in [
        ("zebra mugs returned", "upload/zebra.pdf"),
        ("ostrich depot opens at eight", "upload/ostrich.md"),
        ("walrus figurines insured", "upload/walrus.html"),
    ]:
        found = await client.get("/v1/knowledge/search", params={"q": query}, headers=admin)
        assert found.status_code == 200, found.text
        passages = [p for p in found.json()["passages"] if p["source"] == source]
        assert passages, (query, found.json())
        for passage in passages:
            assert not CONTROLS.search(passage["text"]), passage["text"]


def test_the_converters_drop_controls_and_keep_tabs_and_line_breaks() -> None:
    text = convert("a.txt", f"{FILLER}a\x00b\tc\r\nd\x0be\x0cf\x1bg\x7fh".encode())
    # A vertical tab or form feed (a line or page break in PDFs and Word) is a line break.
    assert text.endswith("ab\tc\r\nd\ne\nfgh")
