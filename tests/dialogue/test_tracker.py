"""The state tracker as pure functions: no database, no model."""

from __future__ import annotations

import re

import pytest

from frontdesk.config.forms import FormsConfig
from frontdesk.dialogue import (
    DialogueState,
    Frame,
    SlotValue,
    Understood,
    form_step,
    from_profile,
    settle,
    track,
)
from frontdesk.types import Entity

FORMS = FormsConfig.model_validate(
    {
        "forms": {
            "parcel_form": {"required_slots": ["order_id"], "team": "support"},
            "refund_form": {"required_slots": ["order_id", "amount"], "team": "billing"},
            "confirm_form": {"required_slots": ["confirmed"]},
        },
        "slots": {
            "order_id": {
                "type": "text",
                "mappings": [{"type": "from_entity", "entity": "order_id"}],
                "validation": {"regex": r"^KP-\d{8}$"},
            },
            "amount": {"type": "float", "mappings": [{"type": "from_entity", "entity": "amount"}]},
            "confirmed": {"type": "bool", "mappings": [{"type": "from_text"}]},
        },
        "responses": {"utter_ask_order_id": [{"text": "Order number?"}]},
    }
)


def _message(text: str, intent: str | None = None, confidence: float = 0.2, turn: str = "t2"
             ) -> Understood:  # fmt: skip
    entities = [
        Entity(type="order_id", text=m.group(0), value=m.group(0), start=m.start(),
               end=m.end(), extractor="regex")
        for m in re.finditer(r"\bKP-\d{8}\b", text)
    ] + [
        Entity(type="amount", text=m.group(0), value={"amount": float(m.group(1)),
               "currency": "GBP"}, start=m.start(), end=m.end(), extractor="money")
        for m in re.finditer(r"£(\d+(?:\.\d+)?)", text)
    ]  # fmt: skip
    return Understood(text=text, intent=intent, confidence=confidence, entities=entities,
                      turn_id=turn)  # fmt: skip


def _asking(form: str, slot: str | None, intent: str = "lost_parcel", **slots: str
            ) -> DialogueState:  # fmt: skip
    frame = Frame(intent=intent, form=form, requested_slot=slot,
                  slots={k: SlotValue(v, "t1") for k, v in slots.items()})  # fmt: skip
    return DialogueState(active=frame, slots=dict(frame.slots))


def test_a_short_answer_fills_the_requested_slot_whatever_the_classifier_says() -> None:
    tracked = track(_asking("parcel_form", "order_id"), _message("KP-20481736", "greet", 0.9),
                    FORMS)  # fmt: skip
    assert tracked.event == "fill"
    assert tracked.intent == "lost_parcel"
    assert tracked.state.active is not None
    assert tracked.state.active.slots["order_id"] == SlotValue("KP-20481736", "t2")
    assert tracked.state.active.requested_slot is None
    assert tracked.state.slots["order_id"].value == "KP-20481736"
    assert tracked.task_slots == {"order_id": "KP-20481736"}


def test_extraction_is_biased_to_the_asked_slot() -> None:
    # Lower case: not an order_id entity, but a token that matches the slot's pattern.
    filled = track(_asking("parcel_form", "order_id"), _message("it's kp-20481736"), FORMS)
    assert filled.filled == {"order_id": "KP-20481736"}
    # A bare number answers "how much?", not a number inside an order id.
    state = _asking("refund_form", "amount", "request_refund", order_id="KP-20481736")
    assert track(state, _message("25 pounds"), FORMS).filled == {"amount": "25"}
    assert track(state, _message("£12.50"), FORMS).filled == {"amount": "12.5"}
    # yes / no for a bool slot.
    confirm = _asking("confirm_form", "confirmed", "request_refund")
    assert track(confirm, _message("yes please"), FORMS).filled == {"confirmed": "yes please"}


