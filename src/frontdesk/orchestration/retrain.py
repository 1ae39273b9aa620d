"""Retraining a workspace's model, from a running runtime (the console's button, the admin
API) or from the CLI (`frontdesk train`, `frontdesk retrain`): the workspace's examples plus
the enabled corrections, behind the one promotion gate (`orchestration.learning`). Each
training is written to the audit log with its outcome."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable
from pathlib import Path
from typing import Any

from frontdesk.config.workspace import Workspace, load_settings
from frontdesk.jobs import JobRunner
from frontdesk.jobs.runner import Work
from frontdesk.nlu.intent_classifier import Progress, TextEmbedder
from frontdesk.nlu.model_store import ModelStore
from frontdesk.nlu.training_data import TrainingData
from frontdesk.orchestration.learning import (
    RetrainReport,
    TrainingSet,
    golden_set,
    stored_corrections,
    train_gated,
    with_corrections,
)
from frontdesk.orchestration.runtime import Runtime, open_database
from frontdesk.storage.audit import audit
from frontdesk.storage.db import Database
from frontdesk.storage.tenants import ensure_tenant

__all__ = [
    "RetrainReport",
    "audit_training",
    "cli_actor",
    "retrain",
    "retrain_work",
    "start_retrain",
    "train_workspace",
    "with_corrections",
]


def models_store(workspace: Workspace) -> ModelStore:
    return ModelStore(workspace.state_dir / "models" / "nlu")


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


async def audit_training(
    db: Database, tenant_id: str, report: RetrainReport, *, actor: str, via: str
) -> None:
    async with db.session(tenant_id) as session:
        audit(
            session,
            actor=actor,
            action=f"nlu.train.{report.outcome}",
            target=report.candidate,
            detail={
                "via": via,
                "trigger": report.trigger,
                "baseline": report.baseline,
                "replaced": report.current if report.promoted else None,
                "corrections": report.corrections,
                "reasons": report.reasons,
            },
        )
        await session.commit()


def _embedder_for(runtime: Runtime) -> TextEmbedder | None:
    return runtime.embedder if runtime.settings.nlu.classifier == "hybrid" else None


async def retrain(
    runtime: Runtime,
    *,
    max_relative_drop: float = 0.05,
    actor: str = "system",
    trigger: str = "console",
    force: bool = False,
) -> RetrainReport:
    rows = await stored_corrections(runtime.db, runtime.tenant.id)
    training = TrainingSet.build(runtime.training_data, rows, golden_set(runtime.workspace.root))
    report = await asyncio.to_thread(
        train_gated,
        models_store(runtime.workspace),
        training,
        _embedder_for(runtime),
        trigger=trigger,
        actor=actor,
        force=force,
        max_relative_drop=max_relative_drop,
    )
    await audit_training(runtime.db, runtime.tenant.id, report, actor=actor, via=trigger)
    return report


def retrain_work(runtime: Runtime, *, actor: str = "system", trigger: str = "console") -> Work:
    async def work() -> dict[str, Any]:
        return (await retrain(runtime, actor=actor, trigger=trigger)).as_dict()

    return work


async def start_retrain(
    runtime: Runtime, jobs: JobRunner, *, actor: str, trigger: str = "console"
) -> str:
    """Retrain as a background job (the admin button, the API); the job's result is the
    report."""
    return await jobs.submit(
        runtime.tenant.id,
        "nlu_retrain",
        {"actor": actor},
        retrain_work(runtime, actor=actor, trigger=trigger),
    )


async def train_workspace(
    workspace_dir: Path,
    data: TrainingData,
    embedder: Callable[[], TextEmbedder | None],
    *,
    trigger: str,
    force: bool = False,
    promote: bool = True,
    folds: int = 3,
    progress: Progress | None = None,
    max_relative_drop: float = 0.05,
) -> RetrainReport:
    """The CLI's training: `data` plus the workspace database's enabled corrections, behind
    the gate; audited as the CLI's user."""
    workspace = Workspace.at(workspace_dir)
    settings = load_settings(workspace)
    db = await open_database(workspace, settings)
    try:
        tenant = await ensure_tenant(db, settings.tenant)
        rows = await stored_corrections(db, tenant.id)
        training = TrainingSet.build(data, rows, golden_set(workspace.root))
        actor = cli_actor()
        report = await asyncio.to_thread(
            train_gated,
            models_store(workspace),
            training,
            embedder(),
            trigger=trigger,
            actor=actor,
            force=force,
            promote=promote,
            folds=folds,
            progress=progress,
            max_relative_drop=max_relative_drop,
        )
        await audit_training(db, tenant.id, report, actor=actor, via=trigger)
        return report
    finally:
        await db.dispose()
