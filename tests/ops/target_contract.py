"""What every TargetSystem must do, run against the folder target and the HTTP target."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from frontdesk.errors import FrontdeskError
from frontdesk.interfaces import ElementChange, TargetSystem

MON = datetime(2026, 11, 30, tzinfo=UTC)
MON_NEXT = datetime(2026, 12, 7, tzinfo=UTC)


async def check_reading(target: TargetSystem) -> None:
    assert await target.kinds() == ["carrier", "depot", "route", "sorter"]
    depots = await target.elements("depot")
    assert len(depots) == 30
    d12 = await target.element("D12")
    assert (d12.kind, d12.config["cutoff"], d12.config["region"]) == ("depot", "13:30", "Leinster")
    assert "cutoff: '13:30'" in d12.text
    schema = await target.schema("depot")
    assert "cutoff" in schema["properties"]
    with pytest.raises(FrontdeskError) as missing:
        await target.element("D99")
    assert missing.value.code == "element_not_found"


async def check_validation(target: TargetSystem) -> None:
    d01 = await target.element("D01")
    good = await target.validate({"D01": d01.config})
    assert good == {"D01": []}
    bad = await target.validate({"D01": {**d01.config, "cutoff": "25:00", "sorter": "S99"}})
    assert any(e.startswith("/cutoff") for e in bad["D01"])
    assert any("'S99' is not a sorter" in e for e in bad["D01"])


async def check_apply_and_rollback(target: TargetSystem) -> None:
    before = {e.id: e for e in await target.elements()}
    start = await target.version()
    changes = [
        ElementChange(
            id=i, config={**before[i].config, "cutoff": "18:30"}, base_digest=before[i].digest
        )
        for i in ("D01", "D02")
    ]
    applied = await target.apply(changes, actor="user:ana", message="cut-off to 18:30")
    assert applied.version == start + 1
    assert applied.changed == ["D01", "D02"]
    d01 = await target.element("D01")
    assert d01.config["cutoff"] == "18:30"
    assert d01.digest == applied.digests["D01"] != before["D01"].digest

    # A change made on bytes that are gone is refused whole: D03 is fine, D01 moved on.
    stale = [
        ElementChange(id="D03", config={**before["D03"].config, "enabled": False},
                      base_digest=before["D03"].digest),
        ElementChange(id="D01", config={**before["D01"].config, "enabled": False},
                      base_digest=before["D01"].digest),
    ]  # fmt: skip
    with pytest.raises(FrontdeskError) as conflict:
        await target.apply(stale, actor="user:ana", message="stale")
    assert conflict.value.code == "element_changed"
    assert (await target.element("D03")).digest == before["D03"].digest

    # An invalid element refuses the set: nothing is written.
    invalid = [
        ElementChange(id="D04", config={**before["D04"].config, "capacity_per_hour": 5}),
        ElementChange(id="D05", config={**before["D05"].config, "capacity_per_hour": 1600}),
    ]
    with pytest.raises(FrontdeskError) as refused:
        await target.apply(invalid, actor="user:ana", message="invalid")
    assert refused.value.code == "config_invalid"
    assert (await target.element("D05")).digest == before["D05"].digest
    assert await target.version() == start + 1

    restored = await target.rollback(applied.version, actor="user:ana", message="undo")
    assert restored.rollback_of == applied.version
    assert restored.version == start + 2
    after = {e.id: e for e in await target.elements()}
    assert {i: e.text for i, e in after.items()} == {i: e.text for i, e in before.items()}
    assert {i: e.digest for i, e in after.items()} == {i: e.digest for i, e in before.items()}
    with pytest.raises(FrontdeskError) as twice:  # its files are no longer what it wrote
        await target.rollback(applied.version, actor="user:ana", message="again")
    assert twice.value.code == "element_changed"
    with pytest.raises(FrontdeskError) as unknown:
        await target.rollback(999, actor="user:ana", message="none")
    assert unknown.value.code == "version_not_found"


async def check_events_and_metrics(target: TargetSystem) -> None:
    saturday_night = datetime(2026, 12, 5, 20, tzinfo=UTC), datetime(2026, 12, 6, 8, tzinfo=UTC)
    errors = await target.events(*saturday_night, min_severity="error")
    assert errors
    assert {e.element for e in errors} == {"S07"}
    assert {e.code for e in errors} == {"SORT-E17"}
    deploy = await target.events(*saturday_night, elements=["S07"], min_severity="info")
    assert deploy[0].code == "DEPLOY"
    everything = await target.events(MON, MON_NEXT)
    assert len(everything) == 325
    d05 = await target.metrics(datetime(2026, 12, 3, 17, tzinfo=UTC),
                               datetime(2026, 12, 3, 18, tzinfo=UTC), elements=["D05"])  # fmt: skip
    assert [m.values["parcels_in"] for m in d05] == [2140.0]