def test_an_answer_that_fills_nothing_counts_a_failed_attempt() -> None:
    state = _asking("parcel_form", "order_id")
    for attempt in (1, 2, 3):
        tracked = track(state, _message("I don't have it"), FORMS)
        assert tracked.event == "failed_attempt"
        assert tracked.state.active is not None
        state = tracked.state
        assert state.active is not None
        assert state.active.attempts == attempt
    assert form_step(FORMS, "parcel_form", {}, 3) == ("give_up", "order_id")
    assert form_step(FORMS, "parcel_form", {}, 2) == ("ask", "order_id")


def test_an_invalid_value_is_refused() -> None:
    tracked = track(_asking("parcel_form", "order_id"), _message("KP-123"), FORMS)
    assert tracked.event == "failed_attempt"
    assert "order_id" not in tracked.state.slots


def test_a_confident_new_intent_pauses_the_task_and_it_resumes_after() -> None:
    state = _asking("parcel_form", "order_id")
    tracked = track(state, _message("I want a refund of £25 for KP-20481736 as well",
                                    "request_refund", 0.9), FORMS)  # fmt: skip
    assert tracked.event == "switch"
    assert tracked.intent is None
    assert tracked.state.active is None
    assert [f.intent for f in tracked.state.paused] == ["lost_parcel"]
    assert tracked.state.slots["amount"].value == "25"
    # The refund runs at once (complete); then the parcel task resumes, asking again.
    settled = settle(tracked.state, FORMS, intent="request_refund", form="refund_form", asked=None)
    assert settled.done is not None
    assert settled.done.intent == "request_refund"
    assert settled.resumed is not None
    assert settled.state.active == settled.resumed
    assert settled.resumed.intent == "lost_parcel"
    assert settled.resumed.requested_slot == "order_id"
    assert settled.state.paused == ()


def test_a_short_answer_is_not_a_switch_even_when_confident() -> None:
    tracked = track(_asking("parcel_form", "order_id"),
                    _message("thanks, KP-20481736", "thank_you", 0.95), FORMS)  # fmt: skip
    assert tracked.event == "fill"


def test_no_its_corrects_a_slot_without_counting_an_attempt() -> None:
    state = _asking("refund_form", "amount", "request_refund", order_id="KP-20481736")
    tracked = track(state, _message("no, it's KP-20481737"), FORMS)
    assert tracked.event == "correct"
    assert tracked.state.active is not None
    assert tracked.state.active.slots["order_id"].value == "KP-20481737"
    assert tracked.state.active.requested_slot == "amount"
    assert tracked.state.active.attempts == 0
    assert tracked.state.slots["order_id"].value == "KP-20481737"


def test_a_value_in_passing_does_not_overwrite_without_a_correction() -> None:
    state = _asking("refund_form", "amount", "request_refund", order_id="KP-20481736")
    tracked = track(state, _message("£30 for KP-99999999"), FORMS)
    assert tracked.state.active is not None
    assert tracked.state.active.slots["order_id"].value == "KP-20481736"
    assert tracked.filled == {"amount": "30"}


def test_settle_starts_a_form_prefilled_with_known_slots() -> None:
    state = DialogueState(slots={"order_id": SlotValue("KP-20481736", "t1")})
    settled = settle(state, FORMS, intent="request_refund", form="refund_form", asked="amount")
    active = settled.state.active
    assert active is not None
    assert active.form == "refund_form"
    assert active.requested_slot == "amount"
    assert active.slots["order_id"].value == "KP-20481736"


def test_a_handoff_ends_every_task() -> None:
    state = _asking("parcel_form", "order_id")
    state = state.with_(paused=(Frame(intent="request_refund", form="refund_form"),))
    settled = settle(state, FORMS, intent="lost_parcel", form=None, asked=None, handoff=True)
    assert settled.state.active is None
    assert settled.state.paused == ()


def test_outside_a_form_entities_are_remembered() -> None:
    tracked = track(DialogueState(), _message("track KP-20481736", "track_parcel", 0.9), FORMS)
    assert tracked.event == "none"
    assert tracked.state.slots["order_id"].value == "KP-20481736"
    assert tracked.task_slots == {}


