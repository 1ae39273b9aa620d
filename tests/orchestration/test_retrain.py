"""Retraining behind the promotion gate: with a stand-in trainer in both directions, and
end to end with the real NLU trainer and corrections stored from the console."""

from __future__ import annotations

from dataclasses import dataclass, field

from frontdesk.nlu.model_store import ModelStore
from frontdesk.nlu.training_data import TrainingData
from frontdesk.orchestration.retrain import Candidate, retrain, retrain_with_gate
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.conversations import create_conversation
from frontdesk.storage.support_models import TrainingExample
from frontdesk.types import InboundMessage


@dataclass
class FakeTrainer:
    now: Candidate | None
    next_metrics: dict[str, float]
    promoted: list[str] = field(default_factory=list)
    trained_on: list[int] = field(default_factory=list)

    def current(self) -> Candidate | None:
        return self.now

    def train(self, data: TrainingData) -> Candidate:
        self.trained_on.append(len(data.examples))
        return Candidate("v2", self.next_metrics)

    def promote(self, version: str) -> None:
        self.promoted.append(version)


CURRENT = Candidate("v1", {"held_out_accuracy": 0.9, "ece": 0.05, "golden_accuracy": 0.8,
                           "train_seconds": 3.0})  # fmt: skip


def test_better_candidate_is_promoted() -> None:
    trainer = FakeTrainer(CURRENT, {"held_out_accuracy": 0.91, "ece": 0.05,
                                    "golden_accuracy": 0.79})  # fmt: skip
    report = retrain_with_gate(trainer, TrainingData(), corrections=3)
    assert report.promoted
    assert trainer.promoted == ["v2"]
    assert (report.candidate, report.current, report.corrections) == ("v2", "v1", 3)


def test_worse_candidate_is_kept_out_and_the_report_says_why() -> None:
    trainer = FakeTrainer(CURRENT, {"held_out_accuracy": 0.91, "ece": 0.05,
                                    "golden_accuracy": 0.70})  # fmt: skip
    report = retrain_with_gate(trainer, TrainingData())
    assert not report.promoted
    assert trainer.promoted == []
    assert report.reasons == [
        "golden_accuracy would drop 12.5% (0.8000 -> 0.7000); the limit is 5%"
    ]
    assert report.as_dict()["changes"]


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
    report = await retrain(rt)
    assert report.corrections == 1
    assert report.candidate in store.versions()
    assert len(store.versions()) == len(before) + 1
    assert store.manifest(report.candidate)["examples"] == len(rt.training_data.in_scope) + 1
    assert (store.active_version() == report.candidate) == report.promoted
    assert report.reasons
