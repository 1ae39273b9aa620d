from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from frontdesk.cli.main import app
from tests.knowledge.files import HTML, pdf_bytes

runner = CliRunner()


def test_kb_lint_exit_codes(workspace: Path, tmp_path: Path) -> None:
    clean = runner.invoke(app, ["kb", "lint", "-w", str(workspace)])
    assert clean.exit_code == 0, clean.output
    assert "45 atoms checked: 0 errors" in clean.output

    (tmp_path / "bad.md").write_text("---\ntitle: x\n---\nbody\n")
    bad = runner.invoke(app, ["kb", "lint", str(tmp_path)])
    assert bad.exit_code == 1
    assert f"{tmp_path / 'bad.md'}:" in bad.output
    assert "1 errors" in bad.output


def test_kb_ingest_and_search(workspace: Path, tmp_path: Path) -> None:
    docs = tmp_path / "manuals"
    docs.mkdir()
    (docs / "customs.html").write_bytes(HTML)
    (docs / "returns.pdf").write_bytes(pdf_bytes(["Returns", "Unwanted zebra mugs go back free."]))
    (docs / "corrupt.pdf").write_bytes(b"%PDF-1.4 nope")
    (docs / "program.bin").write_bytes(b"\x7fELF\x00\x00")

    result = runner.invoke(app, ["kb", "ingest", str(docs), "-w", str(workspace)])
    assert result.exit_code == 0, result.output
    assert "2 added, 0 updated, 0 unchanged, 0 removed" in result.output
    assert "skipped: manuals/corrupt.pdf: unreadable PDF" in result.output
    assert "skipped: manuals/program.bin: unsupported file type '.bin'" in result.output

    again = runner.invoke(app, ["kb", "ingest", str(docs), "-w", str(workspace), "--strict"])
    assert again.exit_code == 1  # --strict: the skipped files fail the run
    assert "0 added, 0 updated, 2 unchanged, 0 removed" in again.output

    found = runner.invoke(app, ["kb", "search", "zebra mugs", "-w", str(workspace)])
    assert found.exit_code == 0, found.output
    assert "manuals/returns.pdf" in found.output
    typed = runner.invoke(
        app, ["kb", "search", "zebra mugs", "-w", str(workspace), "--type", "faq", "--limit", "3"]
    )
    assert "manuals/returns.pdf" not in typed.output


def test_kb_ingest_missing_folder_is_one_line(workspace: Path) -> None:
    result = runner.invoke(app, ["kb", "ingest", str(workspace / "nope"), "-w", str(workspace)])
    assert result.exit_code == 1
    assert "not a folder" in result.output
    assert "Traceback" not in result.output
