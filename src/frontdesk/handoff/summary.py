"""The structured summary a hand-off carries, so the agent need not read the whole chat.

Intent, entities (all found so far), the sentiment trend, urgency, what the bot tried, the
citations it gave, its confidence, and the transcript.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from frontdesk.storage.models import Message
from frontdesk.storage.models import Turn as TurnRecord
from frontdesk.text import render_name


@dataclass(frozen=True)
class CurrentTurn:
    """The turn that hands off: not stored yet when the summary is written."""

    text: str
    intent: str | None
    confidence: float | None
    urgency: str | None
    sentiment: float | None
    entities: list[dict[str, Any]]
    rule: str
    reason: str
    triggers: dict[str, str] = field(default_factory=dict)
    tools: list[dict[str, Any]] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)  # answered, then handed off


def build_summary(
    current: CurrentTurn,
    turns: Sequence[TurnRecord],
    messages: Sequence[Message],
    *,
    memory: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`memory`: the running summary (`conversation_summary`) and what the customer profile
    says (`customer`), when the memory has them."""
    entities: dict[str, Any] = {}
    for record in [*turns]:
        for entity in record.entities or []:
            entities[entity["type"]] = entity.get("value", entity.get("text"))
    for entity in current.entities:
        entities[entity["type"]] = entity.get("value", entity.get("text"))
    sentiments = [_sentiment(t) for t in turns] + [current.sentiment]
    trend = [round(s, 2) for s in sentiments if s is not None]
    tried = [_tried(t) for t in turns]
    tried.extend(
        f"called {call['tool']}: {call['status']}"
        + (f" ({call['summary']})" if call.get("summary") else "")
        for call in current.tools
    )
    if current.citations:
        titles = ", ".join(dict.fromkeys(c["title"] for c in current.citations))
        tried.append(f"answered from {titles}")
    citations: list[dict[str, Any]] = []
    seen: set[str] = set()
    for cited in [*(record.citations or [] for record in turns), current.citations]:
        for citation in cited:
            if citation["title"] not in seen:
                seen.add(citation["title"])
                citations.append({"title": citation["title"], "source": citation["source"]})
    return {
        "intent": current.intent,
        "confidence": None if current.confidence is None else round(current.confidence, 3),
        "urgency": current.urgency,
        "entities": entities,
        "sentiment": {"trend": trend, "direction": _direction(trend)},
        "rule": current.rule,
        "reason": current.reason,
        "triggers": current.triggers,
        "bot_tried": [t for t in tried if t],
        "citations": citations,
        # The ticket keeps no name: a greeting's reference renders as nothing here.
        "transcript": [{"role": m.role, "text": render_name(m.text, None)} for m in messages]
        + [{"role": "customer", "text": current.text}],
        **(memory or {}),
    }


def _sentiment(record: TurnRecord) -> float | None:
    facts = (record.decision or {}).get("facts") or {}
    value = facts.get("sentiment")
    return float(value) if isinstance(value, int | float) else None


def _tried(record: TurnRecord) -> str:
    return outcome(record.route or {}, record.decision or {}, record.citations or [])


def outcome(
    route: Mapping[str, Any], decision: Mapping[str, Any], citations: Sequence[Mapping[str, Any]]
) -> str:
    """What the assistant did in one turn, in words (the summary's "bot tried", and the
    running summary's outcomes)."""
    action = route.get("action")
    tools = decision.get("tools") or []
    calls = "; ".join(
        f"called {c['tool']}: {c['status']}" + (f" ({c['summary']})" if c.get("summary") else "")
        for c in tools
    )
    if action == "clarify":
        text = f"asked for more detail ({route.get('rule')})"
    elif action == "answer" and citations:
        titles = ", ".join(c["title"] for c in citations)
        text = f"answered from {titles}"
    elif action == "answer":
        text = "answered without a matching article" if not route.get("ask") else ""
    elif action == "tool":
        text = ""
    elif action == "handoff":
        text = f"handed off to {route.get('team')}"
    elif action == "answer_then_handoff":
        titles = ", ".join(c["title"] for c in citations)
        answered = f"answered from {titles}, then " if titles else ""
        text = f"{answered}handed off to {route.get('team')}"
    else:
        text = ""
    return "; ".join(part for part in (text, calls) if part)


def _direction(trend: list[float]) -> str:
    if len(trend) < 2:
        return "steady"
    delta = trend[-1] - trend[0]
    return "improving" if delta > 0.15 else "worsening" if delta < -0.15 else "steady"