@pytest.mark.parametrize(
    "stored", [None, {}, "junk", {"active": "x", "paused": [1], "slots": {"a": 3}}]
)
def test_stored_state_round_trips_and_tolerates_junk(stored: object) -> None:
    state = DialogueState.from_json(stored)  # type: ignore[arg-type]
    assert state.active is None
    full = _asking("refund_form", "amount", "request_refund", order_id="KP-20481736")
    assert DialogueState.from_json(full.to_json()) == full
    assert full.to_json() == {
        "active": {"intent": "request_refund", "form": "refund_form",
                   "slots": {"order_id": {"value": "KP-20481736", "turn": "t1"}},
                   "requested_slot": "amount", "attempts": 0},
        "paused": [],
        "slots": {"order_id": {"value": "KP-20481736", "turn": "t1"}},
    }  # fmt: skip


def test_a_correction_is_not_a_switch_even_when_the_classifier_is_sure() -> None:
    state = _asking("refund_form", "amount", "request_refund", order_id="KP-20481736")
    tracked = track(state, _message("no, it's KP-20481737", "track_parcel", 0.98), FORMS)
    assert tracked.event == "correct"
    assert tracked.intent == "request_refund"


def test_another_intent_of_the_same_form_goes_on_with_the_task() -> None:
    forms = FORMS.model_copy(deep=True)
    forms.forms["parcel_form"].intents = ["lost_parcel", "track_parcel"]
    message = _message("the order number is KP-63027715 I think", "track_parcel", 0.95)
    tracked = track(_asking("parcel_form", "order_id"), message, forms)
    assert tracked.event == "fill"
    assert tracked.intent == "lost_parcel"
    assert track(_asking("parcel_form", "order_id"), message, FORMS).event == "switch"


def test_a_value_its_lookup_refuses_is_undone_and_counts_an_attempt() -> None:
    from frontdesk.dialogue import reject

    before = _asking("parcel_form", "order_id")
    tracked = track(before, _message("KP-20480000"), FORMS)
    assert tracked.event == "fill"
    refused = reject(before, tracked, "order_id", "No parcel has that number.")
    assert refused.event == "failed_attempt"
    assert refused.state.active is not None
    assert refused.state.active.requested_slot == "order_id"
    assert refused.state.active.attempts == 1
    assert "order_id" not in refused.state.active.slots
    assert "order_id" not in refused.state.slots
    assert refused.refused == {"order_id": "No parcel has that number."}


def test_a_rasa_domain_reads_as_forms_and_its_conditions_hold() -> None:
    """Rasa's own mappings: conditions (active_loop, requested_slot), from_intent,
    from_trigger_intent, custom (never filled here)."""
    forms = FormsConfig.model_validate(
        {
            "version": "3.1",
            "intents": ["affirm", "open_incident", "password_reset"],
            "forms": {"incident_form": {"ignored_intents": [],
                                        "required_slots": ["title", "confirm"]}},
            "slots": {
                "title": {"type": "text", "influence_conversation": False, "mappings": [
                    {"type": "from_trigger_intent", "intent": "password_reset",
                     "value": "Problem resetting password",
                     "conditions": [{"active_loop": "incident_form",
                                     "requested_slot": "title"}]},
                    {"type": "from_text", "conditions": [{"active_loop": "incident_form",
                                                          "requested_slot": "title"}]}]},
                "confirm": {"type": "bool", "mappings": [
                    {"type": "from_intent", "intent": "affirm", "value": True,
                     "conditions": [{"active_loop": "incident_form",
                                     "requested_slot": "confirm"}]}]},
                "caller": {"type": "text", "mappings": [{"type": "custom"}]},
            },
            "responses": {"utter_ask_title": [{"text": "Title?"}],
                          "utter_ask_confirm": [{"text": "Shall I open it?"}]},
        }
    )  # fmt: skip
    assert forms.problems() == []
    started = settle(DialogueState(), forms, intent="password_reset", form="incident_form",
                     asked="confirm")  # fmt: skip
    assert started.state.active is not None
    assert started.state.active.slots["title"].value == "Problem resetting password"
    # "yes" fills confirm only while confirm is asked.
    asking_title = _asking("incident_form", "title", "open_incident")
    said_yes = _message("yes", "affirm", 0.99)
    assert track(asking_title, said_yes, forms).filled == {"title": "yes"}
    asking_confirm = _asking("incident_form", "confirm", "open_incident", title="Printer")
    assert track(asking_confirm, said_yes, forms).filled == {"confirm": "true"}


