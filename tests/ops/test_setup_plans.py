"""A starter configuration proposed to the target as a change plan that creates new element
files: on the folder target and the HTTP target, all or nothing, approved, applied, and
rolled back to the exact bytes (the new files removed again)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from frontdesk.errors import FrontdeskError
from frontdesk.interfaces import ElementChange, TargetSystem
from frontdesk.ops.folder import FolderTarget
from frontdesk.ops.http_target import HttpTarget
from frontdesk.ops.plans import ChangePlans
from frontdesk.ops.setup import generator_for
from frontdesk.orchestration.ops_chat import read_ops_atoms
from frontdesk.storage.db import Database
from tests.ops.conftest import tree_bytes
from tests.ops.fake_target_service import TOKEN, serving

KNOWLEDGE = Path(__file__).resolve().parents[2] / "src/frontdesk/demo/workspace/ops/knowledge"


@asynccontextmanager
async def _target(kind: str, root: Path) -> AsyncIterator[TargetSystem]:
    if kind == "folder":
        yield FolderTarget(root)
        return
    async with serving(root) as url, httpx.AsyncClient(timeout=10) as client:
        yield HttpTarget(url, client=client, token=TOKEN, name="http:fake")


@pytest.mark.parametrize("kind", ["folder", "http"])
async def test_new_elements_all_or_nothing(kind: str, target_dir: Path) -> None:
    before = tree_bytes(target_dir)
    async with _target(kind, target_dir) as target:
        d01 = (await target.element("D01")).config
        new = {**d01, "id": "D31", "name": "Ennis 2", "city": "Ennis", "region": "Munster",
               "sorter": None}  # fmt: skip
        assert await target.validate({"D31": new}, new={"D31": "depot"}) == {"D31": []}
        bad = await target.validate({"D31": {**new, "sorter": "S99"}}, new={"D31": "depot"})
        assert any("'S99' is not a sorter" in e for e in bad["D31"])

        taken = [ElementChange(id="D31", kind="depot", config=new),
                 ElementChange(id="D02", kind="depot", config={**new, "id": "D02"})]  # fmt: skip
        with pytest.raises(FrontdeskError) as exists:
            await target.apply(taken, actor="t", message="create")
        assert exists.value.code == "element_exists"
        invalid = [ElementChange(id="D31", kind="depot", config=new),
                   ElementChange(id="D32", kind="depot",
                                 config={**new, "id": "D32", "capacity_per_hour": 5})]  # fmt: skip
        with pytest.raises(FrontdeskError) as refused:
            await target.apply(invalid, actor="t", message="create")
        assert refused.value.code == "config_invalid"
        assert tree_bytes(target_dir) == before  # nothing of either set was written

        applied = await target.apply(
            [ElementChange(id="D31", kind="depot", config=new)], actor="t", message="create"
        )
        created = target_dir / "elements/depots/D31.yaml"
        assert created.read_text().startswith("id: D31\n")
        assert (await target.element("D31")).config == new
        restored = await target.rollback(applied.version, actor="t", message="undo")
        assert restored.rollback_of == applied.version
        assert not created.exists()
        assert tree_bytes(target_dir) == before
        with pytest.raises(FrontdeskError) as gone:
            await target.element("D31")
        assert gone.value.code == "element_not_found"


@pytest.mark.parametrize("kind", ["folder", "http"])
async def test_proposal_approve_apply_rollback(
    kind: str, target_dir: Path, db: Database, tenant_id: str
) -> None:
    before = tree_bytes(target_dir)
    async with _target(kind, target_dir) as target:
        generator = await generator_for(target, read_ops_atoms(KNOWLEDGE))
        starter = generator.generate(
            "two depots in Tralee and Mallow with a CrossBelt CB-600 sorter each, cut-off "
            "16:45, DPD only; DPD with a 25 second timeout"
        )
        plans = ChangePlans(db, target)
        plan = await plans.propose_setup(tenant_id, starter, actor="user:olga")
        assert plan.status == "planned", plan.refusal
        assert sorted(plan.patches) == ["C-DPD", "D31", "D32", "S11", "S12"]
        assert plan.selector["new"] == {"D31": "depot", "D32": "depot", "S11": "sorter",
                                        "S12": "sorter"}  # fmt: skip
        # The carrier exists already: only what the description says of it is changed.
        assert plan.patches["C-DPD"] == [{"op": "replace", "path": "/timeout_s", "value": 25}]
        assert "--- /dev/null\n+++ b/depots/D31\n" in plan.diff
        assert "+cutoff: '16:45'\n" in plan.diff
        assert all(errors == [] for errors in plan.validation.values())
        assert tree_bytes(target_dir) == before  # a proposal writes nothing

        await plans.approve(tenant_id, plan.id, actor="user:ana")
        applied = await plans.apply(tenant_id, plan.id, actor="user:ana")
        assert applied.status == "applied"
        assert set(applied.results) == set(plan.patches)
        assert (target_dir / "elements/sorters/S12.yaml").is_file()
        assert 'timeout_s": 25' in (target_dir / "elements/carriers/C-DPD.json").read_text()
        await plans.rollback(tenant_id, plan.id, actor="user:ana")
    assert tree_bytes(target_dir) == before


async def test_a_proposal_whose_id_was_taken_meanwhile_is_refused(
    target_dir: Path, db: Database, tenant_id: str
) -> None:
    target = FolderTarget(target_dir)
    generator = await generator_for(target, read_ops_atoms(KNOWLEDGE))
    plans = ChangePlans(db, target)
    plan = await plans.propose_setup(tenant_id, generator.generate("a depot in Ennis"),
                                     actor="t")  # fmt: skip
    await plans.approve(tenant_id, plan.id, actor="t")
    d01 = target_dir / "elements/depots/D01.yaml"
    (target_dir / "elements/depots/D31.yaml").write_bytes(d01.read_bytes().replace(b"D01", b"D31"))
    taken = tree_bytes(target_dir)
    with pytest.raises(FrontdeskError) as refused:
        await plans.apply(tenant_id, plan.id, actor="t")
    assert refused.value.code == "element_exists"
    assert (await plans.get(tenant_id, plan.id)).status == "refused"
    assert tree_bytes(target_dir) == taken
