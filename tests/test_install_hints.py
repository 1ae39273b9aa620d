"""Install hints name the command that works for this copy of frontdesk."""

from __future__ import annotations

from pathlib import Path

import pytest

from frontdesk import errors


def test_a_clone_gets_the_editable_install_into_its_venv() -> None:
    root = Path(errors.__file__).resolve().parents[2]
    assert errors.install_extra("voice") == f".venv/bin/uv pip install -e '.[voice]' (in {root})"


def test_an_installed_package_gets_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site-packages" / "frontdesk"
    site.mkdir(parents=True)
    monkeypatch.setattr(errors, "__file__", str(site / "errors.py"))
    assert errors.install_extra("celery") == "pip install 'frontdesk[celery]'"
