"""Escalation triggers: when the bot should stop and pass the conversation to people.

Each trigger is computed from the current turn and the conversation's earlier turns (as
stored in their `decision` records); the rules decide what a fired trigger leads to.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from frontdesk.config.rule_text import find_phrase
from frontdesk.config.rules import EscalationConfig, Trigger
from frontdesk.types import IntentPrediction

HUMAN_INTENTS = frozenset({"human_agent", "talk_to_human", "speak_to_agent"})


@dataclass(frozen=True)
class PriorTurn:
    """What the triggers need to know about an earlier turn of the conversation."""

    intent: str | None = None
    confidence: float | None = None
    out_of_scope: bool = False
    sentiment: float | None = None
    tool_failures: int = 0
    action: str | None = None

    @classmethod
    def from_decision(cls, decision: dict[str, object] | None) -> PriorTurn:
        facts = decision.get("facts") if decision else None
        if not isinstance(facts, dict):
            return cls()
        route = decision.get("route") if decision else None
        return cls(
            intent=_str(facts.get("intent")),
            confidence=_float(facts.get("confidence")),
            out_of_scope=bool(facts.get("out_of_scope")),
            sentiment=_float(facts.get("sentiment")),
            tool_failures=int(_float(decision.get("tool_failures") if decision else 0) or 0),
            action=_str(route.get("action")) if isinstance(route, dict) else None,
        )


@dataclass(frozen=True)
class PriorContact:
    """A turn of one of the customer's earlier conversations (same customer_ref)."""

    conversation_id: str  # contacts count by conversation, not by turn
    intent: str | None
    confidence: float | None
    at: datetime
    out_of_scope: bool = False


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def is_low(confidence: float | None, out_of_scope: bool, config: EscalationConfig) -> bool:
    return out_of_scope or confidence is None or confidence < config.low_confidence


def detect_triggers(
    config: EscalationConfig,
    *,
    text: str,
    intent: IntentPrediction | None,
    sentiment: float | None,
    history: Sequence[PriorTurn],
    tool_failures: int = 0,
    earlier_contacts: Sequence[PriorContact] = (),
    now: datetime | None = None,
) -> dict[Trigger, str]:
    """Fired triggers and, for each, a reason a person can read. `history` is oldest first;
    `tool_failures` counts failures in this turn not yet in the history; `earlier_contacts`
    are turns of the same customer's other conversations."""
    fired: dict[Trigger, str] = {}
    confidence = intent.confidence if intent else None
    out_of_scope = bool(intent and intent.out_of_scope)

    if intent is not None and intent.name in HUMAN_INTENTS and not out_of_scope:
        fired[Trigger.HUMAN_REQUESTED] = f"intent {intent.name}"
    else:
        for pattern in config.human_phrases:
            match = re.search(pattern, text, re.IGNORECASE)
            if match:
                fired[Trigger.HUMAN_REQUESTED] = f"asked for a person ({match.group(0)!r})"
                break

    if intent is not None and intent.name in config.sensitive_intents:
        fired[Trigger.SENSITIVE_INTENT] = f"sensitive intent {intent.name}"

    needed = config.low_confidence_turns
    if is_low(confidence, out_of_scope, config):
        earlier = history[-(needed - 1) :] if needed > 1 else []
        if len(earlier) == needed - 1 and all(
            is_low(t.confidence, t.out_of_scope, config) for t in earlier
        ):
            fired[Trigger.REPEATED_LOW_CONFIDENCE] = (
                f"low confidence or out of scope {needed} turns in a row"
            )

    needed = config.negative_turns
    threshold = config.negative_sentiment
    if sentiment is not None and sentiment <= threshold:
        earlier = history[-(needed - 1) :] if needed > 1 else []
        scores = [t.sentiment for t in earlier]
        if len(scores) == needed - 1 and all(s is not None and s <= threshold for s in scores):
            first = scores[0] if scores else sentiment
            assert first is not None
            # "No progress": still negative and not clearly better than where it started.
            if sentiment <= first + 0.2:
                fired[Trigger.NEGATIVE_NO_PROGRESS] = (
                    f"negative sentiment {needed} turns in a row ({sentiment:+.2f}), not improving"
                )

    failures = sum(t.tool_failures for t in history) + tool_failures
    if failures >= config.tool_failures:
        fired[Trigger.TOOL_FAILURES] = f"{failures} failed tool calls in this conversation"

    repeat = _repeat_contact(config, text, intent, earlier_contacts, now)
    if repeat:
        fired[Trigger.REPEAT_CONTACT] = repeat
    return fired


def _repeat_contact(
    config: EscalationConfig,
    text: str,
    intent: IntentPrediction | None,
    earlier: Sequence[PriorContact],
    now: datetime | None,
) -> str | None:
    """The customer says they have been in touch before, or an earlier conversation of
    theirs was about the same intent (both understood well enough) within the look-back."""
    found = find_phrase(config.repeat_contact_phrases, text)
    if found is not None:
        return f"the customer says they have been in touch before ({found[1]!r})"
    if config.repeat_contact_days == 0:
        return None
    return repeat_contacts(
        config,
        intent,
        earlier,
        now,
        config.repeat_contact_days,
        config.repeat_contact_conversations,
    )


def repeat_contacts(
    config: EscalationConfig,
    intent: IntentPrediction | None,
    earlier: Sequence[PriorContact],
    now: datetime | None,
    days: int,
    needed: int,
) -> str | None:
    """Why this is a repeat contact, when at least `needed` earlier conversations of the
    customer were about this intent within `days` days (turns understood well enough, on
    both sides); None when fewer were. Used by the trigger and the `repeat_contact`
    condition of a rule."""
    if intent is None or is_low(intent.confidence, intent.out_of_scope, config):
        return None
    now = now or datetime.now(UTC)
    since = now - timedelta(days=days)
    latest: dict[str, datetime] = {}  # conversation -> its latest turn about this intent
    for contact in earlier:
        at = _aware(contact.at)
        if (
            contact.intent == intent.name
            and not is_low(contact.confidence, contact.out_of_scope, config)
            and since <= at <= now
        ):
            latest[contact.conversation_id] = max(at, latest.get(contact.conversation_id, at))
    if len(latest) < needed or not latest:
        return None
    hours = (now - max(latest.values())).total_seconds() / 3600
    ago = f"{int(hours / 24)} days ago" if hours >= 48 else f"{max(1, round(hours))} hour(s) ago"
    where = (
        "an earlier conversation"
        if len(latest) == 1
        else f"{len(latest)} earlier conversations, the last"
    )
    return f"the customer asked about {intent.name} in {where} {ago} (within {days} days)"


def _aware(moment: datetime) -> datetime:
    """SQLite gives times back without a zone; they were stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
