"""The folder target: a folder of JSON/YAML element files under version."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from frontdesk.errors import ConfigError
from frontdesk.interfaces import ElementChange, TargetSystem
from frontdesk.ops.folder import FolderTarget
from tests.ops import target_contract
from tests.ops.conftest import tree_bytes


async def test_contract(target_dir: Path) -> None:
    target = FolderTarget(target_dir)
    assert isinstance(target, TargetSystem)
    await target_contract.check_reading(target)
    await target_contract.check_validation(target)
    await target_contract.check_apply_and_rollback(target)
    await target_contract.check_events_and_metrics(target)


async def test_rollback_restores_exact_bytes_and_keeps_an_audit(target_dir: Path) -> None:
    original = tree_bytes(target_dir)
    target = FolderTarget(target_dir)
    d09 = await target.element("D09")  # a hand-written file: comments and odd spacing
    path = target_dir / "elements" / "depots" / "D09.yaml"
    path.write_bytes(b"# Dundalk: reviewed 2026-11\n" + path.read_bytes().replace(b": ", b":   "))
    handmade = tree_bytes(target_dir)
    d09 = await target.element("D09")
    applied = await target.apply(
        [ElementChange(id="D09", config={**d09.config, "capacity_per_hour": 1000})],
        actor="user:ana", message="more capacity",
    )  # fmt: skip
    assert b"# Dundalk" not in path.read_bytes()  # written as the target writes elements
    await target.rollback(applied.version, actor="user:ana", message="undo")
    assert tree_bytes(target_dir) == handmade != original
    log = [
        json.loads(line)
        for line in (target_dir / ".history" / "audit.jsonl").read_text().splitlines()
    ]
    assert [(e["version"], e["elements"], e["rollback_of"]) for e in log] == [
        (1, ["D09"], None),
        (2, ["D09"], 1),
    ]


async def test_a_failure_half_way_writes_nothing(
    target_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = FolderTarget(target_dir)
    before = tree_bytes(target_dir)
    elements = {e.id: e for e in await target.elements("depot")}
    replaced: list[Any] = []
    real_replace = os.replace

    def failing_replace(src: Any, dst: Any) -> None:
        if len(replaced) == 2:  # the third file of the set fails (a full disk, say)
            raise OSError(28, "No space left on device")
        replaced.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr("frontdesk.ops.folder.os.replace", failing_replace)
    changes = [
        ElementChange(id=i, config={**elements[i].config, "cutoff": "18:00"})
        for i in ("D01", "D02", "D03", "D04")
    ]
    with pytest.raises(OSError, match="No space"):
        await target.apply(changes, actor="user:ana", message="four")
    monkeypatch.undo()
    assert tree_bytes(target_dir) == before
    assert await target.version() == 0
    assert not [p for p in tree_bytes(target_dir) if p.endswith(".tmp")]


def test_not_a_target_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a target folder"):
        FolderTarget(tmp_path)


async def test_a_broken_element_file_is_named(target_dir: Path) -> None:
    (target_dir / "elements" / "depots" / "D01.yaml").write_text("id: D01\n  bad: [\n")
    with pytest.raises(ConfigError, match=r"D01\.yaml: not valid YAML"):
        await FolderTarget(target_dir).elements()
