"""The input screen's time per message, before and after a change to the injection screen.

    nice -n 10 .venv/bin/python bench/guard_screen_time.py [--before REV] [--repeats 5]

`src/frontdesk/guard/injection.py` as it was at REV (default: the commit before the one that
last changed it) is loaded from git into a module of its own, next to the working tree's; each
trains its shipped model, and `InputScreen.screen` (default policy, as `screen_input` runs it:
redaction, normalisation, rules and model) is timed with each on the 658 texts of
bench/data/guard_eval (527 ordinary messages, 131 attacks), interleaved text by text so both
see the same machine load. Wall time and this process's CPU time (steadier on a shared
machine); the p95 difference is the figure to read. Writes
bench/results/guard-screen-time.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from frontdesk.guard.input_screen import InputScreen

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "guard-screen-time.json"
MODULE = "src/frontdesk/guard/injection.py"
EVAL_DATA = ROOT / "bench" / "data" / "guard_eval"


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()  # fmt: skip


def module_at(rev: str, folder: Path) -> ModuleType:
    path = folder / "injection_before.py"
    path.write_text(git("show", f"{rev}:{MODULE}"), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("injection_before", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["injection_before"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 0.5), 3),
        "p95": round(percentile(values, 0.95), 3),
        "mean": round(statistics.fmean(values), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default="", metavar="REV",
                        help="the revision to compare with (default: the commit before the"
                        " last change to injection.py)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    before_rev = args.before or git("log", "-1", "--format=%H", "--", MODULE) + "~1"
    before_rev = git("rev-parse", "--short", before_rev)

    from frontdesk.guard import injection as after

    texts = [
        json.loads(line)["text"]
        for name in ("ordinary.jsonl", "attacks.jsonl")
        for line in (EVAL_DATA / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    with tempfile.TemporaryDirectory() as folder:
        before = module_at(before_rev, Path(folder))
        screens: dict[str, Any] = {}
        for name, module in (("before", before), ("after", after)):
            began = time.process_time()
            model = module.InjectionModel.shipped()
            train_cpu = time.process_time() - began
            screens[name] = (InputScreen(max_chars=10**6,
                                         injection=module.InjectionScreen(model)),
                             round(train_cpu, 2))  # fmt: skip
    wall: dict[str, list[float]] = {"before": [], "after": []}
    cpu: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(args.repeats):
        for text in texts:
            for name, (screen, _) in screens.items():
                began, began_cpu = time.perf_counter(), time.process_time()
                screen.screen(text)
                cpu[name].append((time.process_time() - began_cpu) * 1000)
                wall[name].append((time.perf_counter() - began) * 1000)
    result: dict[str, Any] = {
        "before": before_rev,
        "after": "working tree at " + git("rev-parse", "--short", "HEAD"),
        "texts": len(texts),
        "repeats": args.repeats,
        "load_average": round(os.getloadavg()[0], 2),
        "train_cpu_seconds": {name: train for name, (_, train) in screens.items()},
        "wall_ms": {name: summary(values) for name, values in wall.items()},
        "cpu_ms": {name: summary(values) for name, values in cpu.items()},
    }
    for clock in ("wall_ms", "cpu_ms"):
        result[clock]["p95_growth"] = round(
            result[clock]["after"]["p95"] - result[clock]["before"]["p95"], 3
        )
    print(f"InputScreen.screen, {len(texts)} texts x {args.repeats}, before {before_rev}, "
          f"load average {result['load_average']}")  # fmt: skip
    for clock in ("wall_ms", "cpu_ms"):
        for name in ("before", "after"):
            row = result[clock][name]
            print(f"{clock:<8}{name:<8} p50 {row['p50']:>7} p95 {row['p95']:>7} "
                  f"mean {row['mean']:>7}")  # fmt: skip
        print(f"{clock:<8}p95 growth {result[clock]['p95_growth']} ms")
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
