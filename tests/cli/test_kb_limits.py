"""`kb ingest` and `kb lint` on hostile files (issue 17, point 4): each named once with its
code, the good file indexed, exit 1 as for any rejected file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from frontdesk.cli.main import app
from tests.knowledge.files import entity_bomb_docx, paragraphs_docx

runner = CliRunner()


def test_kb_ingest_skips_bomb_files_with_their_codes(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTDESK_KNOWLEDGE__PARSING__MAX_FILE_BYTES", "60000")
    docs = tmp_path / "manuals"
    docs.mkdir()
    (docs / "ostrich.txt").write_text("The ostrich depot opens at eight.")
    (docs / "laughs.docx").write_bytes(entity_bomb_docx())
    (docs / "small.docx").write_bytes(paragraphs_docx(100_000))  # 45 KB, unpacks 300 times
    (docs / "huge.txt").write_text("words " * 12_000)  # 72 KB, over 60,000 bytes

    result = runner.invoke(app, ["kb", "ingest", str(docs), "-w", str(workspace)])
    output = " ".join(result.output.split())
    assert result.exit_code == 1, result.output
    for name, code in (
        ("laughs.docx", "unsafe_xml"),
        ("small.docx", "decompression_bomb"),
        ("huge.txt", "too_large"),
    ):
        assert output.count(name) == 1, output
        assert f"[{code}]" in output.split(name, 1)[1].split("rejected:")[0], output
    assert (
        "1 files indexed (0 unchanged), 0 skipped as duplicates, 0 not documents, 3 rejected"
        in output
    )
    assert "Traceback" not in output
    found = runner.invoke(app, ["kb", "search", "ostrich depot", "-w", str(workspace)])
    assert "manuals/ostrich.txt" in found.output

    lint = runner.invoke(app, ["kb", "lint", str(docs), "-w", str(workspace)])
    assert lint.exit_code == 1
    assert "1 files would be indexed, 3 rejected" in " ".join(lint.output.split())
