"""The state tracker: pure functions from (state, understood message, forms) to a new state.

A turn calls `track` before the rules decide (the short answer to a pending question fills
the slot asked for; a confident new intent pauses the task; "no, it's ..." corrects a
slot), and `settle` after (the form the rules ran asks its next question, or is complete; a
finished task lets a paused one resume; a hand-off ends them). No I/O, no model: cheap
enough for every turn, and testable without a database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from frontdesk.config.forms import FormsConfig, SlotConfig, SlotMapping
from frontdesk.dialogue.state import DialogueState, Frame, SlotValue
from frontdesk.types import Entity

Candidate = tuple[str, str | None]  # a value, and the entity type it was extracted as
Event = Literal["none", "fill", "correct", "switch", "failed_attempt", "continue"]

PROFILE = "profile"  # the `turn` of a slot value taken from the customer's profile
# A short answer (this many words or fewer) that fills the pending question answers it, even
# when the classifier is sure the words mean another intent ("thanks, KP-20481736").
SHORT_ANSWER_WORDS = 6
_CORRECTION = re.compile(
    r"^\W*(?:no|nope|sorry|actually|oops|wait|correction)\b|\bi meant\b|\bwrong\b|\binstead\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d{1,2})?(?![\w])")
_YES = re.compile(
    r"^\W*(?:yes|yeah|yep|yup|sure|correct|right|ok(?:ay)?|please do|that's right)\b", re.I
)
_NO = re.compile(r"^\W*(?:no|nope|nah|not really|don't|do not)\b", re.I)
_TOKEN = re.compile(r"[^\s,;:!?\"'()]+")


@dataclass(frozen=True)
class Understood:
    """What the NLU made of one message, as the tracker needs it."""

    text: str
    intent: str | None = None
    confidence: float = 0.0
    out_of_scope: bool = False
    entities: Sequence[Entity] = ()
    turn_id: str | None = None


@dataclass(frozen=True)
class Tracked:
    """`track`'s result. `intent`: the task this message belongs to when it answers the
    active form (None: the classifier's reading stands); `filled`: slots given this turn;
    `refused`: slots whose value failed validation, with the form's message, if any."""

    state: DialogueState
    event: Event = "none"
    intent: str | None = None
    filled: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str | None] = field(default_factory=dict)
    why: str = ""

    @property
    def task_slots(self) -> dict[str, str]:
        """The slots of the task this turn continues (what `has_entity` also counts)."""
        active = self.state.active
        return active.values() if active is not None and self.intent is not None else {}


@dataclass(frozen=True)
class Settled:
    """`settle`'s result: the state to store, and the task that resumed, if one did."""

    state: DialogueState
    resumed: Frame | None = None
    done: Frame | None = None  # the task finished this turn, if one did


def track(state: DialogueState, message: Understood, forms: FormsConfig) -> Tracked:
    """Apply one understood message to the state (before the rules decide)."""
    active = state.active
    known = dict(state.slots)
    if active is None or active.form not in forms.forms:
        values, refused = slot_values(message, forms, None)
        corrected = [s for s, v in values.items() if s in known and known[s].value != v]
        for name, value in values.items():
            known[name] = SlotValue(value, message.turn_id)
        correcting = bool(corrected and _CORRECTION.search(message.text))
        if correcting and active is None and (redo := _rerun(state.last, message, values, forms)):
            # "no, it's KP-..." just after a task finished: that task again, with the value.
            why = f"corrected {', '.join(redo.filled)} of the finished {redo.intent} task"
            return Tracked(
                state.with_(active=redo.frame, slots=known, last=None), "correct", redo.intent,
                redo.filled, refused, why,
            )  # fmt: skip
        event: Event = "correct" if correcting else "none"
        return Tracked(state.with_(slots=known), event, None, values, refused)
    requested = active.requested_slot
    values, refused = slot_values(message, forms, active.form, requested=requested)
    correcting = bool(_CORRECTION.search(message.text))
    short = len(message.text.split()) <= SHORT_ANSWER_WORDS
    # "no, it's KP-..." corrects the task's slot; "actually first, can you track parcel
    # KP-... for me" is a new request.
    corrects = (correcting and short) and any(
        name in active.slots and active.slots[name].value != value for name, value in values.items()
    )
    attempted = requested is not None and (requested in values or requested in refused)
    if not corrects and _switches(active, message, forms, answered=attempted):
        # A new task: the form waits (most recent first) and resumes when that is done.
        values, refused = slot_values(message, forms, None)
        for name, value in values.items():
            known[name] = SlotValue(value, message.turn_id)
        paused = (active, *state.paused)
        why = f"{message.intent} ({message.confidence:.2f}) while {active.intent} waited"
        return Tracked(
            state.with_(active=None, paused=paused, slots=known), "switch", None, values,
            refused, why,
        )  # fmt: skip
    slots = dict(active.slots)
    event = "continue"
    filled: dict[str, str] = {}
    for name, value in values.items():
        old = slots.get(name)
        if old is not None and old.value == value:
            continue
        if old is not None and not correcting and name != requested:
            continue  # a value mentioned in passing does not overwrite one given before
        if old is not None:
            event = "correct"
        slots[name] = known[name] = SlotValue(value, message.turn_id)
        filled[name] = value
    attempts = active.attempts
    if requested is not None and requested in filled:
        event, attempts, requested = ("correct" if event == "correct" else "fill"), 0, None
    elif requested is not None and event != "correct":
        event, attempts = "failed_attempt", attempts + 1
    frame = replace(active, slots=slots, requested_slot=requested, attempts=attempts)
    why = {
        "fill": f"answered {active.requested_slot}",
        "correct": f"corrected {', '.join(filled)}",
        "failed_attempt": f"no valid {requested} (attempt {attempts})",
    }.get(event, "")
    return Tracked(
        state.with_(active=frame, slots=known), event, active.intent, filled, refused, why
    )


