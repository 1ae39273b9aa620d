"""`frontdesk ops setup` on a copy of the demo workspace: the files and what was assumed, a
zip, a proposal kept as a plan, and a readable refusal."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from typer.testing import CliRunner

from frontdesk.cli.main import app
from tests.ops.conftest import tree_bytes

runner = CliRunner()


def test_ops_setup(workspace: Path, tmp_path: Path) -> None:
    ws = str(workspace)
    target = workspace / "ops" / "target"
    before = tree_bytes(target)
    described = "a depot in Clifden, cut-off 15:30, served by An Post"
    shown = runner.invoke(app, ["ops", "setup", "-w", ws, described])
    assert shown.exit_code == 0, shown.output
    assert "elements/depots/D31.yaml" in shown.output
    assert "cutoff: '15:30'" in shown.output
    assert "region: Connacht" in shown.output
    assert re.search(r"^assumed:", shown.output, re.M), shown.output
    assert "capacity_per_hour" in shown.output

    archive = tmp_path / "starter.zip"
    zipped = runner.invoke(app, ["ops", "setup", "-w", ws, "--zip", str(archive),
                                 "a depot in Clifden, cut-off 15:30"])  # fmt: skip
    assert zipped.exit_code == 0, zipped.output
    with zipfile.ZipFile(archive) as opened:
        assert "elements/depots/D31.yaml" in opened.namelist()

    proposed = runner.invoke(app, ["ops", "setup", "-w", ws, "--propose",
                                   "a depot in Clifden, cut-off 15:30"])  # fmt: skip
    assert proposed.exit_code == 0, proposed.output
    match = re.search(r"^plan ([0-9a-f]{32})  planned", proposed.output, re.M)
    assert match, proposed.output
    assert tree_bytes(target) == before
    listed = runner.invoke(app, ["ops", "list", "-w", ws])
    assert f"{match.group(1)}  planned" in listed.output

    unclear = runner.invoke(app, ["ops", "setup", "-w", ws, "make it nice"])
    assert unclear.exit_code == 1
    assert "error:" in unclear.output
    assert "depot" in unclear.output
    assert "Traceback" not in unclear.output


def test_ops_chat_recognises_a_setup_request(workspace: Path) -> None:
    asked = runner.invoke(app, ["ops", "chat", "-w", str(workspace),
                                "set up a depot in Clifden with cut-off 15:30"])  # fmt: skip
    assert asked.exit_code == 0, asked.output
    assert "elements/depots/D31.yaml" in asked.output
    assert "frontdesk ops setup --propose" in asked.output
