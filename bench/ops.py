"""The operations assistant (issue 20) on the demo target system, without an LLM.

    .venv/bin/python bench/ops.py [--cases bench/data/ops/changes.yml]
        [--troubleshoot bench/data/ops/troubleshoot.yml] [--out FILE]

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

Troubleshooting: each question of bench/data/ops/troubleshoot.yml (20, written with the
expected incidents, root elements, evidence lines, metrics and atoms before the chat existed,
commit 4e9a49e) is asked of the same Troubleshooter the API and CLI use, at the case's
`now`. `troubleshoot.root_cause_with_evidence`: the share of cases whose incidents (each
answer incident named by its root element and the seeded window its failures fall in) and
root elements are exactly the expected ones, where every expected evidence line is cited
(that element and code, with a timestamp that is one of that element's lines with that code
in the target's log, and written as `[ts] element code` in the answer's text) and every
expected metric is cited with the value the metrics file holds at the cited hour. The atoms
the cases expect are scored apart (`troubleshoot.atoms_cited`). `chat_p95_ms`: one
Troubleshooter.ask in process (the folder target read from disk each time, atoms read once
as the API keeps them), every question asked REPEAT times; HTTP not included.

Starter configuration (issue 20 point 4) is not built yet: its key is null with the reason.
The request parser and the troubleshooting rules were written after their cases, with the
cases in view: these figures are regression checks on questions phrased as an operator
would, not estimates on questions they never saw.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from frontdesk.errors import FrontdeskError
from frontdesk.ops.folder import FolderTarget
from frontdesk.ops.plans import ChangePlans
from frontdesk.ops.troubleshoot import Troubleshooter, diagnosis_view
from frontdesk.orchestration.ops_chat import read_ops_atoms
from frontdesk.storage import migrate
from frontdesk.storage.db import Database
from frontdesk.storage.tenants import ensure_tenant

ROOT = Path(__file__).resolve().parents[1]
DEMO_TARGET = ROOT / "src/frontdesk/demo/workspace/ops/target"
CASES = ROOT / "bench/data/ops/changes.yml"
TROUBLESHOOT = ROOT / "bench/data/ops/troubleshoot.yml"
REPEAT = 5
# The seeded incidents as troubleshoot.yml's header defines them: root element and window.
INCIDENTS = {
    "s07_deploy": ("S07", "2026-12-05T22:00:00Z", "2026-12-06T06:05:00Z"),
    "dpd_outage": ("C-DPD", "2026-12-01T14:05:00Z", "2026-12-01T16:45:00Z"),
    "d12_cutoff": ("D12", "2026-12-02T09:12:00Z", "2026-12-07T00:00:00Z"),
    "d05_overflow": ("D05", "2026-12-03T16:00:00Z", "2026-12-03T19:00:00Z"),
}
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
        "setup": {"valid_and_matching": None, "reason": NOT_BUILT.format(point=4)},
    }


def _log(target_dir: Path) -> tuple[set[tuple[str, str, str]], dict[tuple[str, str, str], float]]:
    lines = {(e["element"], e["code"], e["ts"]) for e in map(json.loads, (
        target_dir / "events/events.jsonl").read_text().splitlines())}  # fmt: skip
    values: dict[tuple[str, str, str], float] = {}
    for point in map(json.loads, (target_dir / "metrics/metrics.jsonl").read_text().splitlines()):
        for name, value in point.items():
            if name not in ("ts", "element"):
                values[(point["element"], name, point["ts"])] = float(value)
    return lines, values


def _incident_ids(incident: dict[str, Any]) -> str:
    times = [e["ts"] for e in incident["evidence"]] + [m["ts"] for m in incident["metrics"]]
    for name, (root, start, end) in INCIDENTS.items():
        if incident["root"] == root and any(start <= t <= end for t in times):
            return name
    return f"unknown:{incident['root']}"


async def troubleshoot(cases_path: Path) -> dict[str, Any]:
    cases = yaml.safe_load(cases_path.read_bytes())  # noqa: ASYNC240 (read once, before any work)
    lines, values = _log(DEMO_TARGET)
    chat = Troubleshooter(
        FolderTarget(DEMO_TARGET), read_ops_atoms(DEMO_TARGET.parent / "knowledge")
    )
    right = atoms_right = 0
    misses: list[dict[str, Any]] = []
    timings: list[float] = []
    for case in cases:
        now = (
            case["now"]
            if isinstance(case["now"], datetime)
            else datetime.fromisoformat(case["now"])
        )
        for _ in range(REPEAT):
            started = time.perf_counter()
            diagnosis = await chat.ask(case["question"], now)
            timings.append((time.perf_counter() - started) * 1000)
        view = diagnosis_view(diagnosis)
        expect = case["expect"]
        got_incidents = sorted(_incident_ids(i) for i in view["incidents"])
        got_roots = sorted(i["root"] for i in view["incidents"])
        cited = [e for i in view["incidents"] for e in i["evidence"]]
        missing = [
            f"{want['element']} {want['code']}" for want in expect["evidence"]
            if not any(e["element"] == want["element"] and e["code"] == want["code"]
                       and (e["element"], e["code"], e["ts"]) in lines
                       and f"[{e['ts']}] {e['element']} {e['code']}" in view["answer"]
                       for e in cited)
        ]  # fmt: skip
        metrics = [m for i in view["incidents"] for m in i["metrics"]]
        missing += [
            f"metric {want['element']} {want['name']}" for want in expect.get("metrics") or []
            if not any(m["element"] == want["element"] and m["name"] == want["name"]
                       and values.get((m["element"], m["name"], m["ts"])) == m["value"]
                       for m in metrics)
        ]  # fmt: skip
        ok = (got_incidents == sorted(expect["incidents"]) and got_roots == sorted(expect["root"])
              and not missing)  # fmt: skip
        right += ok
        titles = [a["title"] for i in view["incidents"] for a in i["atoms"]]
        atoms_ok = all(t in titles for t in expect.get("atoms") or [])
        atoms_right += atoms_ok
        if not ok or not atoms_ok:
            misses.append({"id": case["id"], "incidents": got_incidents, "missing": missing,
                           "atoms_missing": [t for t in expect.get("atoms") or []
                                             if t not in titles]})  # fmt: skip
    timings.sort()
    return {
        "root_cause_with_evidence": round(right / len(cases), 4),
        "cases": len(cases),
        "right": right,
        "atoms_cited": round(atoms_right / len(cases), 4),
        "misses": misses,
        "chat_p50_ms": round(statistics.median(timings), 2),
        "chat_p95_ms": round(timings[min(len(timings) - 1, int(0.95 * len(timings)))], 2),
        "turns_timed": len(timings),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=Path, default=CASES)
    parser.add_argument("--troubleshoot", type=Path, default=TROUBLESHOOT)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    result = asyncio.run(run(args.cases))
    result["troubleshoot"] = asyncio.run(troubleshoot(args.troubleshoot))
    result["chat_p95_ms"] = result["troubleshoot"]["chat_p95_ms"]
    change, ts = result["change"], result["troubleshoot"]
    rows = [
        ("change.exact_plan", f"{change['exact_plan']:.2f} ({change['exact']}/{change['cases']})"),
        ("rollback_identical", f"{result['rollback_identical']} ({result['rollback_cycles']})"),
        ("invalid_written", str(result["invalid_written"])),
        ("change.plan_p95_ms", str(change["plan_p95_ms"])),
        ("troubleshoot.root_cause_with_evidence",
         f"{ts['root_cause_with_evidence']:.2f} ({ts['right']}/{ts['cases']})"),
        ("troubleshoot.atoms_cited", f"{ts['atoms_cited']:.2f}"),
        ("setup.valid_and_matching", "null (not built)"),
        ("chat_p95_ms", f"{ts['chat_p95_ms']} (p50 {ts['chat_p50_ms']}, {ts['turns_timed']})"),
    ]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    for miss in change["misses"] + ts["misses"]:
        print("miss:", json.dumps(miss)[:300])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
