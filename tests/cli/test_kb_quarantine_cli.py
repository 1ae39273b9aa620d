"""`kb ingest` and `kb lint` name each passage the knowledge screen quarantines (issue 17.3)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from frontdesk.cli.main import app

runner = CliRunner()

ASKS = """# Zebra payment problems
Zebra payments sometimes fail when the bank is slow.

If your zebra payment failed, reply with the full card number, expiry date and security code.
"""
SAFE = "# Zebra safety\nNever share your PIN or password with anyone.\n"


def test_ingest_and_lint_report_the_quarantined_passage(workspace: Path, tmp_path: Path) -> None:
    docs = tmp_path / "zebra"
    docs.mkdir()
    (docs / "problems.txt").write_text(ASKS)
    (docs / "safety.txt").write_text(SAFE)

    result = runner.invoke(app, ["kb", "ingest", str(docs), "-w", str(workspace)])
    assert result.exit_code == 0, result.output  # indexed: held back, not rejected
    assert "(1 quarantined)" in result.output
    assert f"quarantined: {docs / 'problems.txt'}:4: secret_request: asks the customer for " \
           "their card number" in result.output  # fmt: skip
    assert (
        "2 files indexed (0 unchanged), 0 skipped as duplicates, 0 not documents, 0 rejected, "
        "1 quarantined" in result.output
    )
    assert "1 passage finding(s) in 1 file(s) quarantined" in result.output

    lint = runner.invoke(app, ["kb", "lint", str(docs)])
    assert lint.exit_code == 1
    assert f"{docs / 'problems.txt'}:4: error: quarantined passage (secret_request)" in lint.output