@dataclass(frozen=True)
class _Rerun:
    frame: Frame
    intent: str
    filled: dict[str, str]


def _rerun(
    last: Frame | None, message: Understood, values: dict[str, str], forms: FormsConfig
) -> _Rerun | None:
    """The finished task a short correction is about: one of its slots, with another value."""
    if last is None or last.form not in forms.forms:
        return None
    if len(message.text.split()) > SHORT_ANSWER_WORDS:
        return None
    required = forms.forms[last.form].required_slots
    filled = {
        name: value
        for name, value in values.items()
        if name in required and name in last.slots and last.slots[name].value != value
    }
    if not filled:
        return None
    slots = dict(last.slots)
    for name, value in filled.items():
        slots[name] = SlotValue(value, message.turn_id)
    frame = replace(last, slots=slots, requested_slot=None, attempts=0)
    return _Rerun(frame, last.intent, filled)


def reject(before: DialogueState, tracked: Tracked, slot: str, message: str | None = None
           ) -> Tracked:  # fmt: skip
    """`tracked` without the value it gave `slot` (a lookup refused it: validation.tool):
    the slot is as it was before the message, and when it was the slot asked for, the answer
    counts a failed attempt."""
    if slot not in tracked.filled:
        return tracked
    known = _restored(tracked.state.slots, before.slots, slot)
    active, event = tracked.state.active, tracked.event
    previous = before.active
    if active is not None and tracked.intent is not None and previous is not None:
        slots = _restored(active.slots, previous.slots, slot)
        if previous.requested_slot == slot:
            event = "failed_attempt"
            active = replace(active, slots=slots, requested_slot=slot,
                             attempts=previous.attempts + 1)  # fmt: skip
        else:
            active = replace(active, slots=slots)
    filled = {k: v for k, v in tracked.filled.items() if k != slot}
    return replace(
        tracked,
        state=tracked.state.with_(active=active, slots=known),
        event=event,
        filled=filled,
        refused={**tracked.refused, slot: message},
        why=f"{slot} {tracked.filled[slot]} refused by its lookup",
    )


def _restored(
    now: dict[str, SlotValue], before: dict[str, SlotValue], slot: str
) -> dict[str, SlotValue]:
    slots = {k: v for k, v in now.items() if k != slot}
    if slot in before:
        slots[slot] = before[slot]
    return slots