def test_asked_for_a_role_an_entity_without_one_answers() -> None:
    forms = FormsConfig.model_validate(
        {"forms": {"trip_form": {"required_slots": ["destination"]}},
         "slots": {"destination": {"mappings": [{"type": "from_entity", "entity": "city",
                                                 "role": "destination"}]}},
         "responses": {"utter_ask_destination": [{"text": "Where to?"}]}}
    )  # fmt: skip
    paris = Entity(type="city", text="Paris", value="Paris", start=3, end=8, extractor="crf")
    message = Understood(text="to Paris", intent="book_trip", entities=[paris])
    assert track(_asking("trip_form", "destination"), message, forms).filled == {
        "destination": "Paris"
    }
    # Not asked for: a city with no role is not the destination.
    assert track(_asking("trip_form", None), message, forms).filled == {}


# -- issue 19 leftovers: a finished task corrected, slots prefilled from the profile ---------


def test_a_finished_task_is_kept_as_the_last_one() -> None:
    state = _asking("parcel_form", None, order_id="KP-20481736")
    settled = settle(state, FORMS, intent="lost_parcel", form="parcel_form", asked=None)
    assert settled.state.active is None
    assert settled.state.last is not None
    assert settled.state.last.form == "parcel_form"
    assert settled.state.last.values() == {"order_id": "KP-20481736"}
    # Stored and read back with the rest of the state.
    assert DialogueState.from_json(settled.state.to_json()) == settled.state
    # A new task forgets it: a later "no, it's ..." is about that one.
    started = settle(settled.state, FORMS, intent="request_refund", form="refund_form",
                     asked="amount")  # fmt: skip
    assert started.state.last is None


def test_no_its_after_a_finished_task_runs_it_again_with_the_new_value() -> None:
    state = _asking("parcel_form", None, order_id="KP-20481736")
    done = settle(state, FORMS, intent="lost_parcel", form="parcel_form", asked=None).state
    tracked = track(done, _message("no, it's KP-20481737", "track_parcel", 0.4, turn="t3"), FORMS)
    assert tracked.event == "correct"
    assert tracked.intent == "lost_parcel"  # the finished task, not the classifier's guess
    active = tracked.state.active
    assert active is not None
    assert active.form == "parcel_form"
    assert active.slots["order_id"] == SlotValue("KP-20481737", "t3")
    assert active.requested_slot is None
    assert tracked.task_slots == {"order_id": "KP-20481737"}
    # Not a correction: the finished task stays finished.
    other = track(done, _message("my other parcel KP-20481737 is late", "late_delivery", 0.9),
                  FORMS)  # fmt: skip
    assert other.event == "none"
    assert other.intent is None
    assert other.state.active is None


def test_known_facts_fill_a_form_from_the_profile() -> None:
    prefill = from_profile
    facts = {"order_id": "KP-20481736", "customer_id": "CU-104233"}
    assert prefill(FORMS, "refund_form", facts, {}) == {"order_id": "KP-20481736"}
    # What the conversation gave wins; a fact that fails the slot's validation is not used.
    assert prefill(FORMS, "refund_form", facts, {"order_id": "KP-11111111"}) == {}
    assert prefill(FORMS, "parcel_form", {"order_id": "KP-123"}, {}) == {}
    assert prefill(FORMS, "confirm_form", facts, {}) == {}
