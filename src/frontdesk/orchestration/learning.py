"""The learning loop's one path to a served model, whatever starts a training (start-up,
`frontdesk train`/`retrain`, the console's button, the admin API).

Training data is the workspace's `nlu/` plus every enabled correction agents made in the
console (minus any whose text is in the golden set, which stays unseen). The candidate is
judged against the promoted baseline (`policy.promotion.judge`: per intent and entity type on
the golden set, cross-validated metrics with their intervals) and promoted only if it passes,
or if a person forces it; a forced or hand-promoted version becomes the new baseline. Each
version keeps its data hash, the corrections it was trained on, its metrics and the gate's
decision (`gate.json`), so `frontdesk models show` can say why it serves or why it does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from frontdesk.nlu.intent_classifier import Progress, TextEmbedder
from frontdesk.nlu.model_store import ModelStore, NluModel, train
from frontdesk.nlu.training_data import EntitySpan, Example, TrainingData, load_yaml
from frontdesk.policy.promotion import Evidence, GoldenRead, judge
from frontdesk.storage.db import Database
from frontdesk.storage.support_models import TrainingExample


@dataclass
class RetrainReport:
    promoted: bool
    candidate: str
    current: str | None
    reasons: list[str]
    changes: list[dict[str, Any]] = field(default_factory=list)
    corrections: int = 0
    baseline: str | None = None
    flips: list[dict[str, Any]] = field(default_factory=list)
    forced: bool = False
    trigger: str = ""
    held_out: int = 0  # corrections left out because their text is in the golden set
    skipped: bool = False  # nothing trained: this data was already judged and kept out

    def as_dict(self) -> dict[str, Any]:
        return {
            "promoted": self.promoted,
            "candidate": self.candidate,
            "current": self.current,
            "reasons": self.reasons,
            "changes": self.changes,
            "corrections": self.corrections,
            "baseline": self.baseline,
            "flips": self.flips,
            "forced": self.forced,
            "trigger": self.trigger,
            "held_out": self.held_out,
        }

    @property
    def outcome(self) -> str:
        if self.forced:
            return "forced"
        return "promoted" if self.promoted else "kept"


def golden_set(workspace_root: Path) -> TrainingData | None:
    path = workspace_root / "golden" / "nlu.yml"
    return load_yaml(path) if path.is_file() else None


def _key(text: str) -> str:
    return " ".join(text.casefold().split())


def usable_corrections(
    rows: list[TrainingExample], golden: TrainingData | None
) -> tuple[list[TrainingExample], int]:
    """Enabled corrections whose text is not a golden example (the gate's set must stay
    unseen); and how many were held out for that."""
    unseen = {_key(e.text) for e in golden.examples} if golden else set()
    enabled = [r for r in rows if r.disabled_at is None]
    kept = [r for r in enabled if _key(r.text) not in unseen]
    return kept, len(enabled) - len(kept)


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
    return TrainingData(
        examples=[*data.examples, *extra],
        regexes=data.regexes,
        lookups=data.lookups,
        synonyms=data.synonyms,
        declared_synonyms=data.declared_synonyms,
        warnings=data.warnings,
    )


def correction_summaries(rows: list[TrainingExample]) -> list[dict[str, Any]]:
    """What a version's manifest keeps of each correction it was trained on."""
    return [{"id": r.id, "text": r.text, "intent": r.intent, "by": r.created_by} for r in rows]


async def stored_corrections(db: Database, tenant_id: str) -> list[TrainingExample]:
    from frontdesk.handoff.corrections import corrections

    async with db.session(tenant_id) as session:
        return await corrections(session)


@dataclass
class TrainingSet:
    """Everything one training of the workspace's model uses."""

    data: TrainingData
    golden: TrainingData | None
    corrections: list[TrainingExample]
    held_out: int = 0

    @classmethod
    def build(
        cls, base: TrainingData, rows: list[TrainingExample], golden: TrainingData | None
    ) -> TrainingSet:
        kept, held_out = usable_corrections(rows, golden)
        return cls(with_corrections(base, kept), golden, kept, held_out)


def evidence(model: NluModel, golden: TrainingData | None) -> Evidence:
    """A model's cross-validated metrics and its reading of the golden set."""
    raw = model.manifest.get("metrics", {})
    metrics = {k: float(v) for k, v in raw.items() if isinstance(v, int | float)}
    reads: list[GoldenRead] = []
    examples = golden.examples if golden else []
    if examples:
        predictions = model.classifier.predict_batch([e.text for e in examples])
        for example, prediction in zip(examples, predictions, strict=True):
            # An in-scope golden message is judged on its intent (as golden_accuracy was); an
            # out-of-scope one on being rejected.
            oos = example.intent == "out_of_scope"
            predicted = (
                ("out_of_scope" if prediction.out_of_scope else prediction.name)
                if oos
                else prediction.name
            )
            expected = frozenset((s.type, s.text) for s in example.entities)
            found = (
                frozenset((x.type, x.text) for x in model.entities.extract(example.text))
                if expected
                else frozenset()
            )
            reads.append(GoldenRead(example.text, example.intent, predicted, expected, found))
    return Evidence(model.version, metrics, tuple(reads))