def settle(
    state: DialogueState,
    forms: FormsConfig,
    *,
    intent: str | None,
    form: str | None,
    asked: str | None,
    handoff: bool = False,
    answered: bool = True,
    prefill: dict[str, str] | None = None,
) -> Settled:
    """Apply the decision (after the rules decided and the reply was made).

    `form`: the form the rules ran this turn (None: none); `asked`: the slot it asks for
    (None: the form is complete); `handoff`: people take the conversation over (every task
    ends); `answered`: the turn did its task (an answer or a tool), so a paused one may
    resume (a clarifying question outside a form does not); `prefill`: values from the
    customer's profile for the form's slots the conversation has not given (`from_profile`),
    marked as from the profile (`SlotValue.turn == "profile"`). A task the form finished is
    kept as `last` until another starts ("no, it's ..." then runs it again)."""
    if handoff:
        return Settled(state.with_(active=None, paused=(), last=None), done=state.active)
    active, paused, last = state.active, list(state.paused), state.last
    done: Frame | None = None
    known = {**state.slots, **{k: SlotValue(v, PROFILE) for k, v in (prefill or {}).items()
                               if k not in state.slots}}  # fmt: skip
    if form is not None and form in forms.forms:
        if active is None or active.form != form:
            if active is not None:
                paused.insert(0, active)
            slots = {
                name: known[name] for name in forms.forms[form].required_slots if name in known
            }
            slots.update(_from_trigger(forms, form, intent))
            active = Frame(intent=intent or "", form=form, slots=slots)
            last = None  # a new task: a correction from now on is about this one
        else:
            # A value the conversation knows (given in passing) counts for the form too.
            slots = dict(active.slots)
            for name in forms.forms[form].required_slots:
                if name not in slots and name in known:
                    slots[name] = known[name]
            active = replace(active, slots=slots)
        state = state.with_(slots={**known, **active.slots}, last=last)
        if asked is not None:
            active = replace(active, requested_slot=asked)
            return Settled(state.with_(active=active, paused=tuple(paused)))
        done, active = active, None
    elif active is not None and active.form in forms.forms:
        if not forms.missing(active.form, active.values()):
            done, active = active, None
    elif active is not None and answered:
        done, active = active, None  # a task without a form is done once answered
    if done is not None and done.form in forms.forms:
        state = state.with_(last=done)
    resumed = None
    if active is None and paused and answered:
        resumed = replace(paused.pop(0), attempts=0)
        if resumed.form in forms.forms and resumed.requested_slot is None:
            missing = forms.missing(resumed.form, resumed.values())
            resumed = replace(resumed, requested_slot=missing[0] if missing else None)
        active = resumed
    return Settled(state.with_(active=active, paused=tuple(paused)), resumed, done)


def _from_trigger(forms: FormsConfig, form: str, intent: str | None) -> dict[str, SlotValue]:
    """Slots a form takes from the intent that started it (Rasa's from_trigger_intent)."""
    found: dict[str, SlotValue] = {}
    for name in forms.forms[form].required_slots:
        slot = forms.slots.get(name)
        for mapping in slot.mappings if slot is not None else []:
            wanted, excluded = mapping.intents()
            if (
                mapping.type == "from_trigger_intent"
                and intent is not None
                and intent not in excluded
                and (not wanted or intent in wanted)
                and mapping.applies(form, name)  # as if asked, as the form starts
            ):
                found[name] = SlotValue(_scalar(mapping.value))
                break
    return found


def from_profile(
    forms: FormsConfig, form: str, facts: dict[str, str], have: dict[str, str]
) -> dict[str, str]:
    """The form's slots the conversation has not given (`have`) that the customer's profile
    knows (`facts`: entity type -> value, memory.profile_facts): through the slot's
    from_entity mappings, and only values its validation accepts."""
    found: dict[str, str] = {}
    for name in forms.forms[form].required_slots:
        slot = forms.slots.get(name)
        if slot is None or name in have:
            continue
        mappings = slot.mappings or [SlotMapping(type="from_entity", entity=name)]
        for mapping in mappings:
            value = facts.get(mapping.entity or "") if mapping.type == "from_entity" else None
            if value is not None and _valid(slot, value, mapping.entity):
                found[name] = value
                break
    return found


def form_step(
    forms: FormsConfig, form: str, slots: dict[str, str], attempts: int
) -> tuple[Literal["ask", "complete", "give_up"], str | None]:
    """What a form needs next, given its slots: ask for a slot, done, or give up (hand off)
    after `max_attempts` failed answers."""
    missing = forms.missing(form, slots)
    if not missing:
        return "complete", None
    if attempts >= forms.forms[form].max_attempts:
        return "give_up", missing[0]
    return "ask", missing[0]


def slot_values(
    message: Understood, forms: FormsConfig, form: str | None, *, requested: str | None = None
) -> tuple[dict[str, str], dict[str, str | None]]:
    """The slot values in a message, validated: from its entities for every declared slot
    (the active form's slots, or all when none is active); for the `requested` slot also
    from the words themselves (a bare number for an amount, yes/no, a token that matches
    the slot's pattern, the whole text for from_text). Returns (values, refused)."""
    names = list(forms.forms[form].required_slots) if form else list(forms.slots)
    ignored = set(forms.forms[form].ignored_intents) if form else set()
    if message.intent in ignored:
        return {}, {}
    values: dict[str, str] = {}
    refused: dict[str, str | None] = {}
    for name in names:
        slot = forms.slots.get(name)
        if slot is None:
            continue
        candidates = _from_mappings(name, slot, message, form, requested)
        if name == requested and not candidates:
            candidates = _biased(slot, message)
        for value, entity_type in candidates:
            if _valid(slot, value, entity_type):
                values[name] = value
                break
        else:
            if candidates and slot.validation is not None:
                refused[name] = slot.validation.message
    return values, refused


