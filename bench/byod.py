"""Bring your own data (issue 18): real Rasa projects and real documentation, as a user runs them.

Everything goes through the `frontdesk` command line in scratch workspaces under
bench/.cache/byod-work/<time>-<pid>/ (one folder per run), so the figures are what a user
gets from the code under test:

Per Rasa bot (each folder of `--bots`, default ../shared/datasets/rasa_bots/):
- import: `frontdesk import rasa BOT -w WS` when the command exists; before it did, a plain
  copy of the bot's NLU files (YAML files with a top-level `nlu:` key) into WS/nlu/. Either way
  `frontdesk data validate -w WS` runs next. `import_errors`/`import_warnings` are the import
  command's counts, or validate's when there is no import command (`import_method` says which);
  validate's own counts are kept as `validate_errors`/`validate_warnings`.
- `frontdesk train -w WS`: wall seconds (process start included) and the stored version's
  `train_seconds`.
- `frontdesk evaluate conversations -w WS` when the import wrote the bot's test stories to
  golden/conversations/: stories passed and turns matched (the trained model on each user turn).
- `frontdesk evaluate nlu -w WS --folds 5`: intent accuracy, macro-F1 and entity F1 from the
  report it writes (frontdesk.nlu.evaluation's cross-validation; nothing recomputed here except
  the entity micro-F1, summed over the report's per-type counts; see _entity_micro).

Per documentation set (bench/data/byod/<set>.yml names the source; bench/byod_fetch.py
materialises it unchanged into bench/.cache/byod/<set>/):
- `frontdesk kb ingest FOLDER -w WS` (no --allow-rejects: its exit status is reported):
  files seen, documents indexed, files rejected by code, chunks, quarantined chunks;
- tiny chunks: the share of retrievable (not quarantined) chunks with fewer than 15 words,
  a word being a run of letters/digits/underscores (`\\w+`) in the chunk's stored text; the
  share by the chunker's own `token_count` < 15 is reported beside it;
- top-1 / top-3: the workspace's retriever (as `kb search` builds it) on every question; a
  hit is a returned passage whose document is one of the question's files (the source minus
  the `<set>/` prefix `kb ingest` gives it).

    .venv/bin/python bench/byod_fetch.py                # once: the documentation sets
    nice -n 10 .venv/bin/python bench/byod.py           # the code in this working tree
    nice -n 10 .venv/bin/python bench/byod.py --at HEAD --output bench/results/byod.json

`--at COMMIT` runs the code of that commit (its src/ exported to bench/.cache/byod-src-<sha>/
and put first on PYTHONPATH), not the working tree, so a run is not mixed with uncommitted
changes; the results record the commit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
BOTS = ROOT.parent / "shared" / "datasets" / "rasa_bots"
QUESTIONS = ROOT / "bench" / "data" / "byod"
DOCS = ROOT / "bench" / ".cache" / "byod"
# Each run has its own scratch folder: runs by several people at once must not share workspaces.
WORK = ROOT / "bench" / ".cache" / "byod-work" / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
RESULTS = ROOT / "bench" / "results" / "byod.json"
TINY_WORDS = 15
WORD = re.compile(r"\w+")
# "... 0 errors, 3 warnings" (import rasa, data validate).
COUNTS = re.compile(r"(\d+) errors?, (\d+) warnings?")


def frontdesk(*args: str, timeout: int = 3600) -> tuple[int, str, str, float]:
    """Run the frontdesk CLI of the code under test: exit status, stdout, stderr, seconds."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "frontdesk", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr, time.perf_counter() - started


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def new_workspace(name: str) -> Path:
    ws = WORK / name
    if ws.exists():
        shutil.rmtree(ws)
    ws.mkdir(parents=True)
    (ws / "frontdesk.yaml").write_text("tenant: default\n", encoding="utf-8")
    return ws


# ---------------------------------------------------------------- Rasa bots


def _has_import_command() -> bool:
    rc, _, _, _ = frontdesk("import", "rasa", "--help")
    return rc == 0


