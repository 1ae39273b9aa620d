"""Retraining from agents' corrections, behind the promotion gate.

The workspace's examples plus the corrections stored from the console are trained into a
candidate NLU model (the understanding capability's own `train`). The candidate and the
current model are compared on cross-validation metrics and on the golden set
(`golden/nlu.yml`, when the workspace has one); the candidate is promoted only if no
tracked metric drops by more than 5% relative. Otherwise the current model stays and the
report says which metric fell and by how much.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from frontdesk.jobs import JobRunner
from frontdesk.jobs.runner import Work
from frontdesk.nlu.training_data import EntitySpan, Example, TrainingData, load_yaml
from frontdesk.orchestration.runtime import Runtime
from frontdesk.policy.promotion import promotion_gate
from frontdesk.storage.db import Database
from frontdesk.storage.support_models import TrainingExample

# Tracked metrics: the candidate may not lose more than the gate allows on any of them.
TRACKED = ("held_out_accuracy", "oos_recall", "ece", "golden_accuracy")
LOWER_IS_BETTER = ("ece",)


@dataclass
class Candidate:
    version: str
    metrics: dict[str, float]


class Trainer(Protocol):
    """What the gate needs from the understanding capability."""

    def current(self) -> Candidate | None: ...

    def train(self, data: TrainingData) -> Candidate: ...

    def promote(self, version: str) -> None: ...


@dataclass
class RetrainReport:
    promoted: bool
    candidate: str
    current: str | None
    reasons: list[str]
    changes: list[dict[str, Any]] = field(default_factory=list)
    corrections: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"promoted": self.promoted, "candidate": self.candidate, "current": self.current,
                "reasons": self.reasons, "changes": self.changes,
                "corrections": self.corrections}  # fmt: skip


def with_corrections(data: TrainingData, rows: list[TrainingExample]) -> TrainingData:
    extra = [
        Example(
            text=row.text,
            intent=row.intent,
            entities=tuple(
                EntitySpan(
                    type=e["type"],
                    text=e["text"],
                    start=e["start"],
                    end=e["end"],
                    value=str(e.get("value", e["text"])),
                )
                for e in row.entities
            ),
            source=f"console correction by {row.created_by}",
            line=0,
        )
        for row in rows
    ]
    return TrainingData(examples=[*data.examples, *extra], regexes=data.regexes,
                        lookups=data.lookups, synonyms=data.synonyms)  # fmt: skip


def retrain_with_gate(
    trainer: Trainer, data: TrainingData, *, corrections: int = 0, max_relative_drop: float = 0.05
) -> RetrainReport:
    current = trainer.current()
    candidate = trainer.train(data)
    before = {k: v for k, v in (current.metrics if current else {}).items() if k in TRACKED}
    after = {k: v for k, v in candidate.metrics.items() if k in TRACKED}
    gate = promotion_gate(before or None, after, max_relative_drop=max_relative_drop,
                          lower_is_better=LOWER_IS_BETTER)  # fmt: skip
    if gate.promote:
        trainer.promote(candidate.version)
    changes = gate.as_dict()["changes"]
    return RetrainReport(
        promoted=gate.promote,
        candidate=candidate.version,
        current=current.version if current else None,
        reasons=gate.reasons,
        changes=list(changes) if isinstance(changes, list) else [],
        corrections=corrections,
    )


class StoreTrainer:
    """The real trainer: the NLU model store under the workspace's state folder."""

    def __init__(self, models_root: Path, embedder: Any, golden: TrainingData | None) -> None:
        from frontdesk.nlu.model_store import ModelStore

        self.store = ModelStore(models_root)
        self.embedder = embedder
        self.golden = golden

    def _golden_accuracy(self, version: str) -> dict[str, float]:
        if self.golden is None or not self.golden.in_scope:
            return {}
        model = self.store.load(version, self.embedder)
        examples = self.golden.in_scope
        right = sum(1 for e in examples if model.classifier.predict(e.text).name == e.intent)
        return {"golden_accuracy": right / len(examples)}

    def _metrics(self, version: str) -> dict[str, float]:
        raw = self.store.manifest(version).get("metrics", {})
        metrics = {k: float(v) for k, v in raw.items() if isinstance(v, int | float)}
        return {**metrics, **self._golden_accuracy(version)}

    def current(self) -> Candidate | None:
        version = self.store.active_version()
        return Candidate(version, self._metrics(version)) if version else None

    def train(self, data: TrainingData) -> Candidate:
        from frontdesk.nlu.model_store import train

        classifier, entities, manifest = train(data, self.embedder)
        version = self.store.save(classifier, entities, manifest)
        return Candidate(version, self._metrics(version))

    def promote(self, version: str) -> None:
        self.store.promote(version)


async def stored_corrections(db: Database, tenant_id: str) -> list[TrainingExample]:
    from frontdesk.handoff.corrections import corrections

    async with db.session(tenant_id) as session:
        return await corrections(session)


def golden_set(workspace_root: Path) -> TrainingData | None:
    path = workspace_root / "golden" / "nlu.yml"
    return load_yaml(path) if path.is_file() else None


async def retrain(runtime: Runtime, *, max_relative_drop: float = 0.05) -> RetrainReport:
    rows = await stored_corrections(runtime.db, runtime.tenant.id)
    data = with_corrections(runtime.training_data, rows)
    trainer = StoreTrainer(runtime.workspace.state_dir / "models" / "nlu", runtime.embedder,
                           golden_set(runtime.workspace.root))  # fmt: skip
    return await asyncio.to_thread(retrain_with_gate, trainer, data, corrections=len(rows),
                                   max_relative_drop=max_relative_drop)  # fmt: skip


def retrain_work(runtime: Runtime) -> Work:
    async def work() -> dict[str, Any]:
        return (await retrain(runtime)).as_dict()

    return work


async def start_retrain(runtime: Runtime, jobs: JobRunner, *, actor: str) -> str:
    """Retrain as a background job (the admin button); the job's result is the report."""
    return await jobs.submit(runtime.tenant.id, "nlu_retrain", {"actor": actor},
                             retrain_work(runtime))  # fmt: skip
