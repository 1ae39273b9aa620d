"""`frontdesk transcribe FILE` with the demo workspace's voice settings."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from frontdesk.cli.main import app
from tests.conftest import DEMO, require
from tests.speech.samples import DATA, INSTALLED, NOT_INSTALLED

runner = CliRunner()


def test_transcribe_prints_what_the_voice_channel_hears() -> None:
    require(INSTALLED, NOT_INSTALLED)
    result = runner.invoke(app, ["transcribe", str(DATA / "order.flac"), "-w", str(DEMO)])
    assert result.exit_code == 0, result.output
    assert "KP-20481736" in result.output  # the demo's prompt gives the order-number format
    assert "language=en audio 6.6 s" in result.output


def test_transcribe_says_what_is_wrong_with_the_file(tmp_path: Path) -> None:
    require(INSTALLED, NOT_INSTALLED)
    (tmp_path / "note.txt").write_text("not a recording")
    result = runner.invoke(app, ["transcribe", str(tmp_path / "note.txt"), "-w", str(DEMO)])
    assert result.exit_code == 1
    assert "not decodable audio" in result.output
    assert "Traceback" not in result.output


def test_without_the_extra_it_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # PyAV missing, as without the extra
    result = runner.invoke(app, ["transcribe", str(DATA / "refund.wav"), "-w", str(DEMO)])
    assert result.exit_code == 1
    # From the clone the hint is the clone's install command, not eaten as rich markup.
    assert ".venv/bin/uv pip install -e '.[voice]'" in result.output