def _nlu_files(bot: Path) -> list[Path]:
    """The bot's YAML files with a top-level `nlu:` key (what a Rasa user calls NLU data)."""
    found = []
    for path in sorted((bot / "data").rglob("*.y*ml")):
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue
        if isinstance(document, dict) and "nlu" in document:
            found.append(path)
    return found


def _entity_micro(entities: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Micro-averaged entity precision/recall/F1 over the report's types. The report gives per
    type precision, recall (4 decimals) and support; tp = recall x support and fp = tp /
    precision - tp are whole numbers recovered exactly for supports under 5,000. A type with
    no true positive has no recoverable false-positive count: it is counted with none and
    named in `fp_unknown`."""
    tp = fp = fn = 0
    unknown = []
    for kind, row in sorted(entities.items()):
        support = int(row["support"])
        t = round(row["recall"] * support)
        tp, fn = tp + t, fn + support - t
        if row["precision"] > 0:
            fp += round(t / row["precision"]) - t
        elif t == 0:
            unknown.append(kind)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "fp_unknown": unknown,
    }


def run_bot(bot: Path, *, folds: int, use_import: bool) -> dict[str, Any]:
    name = bot.name
    ws = WORK / f"rasa-{name}"
    row: dict[str, Any] = {"path": str(bot)}
    if use_import:
        if ws.exists():
            shutil.rmtree(ws)
        ws.parent.mkdir(parents=True, exist_ok=True)
        rc, out, err, seconds = frontdesk("import", "rasa", str(bot), "-w", str(ws))
        found = COUNTS.findall(out + err)
        if found:
            errors, warnings = (int(n) for n in found[-1])
        else:  # no summary line: count the error lines, at least one when it failed
            errors = sum(1 for line in (out + err).splitlines() if "error" in line.lower())
            errors, warnings = max(errors, int(rc != 0)), 0
        row.update(
            import_method="frontdesk import rasa",
            import_exit=rc,
            import_errors=errors,
            import_warnings=warnings,
            import_seconds=round(seconds, 1),
            import_output_tail=_tail(out + err, 12),
        )
        if rc != 0 or not (ws / "frontdesk.yaml").is_file():
            return row
    else:
        ws = new_workspace(f"rasa-{name}")
        files = _nlu_files(bot)
        for path in files:
            target = ws / "nlu" / path.relative_to(bot / "data")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        row.update(
            import_method="plain copy of the NLU files into WS/nlu/ (no import command)",
            nlu_files=[str(p.relative_to(bot)) for p in files],
        )
    rc, out, err, _ = frontdesk("data", "validate", "-w", str(ws))
    found = COUNTS.findall(out + err)
    errors, warnings = (int(n) for n in found[-1]) if found else (int(rc != 0), 0)
    row.update(validate_exit=rc, validate_errors=errors, validate_warnings=warnings)
    if not use_import:
        row.update(import_errors=errors, import_warnings=warnings)
    first = [line.replace(str(ws), "WS") for line in out.splitlines() if ": error" in line][:5]
    row["validate_first_errors"] = first

    rc, out, err, seconds = frontdesk("train", "-w", str(ws))
    row.update(train_exit=rc, train_wall_seconds=round(seconds, 1))
    manifests = sorted((ws / ".frontdesk" / "models" / "nlu").glob("*/manifest.json"))
    if manifests:
        manifest = json.loads(manifests[-1].read_text(encoding="utf-8"))
        row["train_seconds"] = round(float(manifest.get("train_seconds", 0.0)), 1)
    if rc not in (0, 3):  # 3: trained, kept out by the gate
        row["train_output_tail"] = _tail(out + err)

    report_dir = WORK / f"report-{name}"
    if report_dir.exists():
        shutil.rmtree(report_dir)
    report_dir.mkdir(parents=True)
    if (ws / "golden" / "conversations").is_dir():  # the bot's test stories, after an import
        played = report_dir / "conversations.json"
        rc, out, err, seconds = frontdesk(
            "evaluate", "conversations", "-w", str(ws), "--output", str(played)
        )
        row["conversations_exit"] = rc
        if rc == 0 and played.is_file():
            row["conversations"] = json.loads(played.read_text(encoding="utf-8"))["summary"]
        else:
            row["conversations_output_tail"] = _tail(out + err)
    rc, out, err, seconds = frontdesk(
        "evaluate", "nlu", "-w", str(ws), "--folds", str(folds), "--output", str(report_dir)
    )
    row.update(evaluate_exit=rc, evaluate_seconds=round(seconds, 1))
    report_file = report_dir / "nlu-report.json"
    if rc != 0 or not report_file.is_file():
        row["evaluate_output_tail"] = _tail(out + err)
        return row
    report = json.loads(report_file.read_text(encoding="utf-8"))
    entities = report.get("entities", {})
    micro = _entity_micro(entities)
    row.update(
        method=report.get("method"),
        examples=report.get("examples"),
        intents=len(report.get("per_intent", {})),
        intent_accuracy=report.get("accuracy"),
        macro_f1=report["averages"]["macro"]["f1"],
        entity_f1=micro["f1"] if entities else None,
        entity_micro=micro,
        entity_per_type={k: v["f1"] for k, v in entities.items()},
        oos_recall=report.get("oos_recall"),
        evaluate_notes=[line for line in (out + err).splitlines() if "fold" in line.lower()][:3],
    )
    return row


# ---------------------------------------------------------------- documentation sets


def load_questions(path: Path) -> dict[str, Any]:
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {"set": spec["set"], "source": spec["source"], "questions": spec["questions"]}


async def _index_figures(ws: Path, questions: list[dict[str, Any]], name: str) -> dict[str, Any]:
    from sqlalchemy import select

    from frontdesk.config.workspace import Workspace, load_settings
    from frontdesk.orchestration.runtime import (
        build_retriever,
        load_embedder,
        load_registries,
        open_database,
    )
    from frontdesk.storage.models import Chunk, Document
    from frontdesk.storage.tenants import ensure_tenant

    workspace = Workspace.at(ws)
    settings = load_settings(workspace)
    db = await open_database(workspace, settings)
    try:
        tenant = await ensure_tenant(db, settings.tenant)
        async with db.session(tenant.id) as session:
            sources = list(await session.scalars(select(Document.source)))
            chunks = (
                await session.execute(select(Chunk.text, Chunk.token_count, Chunk.quarantine))
            ).all()
        live = [c for c in chunks if c.quarantine is None]
        tiny_words = sum(1 for c in live if len(WORD.findall(c.text)) < TINY_WORDS)
        tiny_tokens = sum(1 for c in live if (c.token_count or 0) < TINY_WORDS)
        figures: dict[str, Any] = {
            "files": len(sources),
            "chunks": len(chunks),
            "quarantined_chunks": len(chunks) - len(live),
            "tiny_chunk_share": round(tiny_words / len(live), 4) if live else None,
            "tiny_chunks": tiny_words,
            "tiny_chunk_share_by_token_count": round(tiny_tokens / len(live), 4) if live else None,
        }
        registries = load_registries()
        embedder = None
        if settings.knowledge.retriever == "hybrid":
            embedder, status = load_embedder(registries, settings)
            figures["embedder"] = status
        retriever = build_retriever(registries, settings, db, embedder)
        prefix = f"{name}/"
        rows, timings = [], []
        for item in questions:
            started = time.perf_counter()
            passages = await retriever.search(tenant.id, item["q"], limit=3)
            timings.append((time.perf_counter() - started) * 1000)
            got = [p.source.removeprefix(prefix) for p in passages]
            wanted = set(item["files"])
            rows.append(
                {
                    "q": item["q"],
                    "expected": item["files"],
                    "top3": [
                        {"source": s, "heading": p.heading, "score": round(p.score, 4)}
                        for s, p in zip(got, passages, strict=True)
                    ],
                    "hit1": bool(got[:1]) and got[0] in wanted,
                    "hit3": any(s in wanted for s in got[:3]),
                }
            )
        n = len(rows)
        figures.update(
            questions=n,
            top1=round(sum(r["hit1"] for r in rows) / n, 4) if n else None,
            top3=round(sum(r["hit3"] for r in rows) / n, 4) if n else None,
            query_p50_ms=round(statistics.median(timings), 1) if timings else None,
            misses=[r for r in rows if not r["hit3"]],
            answers=rows,
        )
        return figures
    finally:
        await db.dispose()


def run_docs(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    folder = DOCS / name
    if not folder.is_dir():
        raise SystemExit(f"{folder}: missing; run .venv/bin/python bench/byod_fetch.py first")
    seen = [p for p in folder.rglob("*") if p.is_file() and p.name != ".source"]
    ws = new_workspace(f"docs-{name}")
    rc, out, err, seconds = frontdesk("kb", "ingest", str(folder), "-w", str(ws))
    rejected: Counter[str] = Counter()
    for line in err.splitlines():  # "rejected: FILE[:LINE]: why [code]" (once per file)
        if line.startswith("rejected:"):
            codes = re.findall(r"\[([a-z_]+)\]", line)
            rejected[codes[-1] if codes else "unparsed"] += 1
    row: dict[str, Any] = {
        "source": spec["source"],
        "files_seen": len(seen),
        "ingest_exit": rc,
        "ingest_seconds": round(seconds, 1),
        "rejected_by_code": dict(sorted(rejected.items())),
        "ingest_summary": [
            line for line in out.splitlines() if "indexed" in line or "index:" in line
        ],
    }
    if not (ws / ".frontdesk").is_dir():
        row["ingest_output_tail"] = _tail(out + err)
        return row
    row.update(asyncio.run(_index_figures(ws, spec["questions"], name)))
    if row.get("files", 0) == 0:
        row["ingest_output_tail"] = _tail(out + err)
    return row


# ---------------------------------------------------------------- main


def _code_commit() -> dict[str, Any]:
    import frontdesk

    where = Path(frontdesk.__file__).resolve()
    info: dict[str, Any] = {"frontdesk": str(where)}
    pinned = os.environ.get("BYOD_COMMIT")
    if pinned:
        info["commit"] = pinned
        info["working_tree"] = False
    else:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              cwd=ROOT, check=False).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], capture_output=True,
                               text=True, cwd=ROOT, check=False).stdout.strip()  # fmt: skip
        info.update(commit=head, working_tree=True, uncommitted_src_changes=bool(dirty))
    return info


def _reexec_at(commit: str) -> None:
    """Run this script again with the src/ of `commit` first on PYTHONPATH."""
    sha = subprocess.run(["git", "rev-parse", commit], capture_output=True, text=True, cwd=ROOT,
                         check=True).stdout.strip()  # fmt: skip
    export = ROOT / "bench" / ".cache" / f"byod-src-{sha[:12]}"
    if not (export / "src" / "frontdesk").is_dir():
        partial = export.with_name(f"{export.name}.{os.getpid()}")  # renamed when complete
        partial.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha, "src"], capture_output=True, cwd=ROOT,
                                 check=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(partial)], input=archive, check=True)
        try:
            partial.rename(export)
        except OSError:  # another run exported it meanwhile
            shutil.rmtree(partial, ignore_errors=True)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(export / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
        "BYOD_COMMIT": sha,
    }
    argv = list(sys.argv[1:])
    at = argv.index("--at")
    del argv[at : at + 2]
    os.execve(sys.executable, [sys.executable, __file__, *argv], env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bots", type=Path, default=BOTS, help="folder of Rasa projects")
    parser.add_argument("--bot", action="append", help="only this bot (repeatable)")
    parser.add_argument("--set", action="append", help="only this documentation set")
    parser.add_argument("--skip-rasa", action="store_true")
    parser.add_argument("--skip-docs", action="store_true")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--at", help="run the code of this commit instead of the working tree")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.at:
        _reexec_at(args.at)
    started = time.perf_counter()
    results: dict[str, Any] = {"code": _code_commit(), "rasa": {}, "docs": {}, "timings": {}}
    print(f"code: {results['code']}", file=sys.stderr, flush=True)

    if not args.skip_rasa:
        if not args.bots.is_dir():
            parser.error(f"{args.bots}: not a folder (point --bots at the Rasa projects)")
        use_import = _has_import_command()
        bots = sorted(p for p in args.bots.iterdir() if (p / "data").is_dir())
        for bot in bots:
            if args.bot and bot.name not in args.bot:
                continue
            print(f"rasa {bot.name} ...", file=sys.stderr, flush=True)
            t = time.perf_counter()
            results["rasa"][bot.name] = run_bot(bot, folds=args.folds, use_import=use_import)
            results["timings"][f"rasa.{bot.name}_seconds"] = round(time.perf_counter() - t, 1)

    if not args.skip_docs:
        for path in sorted(QUESTIONS.glob("*.yml")):
            spec = load_questions(path)
            name = spec["set"]
            if args.set and name not in args.set:
                continue
            print(f"docs {name} ...", file=sys.stderr, flush=True)
            t = time.perf_counter()
            results["docs"][name] = run_docs(name, spec)
            results["timings"][f"docs.{name}_seconds"] = round(time.perf_counter() - t, 1)

    results["timings"]["total_seconds"] = round(time.perf_counter() - started, 1)
    results["machine"] = {
        "cpu_count": os.cpu_count(),
        # Timings from a busy machine are worth less than the quality figures.
        "load_average_1m_at_end": round(os.getloadavg()[0], 1),
    }
    results["run_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print_tables(results)
    print(f"\nwrote {args.output}")


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_tables(results: dict[str, Any]) -> None:
    code = results["code"]
    state = " + uncommitted src changes" if code.get("uncommitted_src_changes") else ""
    print(f"\ncode: {code['commit'][:12]}{state}")
    if results["rasa"]:
        print(f"\n{'bot':20} {'import':>6} {'err':>4} {'warn':>5} {'val err/warn':>12} "
              f"{'train s':>8} {'intent acc':>10} {'macro-F1':>8} {'entity F1':>9}")  # fmt: skip
        for name, r in results["rasa"].items():
            method = "cmd" if r.get("import_method", "").startswith("frontdesk") else "copy"
            validate = f"{_fmt(r.get('validate_errors'))}/{_fmt(r.get('validate_warnings'))}"
            print(
                f"{name:20} {method:>6} {_fmt(r.get('import_errors')):>4} "
                f"{_fmt(r.get('import_warnings')):>5} {validate:>12} "
                f"{_fmt(r.get('train_seconds', r.get('train_wall_seconds')), 1):>8} "
                f"{_fmt(r.get('intent_accuracy')):>10} {_fmt(r.get('macro_f1')):>8} "
                f"{_fmt(r.get('entity_f1')):>9}"
            )
            if r.get("conversations"):
                c = r["conversations"]
                print(f"{'':20} test stories: {c['stories_passed']} of {c['stories']} passed, "
                      f"{c['turns_matched']} of {c['turns']} turns")  # fmt: skip
            if r.get("entity_per_type"):
                per = ", ".join(f"{k} {v:.3f}" for k, v in r["entity_per_type"].items())
                print(f"{'':20} entities: {per}")
            for key in ("train_output_tail", "evaluate_output_tail"):
                if r.get(key):
                    print(f"{'':20} {key}: {r[key].splitlines()[-1]}")
    if results["docs"]:
        print(f"\n{'docs':8} {'seen':>5} {'files':>5} {'rejected':>8} {'exit':>4} {'chunks':>6} "
              f"{'tiny':>6} {'top1':>6} {'top3':>6} {'ingest s':>8}")  # fmt: skip
        for name, d in results["docs"].items():
            rejected = sum(d.get("rejected_by_code", {}).values())
            print(
                f"{name:8} {d['files_seen']:>5} {_fmt(d.get('files')):>5} {rejected:>8} "
                f"{d['ingest_exit']:>4} {_fmt(d.get('chunks')):>6} "
                f"{_fmt(d.get('tiny_chunk_share')):>6} {_fmt(d.get('top1')):>6} "
                f"{_fmt(d.get('top3')):>6} {d['ingest_seconds']:>8}"
            )
            if d.get("rejected_by_code"):
                print(f"{'':8} rejected: {d['rejected_by_code']}")
    print(f"\n(tiny: chunks under {TINY_WORDS} words, \\w+ runs; top-k: a passage from an "
          "expected file among the first k)")  # fmt: skip


if __name__ == "__main__":
    main()
