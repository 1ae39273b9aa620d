"""A conversation's dialogue state, and its JSON form (`conversations.dialogue_state`).

{"active": {"intent": str, "form": str | null,
            "slots": {name: {"value": str, "turn": turn_id}},
            "requested_slot": str | null, "attempts": int} | null,
 "paused": [<same shape>, ...],          # tasks waiting, most recent first
 "slots": {name: {"value": str, "turn": turn_id}},   # every slot filled so far
 "last": <same shape as active>}         # only while set: the last task a form finished
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class SlotValue:
    value: str
    turn: str | None = None  # the turn that gave it

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "turn": self.turn}


@dataclass(frozen=True)
class Frame:
    """One task: its intent, the form collecting its slots, the question pending."""

    intent: str
    form: str | None = None
    slots: dict[str, SlotValue] = field(default_factory=dict)
    requested_slot: str | None = None
    attempts: int = 0  # failed answers to the pending question, in a row

    def to_json(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "form": self.form,
            "slots": {name: slot.to_json() for name, slot in self.slots.items()},
            "requested_slot": self.requested_slot,
            "attempts": self.attempts,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Frame:
        return cls(
            intent=str(data.get("intent") or ""),
            form=data.get("form"),
            slots=_slots(data.get("slots")),
            requested_slot=data.get("requested_slot"),
            attempts=int(data.get("attempts") or 0),
        )

    def values(self) -> dict[str, str]:
        return {name: slot.value for name, slot in self.slots.items()}


@dataclass(frozen=True)
class DialogueState:
    active: Frame | None = None
    paused: tuple[Frame, ...] = ()
    slots: dict[str, SlotValue] = field(default_factory=dict)
    # The last task a form finished, until another starts: "no, it's ..." runs it again.
    last: Frame | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "active": self.active.to_json() if self.active else None,
            "paused": [frame.to_json() for frame in self.paused],
            "slots": {name: slot.to_json() for name, slot in self.slots.items()},
        }
        if self.last is not None:
            data["last"] = self.last.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> DialogueState:
        """The stored state; None or a malformed value is a fresh conversation's."""
        if not isinstance(data, dict):
            return cls()
        active, last = data.get("active"), data.get("last")
        paused = data.get("paused") or []
        return cls(
            active=Frame.from_json(active) if isinstance(active, dict) else None,
            paused=tuple(Frame.from_json(f) for f in paused if isinstance(f, dict)),
            slots=_slots(data.get("slots")),
            last=Frame.from_json(last) if isinstance(last, dict) else None,
        )

    def values(self) -> dict[str, str]:
        return {name: slot.value for name, slot in self.slots.items()}

    def with_(self, **changes: Any) -> DialogueState:
        return replace(self, **changes)


def _slots(data: Any) -> dict[str, SlotValue]:
    if not isinstance(data, dict):
        return {}
    found = {}
    for name, slot in data.items():
        if isinstance(slot, dict) and slot.get("value") is not None:
            found[str(name)] = SlotValue(str(slot["value"]), slot.get("turn"))
    return found
