"""The running summary of a conversation (`conversations.summary`), extractive: the intents
seen, the facts the customer gave (the newest value of each) and what the assistant did
(answers with their sources, tools and their results, hand-offs), in three short lines an
agent reads at a glance:

    Intents: late_delivery, request_refund
    Given: order_id=KP-20481736; amount=20.0
    Outcomes: answered from Tracking a parcel; called parcel_status: ok (In transit)

Each turn updates the previous text (parsed back from those lines), so no earlier turn is
read again. Kept within a token budget: the oldest outcomes go first (counted as "(N
earlier)"), then the oldest intents. A summary the `summarise` model wrote does not parse as
those lines; it is kept, shortened, as the `Earlier:` line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

_KEYS = ("Earlier", "Intents", "Given", "Outcomes")
_EARLIER_MARK = "earlier)"


@dataclass
class TurnNotes:
    """What one turn adds to the summary."""

    intent: str | None = None
    given: dict[str, str] = field(default_factory=dict)  # entity type -> value
    outcomes: list[str] = field(default_factory=list)


@dataclass
class RunningSummary:
    intents: list[str] = field(default_factory=list)
    given: dict[str, str] = field(default_factory=dict)
    outcomes: list[str] = field(default_factory=list)
    dropped: int = 0  # outcomes dropped to stay within the budget
    earlier: str = ""  # a summary that was not ours (the model's), kept as it was

    @classmethod
    def parse(cls, text: str | None) -> RunningSummary:
        summary = cls()
        if not text:
            return summary
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines or not all(line.partition(": ")[0] in _KEYS for line in lines):
            summary.earlier = " ".join(" ".join(lines).split())
            return summary
        for line in lines:
            key, _, value = line.partition(": ")
            if key == "Earlier":
                summary.earlier = value
            elif key == "Intents":
                summary.intents = [v for v in value.split(", ") if v]
            elif key == "Given":
                for pair in value.split("; "):
                    name, sep, fact = pair.partition("=")
                    if sep:
                        summary.given[name] = fact
            elif key == "Outcomes":
                items = [v for v in value.split("; ") if v]
                if items and items[0].startswith("(") and items[0].endswith(_EARLIER_MARK):
                    summary.dropped = int(items[0][1:].split()[0] or 0)
                    items = items[1:]
                summary.outcomes = items
        return summary

    def add(self, notes: TurnNotes) -> None:
        if notes.intent and notes.intent not in self.intents:
            self.intents.append(notes.intent)
        for name, value in notes.given.items():
            self.given.pop(name, None)  # the newest last
            self.given[_clean(name)] = _clean(value)
        self.outcomes.extend(_clean(o) for o in notes.outcomes if o)

    def render(self) -> str:
        lines = []
        if self.earlier:
            lines.append(f"Earlier: {self.earlier}")
        if self.intents:
            lines.append("Intents: " + ", ".join(self.intents))
        if self.given:
            lines.append("Given: " + "; ".join(f"{k}={v}" for k, v in self.given.items()))
        if self.outcomes or self.dropped:
            mark = [f"({self.dropped} {_EARLIER_MARK}"] if self.dropped else []
            lines.append("Outcomes: " + "; ".join([*mark, *self.outcomes]))
        return "\n".join(lines)

    def within(self, budget_tokens: int) -> str:
        """The text, shortened oldest-first until it fits the budget."""
        text = self.render()
        while estimate_tokens(text) > budget_tokens:
            if self.earlier:
                words = self.earlier.split()
                self.earlier = " ".join(words[len(words) // 2 + 1 :])
            elif len(self.outcomes) > 1:
                self.outcomes.pop(0)
                self.dropped += 1
            elif len(self.intents) > 1:
                self.intents.pop(0)
            elif len(self.given) > 1:
                self.given.pop(next(iter(self.given)))
            else:
                return text[: budget_tokens * 4].rstrip()
            text = self.render()
        return text


def update_summary(previous: str | None, notes: TurnNotes, budget_tokens: int) -> str:
    summary = RunningSummary.parse(previous)
    summary.add(notes)
    return summary.within(budget_tokens)


def estimate_tokens(text: str) -> int:
    """About four characters a token (English text with tiktoken-style tokenisers): a budget,
    not a bill."""
    return math.ceil(len(text) / 4)


def _clean(text: str) -> str:
    """One line, without the separators the summary's lines use."""
    return " ".join(str(text).replace(";", ",").split())
