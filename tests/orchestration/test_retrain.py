"""Training behind the one gate: corrections included (enabled ones, none from the golden
set), judged against the promoted baseline (which does not drift), forced promotions and
rollbacks becoming the baseline; and end to end with the real NLU trainer and corrections
stored from the console."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from frontdesk.errors import InvalidRequestError
from frontdesk.nlu.model_store import ModelStore
from frontdesk.nlu.training_data import TrainingData, load_yaml
from frontdesk.orchestration.learning import RetrainReport, TrainingSet, roll_back, train_gated
from frontdesk.orchestration.retrain import retrain
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.conversations import create_conversation
from frontdesk.storage.models import AuditLog
from frontdesk.storage.support_models import TrainingExample
from frontdesk.types import InboundMessage

NLU = """nlu:
- intent: greet
  examples: |
    - hi
    - hello
    - hey there
    - good morning
    - hiya
    - hello again
- intent: refund
  examples: |
    - I want my money back
    - give me a refund
    - can I get a refund
    - money back please
    - refund the table please
    - please refund my order
- intent: track
  examples: |
    - where is my parcel
    - track my package
    - where is my order
    - has my box shipped
    - when will my delivery come
    - status of my parcel
"""
POISON = ["I want a refund of my money", "refund my money", "a refund of my money please",
          "my money refund"]  # fmt: skip
GOLDEN = """nlu:
- intent: refund
  examples: |
    - I'd like a refund of my money
- intent: greet
  examples: |
    - hello hello
"""


def _yaml(tmp_path: Path, name: str, text: str) -> TrainingData:
    path = tmp_path / name
    path.write_text(text)
    return load_yaml(path)


def _row(text: str, intent: str, *, disabled: bool = False) -> TrainingExample:
    return TrainingExample(id=f"c{abs(hash(text)) % 10**8}", text=text, intent=intent,
                           entities=[], created_by="ana",
                           disabled_at=datetime.now(UTC) if disabled else None)  # fmt: skip


def _train(store: ModelStore, base: TrainingData, golden: TrainingData,
           rows: list[TrainingExample], *, force: bool = False,
           skip_rejected: bool = False) -> RetrainReport:  # fmt: skip
    training = TrainingSet.build(base, rows, golden)
    return train_gated(store, training, None, trigger="test", actor="ana", force=force,
                       skip_rejected=skip_rejected)  # fmt: skip


def test_poison_is_kept_out_against_the_baseline_and_the_flip_is_named(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    base, golden = _yaml(tmp_path, "nlu.yml", NLU), _yaml(tmp_path, "golden.yml", GOLDEN)
    first = _train(store, base, golden, [])
    assert first.promoted
    assert store.baseline_version() == first.candidate

    good = _train(store, base, golden, [_row("wheres my stuff", "track")])
    assert good.promoted, good.reasons
    assert good.baseline == first.candidate
    assert store.baseline_version() == first.candidate  # a gated pass does not move it
    assert store.manifest(good.candidate)["corrections"][0]["text"] == "wheres my stuff"

    poison = [_row(t, "greet") for t in POISON]
    kept = _train(store, base, golden, [_row("wheres my stuff", "track"), *poison])
    assert not kept.promoted
    assert store.active_version() == good.candidate
    assert any("intent refund loses 1" in r and "I'd like a refund of my money" in r
               for r in kept.reasons), kept.reasons  # fmt: skip
    record = store.gate_record(kept.candidate)
    assert record is not None
    assert record["promote"] is False
    assert record["flips"]

    # Disabling the poison is enough: the next training is clean and passes.
    cleaned = [_row("wheres my stuff", "track"), *(_row(p.text, "greet", disabled=True)
                                                   for p in poison)]  # fmt: skip
    again = _train(store, base, golden, cleaned)
    assert again.corrections == 1
    assert again.promoted, again.reasons

    # A person forces the poisoned one: audited in its record, and it becomes the baseline.
    forced = _train(store, base, golden, [_row("wheres my stuff", "track"), *poison],
                    force=True)  # fmt: skip
    assert forced.promoted
    assert forced.forced
    assert store.baseline_version() == forced.candidate
    forced_record = store.gate_record(forced.candidate)
    assert forced_record is not None
    assert forced_record["forced"] is True

    # Rolled back: the previous version serves and is the baseline again.
    before, after = roll_back(store, actor="ana")
    assert (before, after) == (forced.candidate, again.candidate)
    assert store.active_version() == store.baseline_version() == again.candidate


def test_golden_texts_never_train_and_rejected_data_is_not_retrained(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    base, golden = _yaml(tmp_path, "nlu.yml", NLU), _yaml(tmp_path, "golden.yml", GOLDEN)
    leak = _row("  Hello HELLO ", "refund")
    training = TrainingSet.build(base, [leak], golden)
    assert (training.corrections, training.held_out) == ([], 1)
    _train(store, base, golden, [])
    poison = [_row(t, "greet") for t in POISON]
    kept = _train(store, base, golden, poison)
    assert not kept.promoted
    versions = store.versions()
    skipped = _train(store, base, golden, poison, skip_rejected=True)
    assert skipped.skipped
    assert skipped.candidate == kept.candidate
    assert store.versions() == versions  # nothing trained


def test_rollback_needs_somewhere_to_go(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    _train(store, _yaml(tmp_path, "nlu.yml", NLU), _yaml(tmp_path, "golden.yml", GOLDEN), [])
    with pytest.raises(InvalidRequestError, match="no earlier version"):
        roll_back(store, actor="ana")


async def test_console_corrections_retrain_the_real_model(sqlite_runtime: Runtime) -> None:
    rt = sqlite_runtime
    async with rt.db.session(rt.tenant.id) as session:
        conversation = await create_conversation(session, channel="web")
        await session.commit()
    reply = await rt.assistant.handle(InboundMessage(
        tenant_id=rt.tenant.id, conversation_id=conversation.id,
        text="the courier chucked my parcel over the fence and it's smashed"))  # fmt: skip
    async with rt.db.session(rt.tenant.id) as session:
        session.add(TrainingExample(turn_id=reply.turn_id, text="the courier chucked my parcel "
                                    "over the fence and it's smashed", intent="damaged_goods",
                                    entities=[], created_by="ana"))  # fmt: skip
        await session.commit()
    store = ModelStore(rt.workspace.state_dir / "models" / "nlu")
    before = store.versions()
    report = await retrain(rt, actor="root@kestrel.test")
    assert report.corrections == 1
    assert report.candidate in store.versions()
    assert len(store.versions()) == len(before) + 1
    assert store.manifest(report.candidate)["examples"] == len(rt.training_data.in_scope) + 1
    assert (store.active_version() == report.candidate) == report.promoted
    assert report.reasons
    assert report.baseline == before[0]  # the demo's first trained version
    async with rt.db.session(rt.tenant.id) as session:
        entry = await session.scalar(select(AuditLog).where(AuditLog.target == report.candidate))
    assert entry is not None
    assert entry.action == f"nlu.train.{report.outcome}"
    assert entry.actor == "root@kestrel.test"
    assert entry.detail["reasons"] == report.reasons