def _baseline(store: ModelStore, embedder: TextEmbedder | None) -> NluModel | None:
    """The promoted baseline, loaded; None when there is none this embedder can load (the
    first training, or the features changed)."""
    version = store.baseline_version() or store.active_version()
    if version is None:
        return None
    try:
        model = store.load(version, embedder)
    except Exception:
        return None
    if model.manifest.get("embeddings") != getattr(embedder, "name", None):
        return None
    if store.baseline_version() is None:
        store.set_baseline(version)  # a store from before baselines: its model in use
    return model


def _already_rejected(store: ModelStore, data: TrainingData, embedder: Any) -> str | None:
    wanted, fingerprint = getattr(embedder, "name", None), data.fingerprint()
    for version in reversed(store.versions()):
        manifest = store.manifest(version)
        record = store.gate_record(version)
        if (
            manifest.get("data_hash") == fingerprint
            and manifest.get("embeddings") == wanted
            and record is not None
            and not record.get("promote")
        ):
            return version
    return None


def train_gated(
    store: ModelStore,
    training: TrainingSet,
    embedder: TextEmbedder | None,
    *,
    trigger: str,
    actor: str,
    force: bool = False,
    promote: bool = True,
    folds: int = 3,
    progress: Progress | None = None,
    max_relative_drop: float = 0.05,
    skip_rejected: bool = False,
    now: datetime | None = None,
) -> RetrainReport:
    """Train a candidate on `training` and promote it only through the gate (or `force`).
    `skip_rejected` (start-up): data the gate already rejected is not trained again."""
    current = store.active_version()
    if skip_rejected and not force:
        rejected = _already_rejected(store, training.data, embedder)
        if rejected is not None:
            record = store.gate_record(rejected) or {}
            return RetrainReport(
                promoted=False,
                candidate=rejected,
                current=current,
                reasons=[
                    f"{rejected} was trained on this data and kept out by the gate",
                    *record.get("reasons", []),
                ],
                corrections=len(training.corrections),
                baseline=record.get("baseline"),
                trigger=trigger,
                held_out=training.held_out,
                skipped=True,
            )
    classifier, entities, manifest = train(
        training.data, embedder, folds=folds, progress=progress, now=now
    )
    manifest["corrections"] = correction_summaries(training.corrections)
    manifest["trigger"], manifest["trained_by"] = trigger, actor
    version = store.save(classifier, entities, manifest)
    baseline = _baseline(store, embedder)
    candidate = store.load(version, embedder)
    verdict = judge(
        evidence(baseline, training.golden) if baseline else None,
        evidence(candidate, training.golden),
        max_relative_drop=max_relative_drop,
    )
    forced = force and not verdict.promote
    promoted = promote and (verdict.promote or force)
    reasons = list(verdict.reasons)
    if forced:
        reasons.append(f"promoted anyway: forced by {actor}")
    elif verdict.promote and not promote:
        reasons.append("passed the gate; not promoted (asked not to)")
    store.record_gate(
        version,
        {
            **verdict.as_dict(),
            "reasons": reasons,
            "forced": forced,
            "promoted": promoted,
            "trigger": trigger,
            "actor": actor,
            "decided_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        },
    )
    if promoted:
        store.promote(version, actor=actor, action="forced" if forced else "promoted", note=trigger)
        if baseline is None or forced:
            store.set_baseline(version, actor=actor)
    return RetrainReport(
        promoted=promoted,
        candidate=version,
        current=current,
        reasons=reasons,
        changes=verdict.changes,
        corrections=len(training.corrections),
        baseline=verdict.baseline,
        flips=[f.as_dict() for f in verdict.flips],
        forced=forced,
        trigger=trigger,
        held_out=training.held_out,
    )


def version_summary(store: ModelStore, version: str) -> dict[str, Any]:
    """One version as `frontdesk models list/show` and the admin API show it."""
    manifest = store.manifest(version)
    gate = store.gate_record(version)
    return {
        "version": version,
        "active": version == store.active_version(),
        "baseline": version == store.baseline_version(),
        "trained_at": manifest.get("trained_at"),
        "data_hash": manifest.get("data_hash"),
        "examples": manifest.get("examples"),
        "corrections": manifest.get("corrections", []),
        "trigger": manifest.get("trigger"),
        "trained_by": manifest.get("trained_by"),
        "metrics": manifest.get("metrics", {}),
        "gate": gate,
    }


def accept(store: ModelStore, version: str, *, actor: str) -> str | None:
    """A person promotes `version` by hand: it serves and becomes the baseline. Returns the
    version it replaced."""
    previous = store.active_version()
    store.promote(version, actor=actor, action="accepted")
    store.set_baseline(version, actor=actor)
    return previous


def roll_back(store: ModelStore, *, actor: str, to: str | None = None) -> tuple[str | None, str]:
    """Back to the version in use before the current one (or `to`): it serves again within
    seconds on every running server and becomes the baseline. Returns (from, to)."""
    from frontdesk.errors import InvalidRequestError

    current = store.active_version()
    target = to or store.previous_active()
    if target is None:
        raise InvalidRequestError(
            "no earlier version to roll back to; name one with --to (see `frontdesk models list`)",
            code="no_previous_model",
        )
    if target == current:
        raise InvalidRequestError(
            f"{target} is already the version in use", code="model_already_active"
        )
    store.promote(target, actor=actor, action="rolled_back", note=f"from {current}")
    store.set_baseline(target, actor=actor)
    return current, target
