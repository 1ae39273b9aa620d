"""The operations assistant (issue 20) on the demo target system, without an LLM.

    .venv/bin/python bench/ops.py [--cases bench/data/ops/changes.yml] [--out FILE]

Bulk change: each request of bench/data/ops/changes.yml (20, written with their expected
element set, JSON Patch and refusal code before the request parser existed, commit 1c9fdf3)
is planned by the same ChangePlans the API and CLI use, on a fresh copy of the demo's target
folder and a scratch SQLite database. `change.exact_plan`: the share whose element set,
every element's patch and refusal code (or none) all equal the expected ones. Every plan that
is not refused is then approved, applied and rolled back: `rollback_identical` is the share
of those cycles after which every file of the target (element files, schemas, logs) has its
bytes from before. `invalid_written` counts element files that fail their schema after any
apply (checked on the whole target after each one), plus the refused plans that could be
applied anyway: both must be 0. Latency of planning on this machine: `change.plan_p95_ms`.

Troubleshooting and starter configuration (issue 20 points 3 and 4) are not built yet: their
keys are null with the reason. The parser was written after the cases, by the author who
wrote them, with the cases in view: `change.exact_plan` is a regression check on requests
phrased as an operator would, not an estimate on requests it never saw.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from frontdesk.errors import FrontdeskError
from frontdesk.ops.folder import FolderTarget
from frontdesk.ops.plans import ChangePlans
from frontdesk.storage import migrate
from frontdesk.storage.db import Database
from frontdesk.storage.tenants import ensure_tenant

ROOT = Path(__file__).resolve().parents[1]
DEMO_TARGET = ROOT / "src/frontdesk/demo/workspace/ops/target"
CASES = ROOT / "bench/data/ops/changes.yml"
OUT = ROOT / "bench/results/ops.json"
NOT_BUILT = "not built yet (issue 20 point {point}); cases to write and commit first"


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".history" not in p.parts
    }


def expected_patches(expect: dict[str, Any]) -> dict[str, Any]:
    if "patches" in expect:
        return dict(expect["patches"])
    return {i: expect["patch"] for i in expect["elements"]}


async def run(cases_path: Path) -> dict[str, Any]:
    cases = yaml.safe_load(cases_path.read_bytes())  # noqa: ASYNC240 (read once, before any work)
    exact = 0
    misses: list[dict[str, Any]] = []
    cycles = identical = invalid_written = refused_applied = 0
    timings: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        db = Database(f"sqlite+aiosqlite:///{Path(scratch) / 'ops.db'}")
        await migrate.upgrade(db)
        tenant = (await ensure_tenant(db, "bench")).id
        try:
            for case in cases:
                folder = Path(scratch) / case["id"]
                shutil.copytree(DEMO_TARGET, folder)
                target = FolderTarget(folder)
                plans = ChangePlans(db, target)
                expect = case["expect"]
                started = time.perf_counter()
                try:
                    plan = await plans.make(tenant, case["request"], actor="bench")
                except FrontdeskError as exc:
                    timings.append((time.perf_counter() - started) * 1000)
                    misses.append({"id": case["id"], "error": exc.code, "message": exc.message})
                    continue
                timings.append((time.perf_counter() - started) * 1000)
                got = {"elements": sorted(plan.patches), "patches": plan.patches,
                       "refused": plan.refusal_code}  # fmt: skip
                want = {"elements": sorted(expect["elements"]),
                        "patches": expected_patches(expect),
                        "refused": expect.get("refused")}  # fmt: skip
                if got == want:
                    exact += 1
                else:
                    misses.append({"id": case["id"], "got": got, "want": want})
                if plan.status == "refused":
                    try:  # a refused plan can never be applied
                        await plans.approve(tenant, plan.id, actor="bench")
                        await plans.apply(tenant, plan.id, actor="bench")
                        refused_applied += 1
                    except FrontdeskError:
                        pass
                    continue
                before = tree(folder)
                await plans.approve(tenant, plan.id, actor="bench")
                await plans.apply(tenant, plan.id, actor="bench")
                everything = await target.elements()
                errors = await target.validate({e.id: e.config for e in everything})
                invalid_written += sum(1 for e in errors.values() if e)
                await plans.rollback(tenant, plan.id, actor="bench")
                cycles += 1
                identical += tree(folder) == before
        finally:
            await db.dispose()
    timings.sort()
    return {
        "change": {
            "exact_plan": round(exact / len(cases), 4),
            "cases": len(cases),
            "exact": exact,
            "misses": misses,
            "plan_p50_ms": round(statistics.median(timings), 2),
            "plan_p95_ms": round(timings[min(len(timings) - 1, int(0.95 * len(timings)))], 2),
        },
        "rollback_identical": round(identical / cycles, 4) if cycles else None,
        "rollback_cycles": cycles,
        "invalid_written": invalid_written + refused_applied,
        "troubleshoot": {
            "root_cause_with_evidence": None,
            "reason": NOT_BUILT.format(point=3),
        },
        "setup": {"valid_and_matching": None, "reason": NOT_BUILT.format(point=4)},
        "chat_p95_ms": None,
        "chat_reason": NOT_BUILT.format(point=3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=Path, default=CASES)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    result = asyncio.run(run(args.cases))
    change = result["change"]
    rows = [
        ("change.exact_plan", f"{change['exact_plan']:.2f} ({change['exact']}/{change['cases']})"),
        ("rollback_identical", f"{result['rollback_identical']} ({result['rollback_cycles']})"),
        ("invalid_written", str(result["invalid_written"])),
        ("change.plan_p95_ms", str(change["plan_p95_ms"])),
        ("troubleshoot.root_cause_with_evidence", "null (not built)"),
        ("setup.valid_and_matching", "null (not built)"),
        ("chat_p95_ms", "null (not built)"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    for miss in change["misses"]:
        print("miss:", json.dumps(miss)[:300])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
