from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from frontdesk.cli.main import app
from tests.knowledge.files import HTML, pdf_bytes

runner = CliRunner()


def test_kb_lint_exit_codes(workspace: Path, tmp_path: Path) -> None:
    clean = runner.invoke(app, ["kb", "lint", "-w", str(workspace)])
    assert clean.exit_code == 0, clean.output
    assert "45 atoms checked: 0 errors" in clean.output

    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "bad.md").write_text("---\ntitle: x\ntype: faq\n---\nbody\n")
    bad = runner.invoke(app, ["kb", "lint", str(folder)])
    assert bad.exit_code == 1
    assert f"{folder / 'bad.md'}:1: error: missing author, created, version" in bad.output
    assert "1 errors" in bad.output
    assert "0 files would be indexed, 1 rejected" in bad.output


def test_kb_ingest_and_search(workspace: Path, tmp_path: Path) -> None:
    docs = tmp_path / "manuals"
    docs.mkdir()
    (docs / "customs.html").write_bytes(HTML)
    (docs / "returns.pdf").write_bytes(pdf_bytes(["Returns", "Unwanted zebra mugs go back free."]))
    (docs / "corrupt.pdf").write_bytes(b"%PDF-1.4 nope")
    (docs / "program.bin").write_bytes(b"\x7fELF\x00\x00")

    result = runner.invoke(app, ["kb", "ingest", str(docs), "-w", str(workspace)])
    assert result.exit_code == 1, result.output  # rejected files fail the run
    assert "2 added, 0 updated, 0 unchanged, 0 removed" in result.output
    assert f"rejected: {docs / 'corrupt.pdf'}: unreadable PDF" in result.output
    assert "rejected: " + str(docs / "program.bin") not in result.output  # not a document
    assert "not read: 1 files that are not documents (.bin 1)" in result.output
    assert (
        "2 files indexed (0 unchanged), 0 skipped as duplicates, 1 not documents, 1 rejected"
        in result.output
    )
    assert "kb lint" not in result.output  # the hint is for atoms' metadata only

    again = runner.invoke(app, ["kb", "ingest", str(docs), "-w", str(workspace), "--strict"])
    assert again.exit_code == 1  # --strict is still accepted: it is the default now
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


GOOD = """---
title: {title}
author: Support
type: faq
created: {created}
version: {version}
---
{body}
"""


def test_kb_ingest_names_each_rejected_file_once_and_indexes_the_rest(
    workspace: Path, tmp_path: Path
) -> None:
    docs = tmp_path / "atoms"
    docs.mkdir()
    (docs / "mugs.md").write_text(
        GOOD.format(title="Zebra mug returns", created="2024-03-05", version="1.10",
                    body="Unwanted zebra mugs go back free within 30 days.")
    )  # fmt: skip
    (docs / "walrus.md").write_text(
        GOOD.format(title="Walrus insurance", created='"2024-03-05T10:00:00Z"', version="3",
                    body="Kestrel Protect covers walrus figurines up to 1000 pounds.")
    )  # fmt: skip
    (docs / "pelican.md").write_text(
        GOOD.format(title="Pelican crates", created="2024-03-05", version="1.2",
                    body="Pelican crates ship flat.").replace("type: faq", "type: recipe")
    )  # fmt: skip

    # The real command, as an operator runs it (its warnings reach the terminal too).
    frontdesk = Path(sys.executable).parent / "frontdesk"
    result = subprocess.run(
        [str(frontdesk), "kb", "ingest", "atoms", "-w", str(workspace)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert output.count("pelican.md") == 1, output  # named once, not twice
    assert "rejected: atoms/pelican.md:4: type: Input should be" in output
    assert "supported file types" not in output  # .md is supported: not the problem
    assert "(check atoms before indexing: frontdesk kb lint atoms)" in output
    assert (
        "2 files indexed (0 unchanged), 0 skipped as duplicates, 0 not documents, 1 rejected"
        in result.stdout
    )
    assert "--allow-rejects" in result.stderr
    assert "Traceback" not in output

    for query, source in (("zebra mugs", "atoms/mugs.md"), ("walrus figurines", "atoms/walrus.md")):
        found = runner.invoke(app, ["kb", "search", query, "-w", str(workspace)])
        assert found.exit_code == 0, found.output
        assert source in found.output
    pelican = runner.invoke(app, ["kb", "search", "pelican crates", "-w", str(workspace)])
    assert "atoms/pelican.md" not in pelican.output

    allowed = runner.invoke(
        app, ["kb", "ingest", str(docs), "-w", str(workspace), "--allow-rejects"]
    )
    assert allowed.exit_code == 0, allowed.output
    assert allowed.output.count("pelican.md") == 1  # still listed
    assert (
        "2 files indexed (2 unchanged), 0 skipped as duplicates, 0 not documents, 1 rejected"
        in allowed.output
    )

    lint = runner.invoke(app, ["kb", "lint", str(docs)])
    assert lint.exit_code == 1
    assert f"{docs / 'pelican.md'}:4: error: type:" in lint.output
    assert "2 files would be indexed, 1 rejected" in lint.output


def test_kb_ingest_of_nothing_fails(workspace: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    (empty / ".cache").mkdir(parents=True)
    (empty / ".cache" / "x.md").write_text("hidden files are not read")
    result = runner.invoke(app, ["kb", "ingest", str(empty), "-w", str(workspace)])
    assert result.exit_code == 1
    assert f"error: {empty}: no files to index (the folder is empty); nothing changed" in (
        " ".join(result.output.split())
    )
    lint = runner.invoke(app, ["kb", "lint", str(empty)])
    assert lint.exit_code == 1
    assert "no files to check" in lint.output

    # Every file rejected: nothing indexed is a failure even with --allow-rejects.
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.md").write_text("---\ntitle: [x\n---\nText.\n")
    only_bad = runner.invoke(
        app, ["kb", "ingest", str(bad), "-w", str(workspace), "--allow-rejects"]
    )
    assert only_bad.exit_code == 1
    assert (
        "0 files indexed (0 unchanged), 0 skipped as duplicates, 0 not documents, 1 rejected"
        in only_bad.output
    )
    assert f"nothing was indexed from {bad}" in " ".join(only_bad.output.split())