def _from_mappings(
    name: str, slot: SlotConfig, message: Understood, form: str | None, asked: str | None
) -> list[Candidate]:
    found: list[Candidate] = []
    requested = name == asked
    # No mappings: the entity of the slot's name (what Rasa 2 did by default).
    for mapping in slot.mappings or [SlotMapping(type="from_entity", entity=name)]:
        if not _intent_allows(mapping, message) or not mapping.applies(form, asked):
            continue
        if mapping.type == "from_entity":
            for entity in message.entities:
                if entity.type != mapping.entity:
                    continue
                # The answer to "where to?" gives the role itself: asked, a city with no
                # role is the destination.
                if (
                    mapping.role
                    and entity.role != mapping.role
                    and not (requested and entity.role is None)
                ):
                    continue
                if mapping.group and entity.group != mapping.group:
                    continue
                found.append((_entity_value(entity.value), entity.type))
        elif mapping.type == "from_intent" and message.intent is not None:
            found.append((_scalar(mapping.value), None))
        elif mapping.type == "from_text" and requested and message.text.strip():
            found.append((message.text.strip(), None))
    return found


def _intent_allows(mapping: SlotMapping, message: Understood) -> bool:
    wanted, excluded = mapping.intents()
    if message.intent in excluded:
        return False
    return not wanted or (message.intent in wanted and not message.out_of_scope)


def _biased(slot: SlotConfig, message: Understood) -> list[Candidate]:
    """The pending question's answer read from the words, as the slot's kind expects."""
    text = _without_entities(message)
    if slot.type == "bool":
        if _YES.search(text):
            return [("true", None)]
        if _NO.search(text):
            return [("false", None)]
        return []
    if slot.type == "categorical" and slot.values:
        lowered = text.lower()
        said = [v for v in slot.values if re.search(rf"\b{re.escape(v.lower())}\b", lowered)]
        return [(value, None) for value in said]
    entity = next((m.entity for m in slot.mappings if m.type == "from_entity"), None)
    if slot.type == "float" or entity == "amount":
        if len(text.split()) > SHORT_ANSWER_WORDS:
            return []
        numbers: list[Candidate] = [(_number(m.group(0)), None) for m in _NUMBER.finditer(text)]
        return numbers[:1]
    pattern = slot.validation.regex if slot.validation else None
    if pattern is not None:
        # Words that could be a try at an identifier: with a digit, or the whole answer.
        words = _TOKEN.findall(message.text)
        tried = [w for w in words if len(words) == 1 or any(c.isdigit() for c in w)]
        return [(word.upper(), None) for word in tried[:20]]
    return []


def _valid(slot: SlotConfig, value: str, entity_type: str | None) -> bool:
    rule = slot.validation
    if rule is None:
        return True
    if rule.regex is not None and not re.fullmatch(rule.regex, value, re.IGNORECASE):
        return False
    return not (rule.entity is not None and entity_type != rule.entity and rule.regex is None)


def _switches(active: Frame, message: Understood, forms: FormsConfig, *, answered: bool) -> bool:
    """A confident other intent starts a new task, unless the message is a short answer to
    the pending question."""
    if message.intent is None or message.out_of_scope or message.intent == active.intent:
        return False
    if message.confidence < forms.switch_confidence:
        return False
    form = forms.forms.get(active.form or "")
    if form is not None and message.intent in (*form.ignored_intents, *form.intents):
        return False  # the same kind of task: the form goes on
    return not (answered and len(message.text.split()) <= SHORT_ANSWER_WORDS)


def _without_entities(message: Understood) -> str:
    """The words outside other entities: "KP-20481737" holds no amount."""
    text = message.text
    for entity in sorted(message.entities, key=lambda e: e.start, reverse=True):
        if entity.type != "amount":
            text = text[: entity.start] + " " + text[entity.end :]
    return text


def _entity_value(value: object) -> str:
    if isinstance(value, dict) and "amount" in value:
        return _number(str(value["amount"]))
    return _scalar(value)


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(text: str) -> str:
    try:
        return f"{float(text.replace(',', '.')):g}"
    except ValueError:
        return text
