from __future__ import annotations

import shutil
from importlib.resources import as_file, files
from pathlib import Path

import pytest


@pytest.fixture
def target_dir(tmp_path: Path) -> Path:
    """A copy of the demo's target system (Kestrel's sorting network) to change."""
    with as_file(files("frontdesk") / "demo" / "workspace" / "ops" / "target") as source:
        shutil.copytree(source, tmp_path / "target")
    return tmp_path / "target"


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under root but the history, by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".history" not in p.parts
    }
