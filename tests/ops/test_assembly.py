"""`ops:` in frontdesk.yaml picks the target system and the ceiling (frontdesk/ops/assembly)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from frontdesk.config.workspace import Workspace, load_settings
from frontdesk.errors import ConfigError
from frontdesk.ops.assembly import build_ops, ops_settings
from frontdesk.ops.folder import FolderTarget
from frontdesk.storage.db import Database


def _workspace(root: Path, yaml: str) -> Workspace:
    root.mkdir(exist_ok=True)
    (root / "frontdesk.yaml").write_text(yaml)
    return Workspace.at(root)


def test_targets_from_settings(tmp_path: Path, target_dir: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    bare = _workspace(tmp_path / "bare", "tenant: default\n")
    assert build_ops(bare, ops_settings(load_settings(bare)), db) is None

    shutil.copytree(target_dir, tmp_path / "bare" / "ops" / "target")
    found = build_ops(bare, ops_settings(load_settings(bare)), db)
    assert found is not None
    assert found.target.name == "folder:ops/target"

    shutil.move(target_dir, tmp_path / "elsewhere" / "network")
    ws = _workspace(tmp_path / "elsewhere", "ops:\n  target: folder:network\n  max_elements: 3\n")
    plans = build_ops(ws, ops_settings(load_settings(ws)), db)
    assert plans is not None
    assert isinstance(plans.target, FolderTarget)
    assert plans.max_elements == 3

    unknown = _workspace(tmp_path / "unknown", "ops:\n  target: ftp:somewhere\n")
    with pytest.raises(ConfigError, match="unknown target system 'ftp'; known target systems"):
        build_ops(unknown, ops_settings(load_settings(unknown)), db)
    typo = _workspace(tmp_path / "typo", "ops:\n  max_element: 3\n")
    with pytest.raises(ConfigError, match="max_element"):
        load_settings(typo)
