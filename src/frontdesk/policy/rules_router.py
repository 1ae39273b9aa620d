"""The decision table: the first rule whose conditions all hold picks the action.

Every decision says which rule fired and why (each condition that held, in words), and keeps
a snapshot of the facts it looked at, so a turn's trace can show it later.

This is the one place that decides, built-in defaults included: a rule that would answer
from the knowledge base when retrieval concluded that it cannot becomes a hand-off to the
team that owns the topic (`unanswerable:` in rules.yaml changes or switches that off), and
`team: owner` is resolved here to a real team.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from frontdesk.config.reply_languages import reply_for
from frontdesk.config.rule_text import find_phrase, said
from frontdesk.config.rules import (
    OWNER,
    EscalationConfig,
    PrioritySet,
    ProfileCondition,
    RuleCondition,
    RuleConfig,
    RulesConfig,
    Trigger,
)
from frontdesk.policy.escalation import PriorContact, repeat_contacts
from frontdesk.policy.hours import team_availability, within_business_hours
from frontdesk.policy.ownership import best_guess, intent_owners
from frontdesk.types import Action, Answerability, Entity, IntentPrediction, Route, Urgency

UNANSWERABLE_RULE = "built-in: the knowledge base does not answer this"
LANGUAGE_RULE = "built-in: language not answered"
UNANSWERABLE_MESSAGE = (
    "I'm sorry, I don't have that information. I'm passing your question to our {team} team "
    "with a summary of what you've told me, so you won't need to repeat yourself. Your "
    "reference is {reference}. A member of the team will reply here {when}."
)


@dataclass(frozen=True)
class CustomerFacts:
    """What the customer profile says, for `known_customer` and `profile:` conditions."""

    contacts: int  # conversations so far, this one included
    known: bool  # the profile has an earlier conversation
    named: bool  # the customer gave their name
    facts: frozenset[str] = frozenset()  # kinds of facts given (order_id...)


@dataclass(frozen=True)
class Facts:
    """What the rules may look at."""

    intent: IntentPrediction | None
    urgency: Urgency
    channel: str
    entities: list[Entity] = field(default_factory=list)
    sentiment: float | None = None  # -1 (very negative) .. 1 (very positive)
    sentiment_label: str | None = None
    now: datetime | None = None  # None: the current time
    triggers: dict[Trigger, str] = field(default_factory=dict)
    text: str = ""  # the customer's words (as screened), for `text_matches`
    language: str | None = None  # detected language; None: unknown or not looked at
    answerability: Answerability | None = None  # None: retrieval did not say
    # Intents of this conversation's earlier turns, most recent first: the topic a request
    # for a person (`team: owner`) goes with when the message itself names none.
    earlier_intents: tuple[str, ...] = ()
    # The form the conversation's active task is in, when this message continues it.
    form: str | None = None
    customer: CustomerFacts | None = None  # None: no customer_ref, so no profile
    # Turns of the customer's other conversations about this intent (`repeat_contact:`).
    earlier_contacts: tuple[PriorContact, ...] = ()

    @property
    def answerable(self) -> bool | None:
        return None if self.answerability is None else self.answerability.answerable

    def snapshot(self, rules: RulesConfig) -> dict[str, Any]:
        now = self.now or datetime.now(UTC)
        margin = intent_margin(self.intent)
        facts: dict[str, Any] = {
            "intent": self.intent.name if self.intent else None,
            "confidence": round(self.intent.confidence, 4) if self.intent else None,
            "out_of_scope": bool(self.intent and self.intent.out_of_scope),
            "urgency": self.urgency.value,
            "sentiment": None if self.sentiment is None else round(self.sentiment, 3),
            "sentiment_label": self.sentiment_label,
            "entities": sorted({e.type for e in self.entities}),
            "channel": self.channel,
            "business_hours": within_business_hours(rules.business_hours, now),
            "teams_available": team_availability(rules, now),
            "triggers": {t.value: why for t, why in self.triggers.items()},
            "intent_margin": None if margin is None else round(margin[0], 4),
            "language": self.language,
            "form": self.form,
            "answerable": self.answerable,
            "answerability": (
                self.answerability.model_dump(mode="json") if self.answerability else None
            ),
        }
        if self.customer is not None:  # only conversations with a customer_ref have one
            facts["customer"] = {**asdict(self.customer), "facts": sorted(self.customer.facts)}
        return facts


def intent_margin(intent: IntentPrediction | None) -> tuple[float, str] | None:
    """Top-1 minus top-2 confidence from the ranking, and the two in words."""
    if intent is None:
        return None
    ranking = sorted(intent.ranking, key=lambda item: item[1], reverse=True) or [
        (intent.name, intent.confidence)
    ]
    first = ranking[0]
    second = ranking[1] if len(ranking) > 1 else ("(none)", 0.0)
    words = f"{first[0]} {first[1]:.2f}, {second[0]} {second[1]:.2f}"
    return first[1] - second[1], words


@dataclass(frozen=True)
class Decision:
    route: Route
    facts: dict[str, Any]

    def record(self) -> dict[str, Any]:
        """What a turn stores about its decision (`turns.decision`)."""
        return {"route": self.route.model_dump(mode="json"), "facts": self.facts}


class RuleRouter:
    def __init__(self, rules: RulesConfig) -> None:
        self.rules = rules
        self.owners = intent_owners(rules)
        # Detecting the language costs a model load: only when a rule asks for it.
        self.uses_language = rules.uses_language()
        # Earlier conversations are read (one query a turn) only when a rule tests them.
        self.uses_repeat_contact = rules.uses_repeat_contact()

    def decide(self, facts: Facts) -> Route:
        return self.explain(facts).route

    def explain(self, facts: Facts) -> Decision:
        now = facts.now or datetime.now(UTC)
        context = _Context(
            business_hours=within_business_hours(self.rules.business_hours, now),
            available=team_availability(self.rules, now),
            escalation=self.rules.escalation,
            now=now,
        )
        for rule in self.rules.rules:
            reasons = _matches(rule.when, facts, context)
            if reasons is None:
                continue
            route = (
                self._not_answered_language(rule, reasons, facts)
                or self._unanswerable(rule, reasons, facts)
                or self._route(rule, reasons, facts)
            )
            return Decision(
                route=self._in_language(route, rule, facts), facts=facts.snapshot(self.rules)
            )
        raise LookupError("no routing rule matched; end rules.yaml with a rule with no 'when'")

    def owner_of(self, facts: Facts) -> tuple[str, str]:
        """The team that owns the turn's topic, and why: the intent (best guess when unsure);
        when no team owns that (a request for a person, say), the next intent of the ranking
        at OWNER_MIN_CONFIDENCE or more (the topic mentioned with it; not for a message out
        of scope), then the intents of earlier turns, most recent first; else the default
        team."""
        intent = best_guess(facts.intent)
        if intent is not None and intent in self.owners:
            return self.owners[intent], f"team {self.owners[intent]} owns intent {intent}"
        # Another intent of the ranking is a topic mentioned beside a request with none ("can
        # I talk to someone about my bill"); beside a message out of scope, whose best guess
        # is already weak, it is noise (an API question is not an outage's).
        out_of_scope = facts.intent is not None and facts.intent.out_of_scope
        ranking = facts.intent.ranking if facts.intent and not out_of_scope else []
        mentioned = [name for name, p in ranking if p >= OWNER_MIN_CONFIDENCE and name != intent]
        for names, where in ((mentioned, "mentioned"), (facts.earlier_intents, "earlier")):
            for name in names:
                if name in self.owners:
                    topic = "in this message" if where == "mentioned" else "earlier in the chat"
                    return self.owners[
                        name
                    ], f"team {self.owners[name]} owns intent {name} ({topic})"
        team = self.rules.fallback_team()
        about = f"intent {intent}" if intent else "the message"
        return team, f"no team owns {about}: default team {team}"

    def _team(self, team: str | None, facts: Facts) -> tuple[str | None, str | None]:
        if team != OWNER:
            return team, None
        return self.owner_of(facts)

    def _route(self, rule: RuleConfig, reasons: list[str], facts: Facts) -> Route:
        then = rule.then
        team, why = self._team(then.team, facts)
        return Route(
            action=then.action,
            team=team,
            priority=_priority(then.priority, facts.urgency),
            rule=rule.name,
            reason="; ".join([*reasons, *([why] if why else [])]) or "default rule",
            ask=then.ask or then.message,
            tool=then.tool,
        )

    def _not_answered_language(
        self, rule: RuleConfig, reasons: list[str], facts: Facts
    ) -> Route | None:
        """The built-in language default: a message in a language the workspace does not
        answer (`languages.answered`) is handed off instead of answered, clarified or sent to
        a tool; a rule that hands off keeps its team."""
        config = self.rules.languages
        language = facts.language
        if config.answered is None or language is None or language in config.answered:
            return None
        if rule.then.action is Action.HANDOFF:
            return None
        team, why = self._team(self.rules.languages_team(), facts)
        would = f"rule {rule.name!r} would {rule.then.action.value}"
        return Route(
            action=Action.HANDOFF,
            team=team,
            priority=_higher(config.priority or Urgency.NORMAL, facts.urgency),
            rule=LANGUAGE_RULE,
            reason="; ".join(
                [
                    f"written in {language}; answered: {', '.join(config.answered)}",
                    would,
                    *reasons,
                    *([why] if why else []),
                ]
            ),
        )

    def _in_language(self, route: Route, rule: RuleConfig, facts: Facts) -> Route:
        """A hand-off's message in the customer's language when the template table has it,
        unless the rule (or `unanswerable.message`) wrote its own."""
        if route.action is not Action.HANDOFF or facts.language is None:
            return route
        if route.rule == UNANSWERABLE_RULE:
            if self.rules.unanswerable.message is not None:
                return route
            kind: Literal["handoff", "unanswerable"] = "unanswerable"
        elif route.rule == LANGUAGE_RULE or not rule.then.message:
            kind = "handoff"
        else:
            return route
        template = reply_for(facts.language, kind, self.rules.languages.replies)
        return route if template is None else route.model_copy(update={"ask": template})

    def _unanswerable(self, rule: RuleConfig, reasons: list[str], facts: Facts) -> Route | None:
        """The built-in abstain default: a rule that would answer from the knowledge base,
        when retrieval says the knowledge base does not answer this, hands off instead."""
        then, config = rule.then, self.rules.unanswerable
        answers = (then.action is Action.ANSWER and not then.message) or (
            then.action is Action.ANSWER_THEN_HANDOFF
        )
        if not answers or facts.answerability is None or facts.answerability.answerable:
            return None
        if config.action == "answer":
            return None
        if config.team is not None:
            team, why = self._team(config.team, facts)
            why = why or f"unanswerable.team {team}"
        elif then.team is not None:
            team, why = self._team(then.team, facts)
            why = why or f"the rule's team {team}"
        else:
            team, why = self.owner_of(facts)
        would = f"rule {rule.name!r} would answer ({'; '.join(reasons) or 'default rule'})"
        return Route(
            action=Action.HANDOFF,
            team=team,
            priority=(
                _higher(config.priority, facts.urgency)
                if config.priority is not None
                else _priority(then.priority, facts.urgency)
            ),
            rule=UNANSWERABLE_RULE,
            reason=f"{would}; {facts.answerability.reason}; {why}",
            ask=config.message or UNANSWERABLE_MESSAGE,
        )


_URGENCY_ORDER = [Urgency.LOW, Urgency.NORMAL, Urgency.HIGH, Urgency.CRITICAL]
OWNER_MIN_CONFIDENCE = 0.15  # a lower-ranked intent counts as a topic the message mentions


def _higher(a: Urgency, b: Urgency) -> Urgency:
    return max(a, b, key=_URGENCY_ORDER.index)


def _priority(wanted: Urgency | PrioritySet, urgency: Urgency) -> Urgency:
    """A rule's priority is a floor under the message's urgency; `{set: low}` is exact."""
    return wanted.set if isinstance(wanted, PrioritySet) else _higher(wanted, urgency)


@dataclass(frozen=True)
class _Context:
    business_hours: bool
    available: dict[str, bool]
    escalation: EscalationConfig
    now: datetime


def _matches(when: RuleCondition, facts: Facts, context: _Context) -> list[str] | None:
    """The reasons the condition holds, or None when it does not."""
    reasons: list[str] = []
    intent = facts.intent
    confidence = intent.confidence if intent else 0.0
    if when.trigger is not None:
        fired = [t for t in when.trigger if t in facts.triggers]
        if not fired:
            return None
        reasons.extend(f"{t.value}: {facts.triggers[t]}" for t in fired)
    if when.repeat_contact is not None:
        repeat = when.repeat_contact
        why = repeat_contacts(context.escalation, intent, facts.earlier_contacts, context.now,
                              repeat.days, repeat.conversations)  # fmt: skip
        if why is None:
            return None
        reasons.append(f"repeat contact: {why}")
    if when.intent is not None:
        if intent is None or intent.out_of_scope or intent.name not in when.intent:
            return None
        reasons.append(f"intent={intent.name}")
    if when.not_intent is not None:
        if intent is not None and intent.name in when.not_intent:
            return None
        reasons.append(f"intent not in {', '.join(when.not_intent)}")
    if when.confidence_below is not None:
        if confidence >= when.confidence_below:
            return None
        reasons.append(f"confidence {confidence:.2f} < {when.confidence_below}")
    if when.confidence_at_least is not None:
        if confidence < when.confidence_at_least:
            return None
        reasons.append(f"confidence {confidence:.2f} >= {when.confidence_at_least}")
    if when.out_of_scope is not None:
        oos = bool(intent is None or intent.out_of_scope)
        if oos != when.out_of_scope:
            return None
        reasons.append("out of scope" if oos else "in scope")
    if when.urgency is not None:
        if facts.urgency not in when.urgency:
            return None
        reasons.append(f"urgency={facts.urgency}")
    if when.sentiment is not None:
        if facts.sentiment_label not in when.sentiment:
            return None
        reasons.append(f"sentiment={facts.sentiment_label}")
    if when.sentiment_below is not None:
        if facts.sentiment is None or facts.sentiment >= when.sentiment_below:
            return None
        reasons.append(f"sentiment {facts.sentiment:+.2f} < {when.sentiment_below:+.2f}")
    # An entity answers to its type, and with a role or group to "type:role", "type@group"
    # and "type:role@group" (Rasa's roles and groups).
    present = {name for entity in facts.entities for name in entity_names(entity)}
    if when.has_entity is not None:
        if not set(when.has_entity) <= present:
            return None
        reasons.append(f"has {', '.join(when.has_entity)}")
    if when.missing_entity is not None:
        missing = [name for name in when.missing_entity if name not in present]
        if not missing:
            return None
        reasons.append(f"missing {', '.join(missing)}")
    if when.channel is not None:
        if facts.channel not in when.channel:
            return None
        reasons.append(f"channel={facts.channel}")
    if when.business_hours is not None:
        if context.business_hours != when.business_hours:
            return None
        reasons.append("within business hours" if when.business_hours else "outside business hours")
    if when.team_available is not None:
        for team, wanted in when.team_available.items():
            if context.available.get(team, False) != wanted:
                return None
            reasons.append(f"team {team} {'available' if wanted else 'unavailable'}")
    if when.text_matches is not None:
        found = find_phrase(when.text_matches, facts.text)
        if found is None:
            return None
        reasons.append(said(*found))
    if when.intent_margin_below is not None:
        margin = intent_margin(intent)
        if margin is None or margin[0] >= when.intent_margin_below:
            return None
        reasons.append(
            f"top two intents within {when.intent_margin_below:.2f} ({margin[1]}: "
            f"{margin[0]:.2f} apart)"
        )
    if when.language is not None:
        if facts.language is None or facts.language not in when.language:
            return None
        reasons.append(f"written in {facts.language}")
    if when.not_language is not None:
        if facts.language is None or facts.language in when.not_language:
            return None
        reasons.append(f"written in {facts.language}, not {', '.join(when.not_language)}")
    if when.known_customer is not None:
        known = facts.customer is not None and facts.customer.known
        if known != when.known_customer:
            return None
        reasons.append(
            f"a known customer ({facts.customer.contacts} contacts)"
            if known and facts.customer is not None
            else "not a known customer"
        )
    if when.profile is not None:
        profile_reasons = _profile_matches(when.profile, facts.customer)
        if profile_reasons is None:
            return None
        reasons.extend(profile_reasons)
    if when.form is not None:
        if facts.form is None or facts.form not in when.form:
            return None
        reasons.append(f"form {facts.form} is asking")
    if when.answerable is not None:
        answerability = facts.answerability
        if answerability is None or answerability.answerable != when.answerable:
            return None
        verdict = "answers" if answerability.answerable else "does not answer"
        reasons.append(f"the knowledge base {verdict} this ({answerability.reason})")
    if when.answerability_below is not None:
        answerability = facts.answerability
        if answerability is None or answerability.score >= when.answerability_below:
            return None
        reasons.append(f"answerability {answerability.score:.2f} < {when.answerability_below}")
    for child in when.all_ or []:
        found_reasons = _matches(child, facts, context)
        if found_reasons is None:
            return None
        reasons.extend(found_reasons)
    if when.any_ is not None:
        for index, child in enumerate(when.any_):
            found_reasons = _matches(child, facts, context)
            if found_reasons is not None:
                held = "; ".join(found_reasons) or describe(child)
                reasons.append(f"any #{index + 1}: {held}")
                break
        else:
            return None
    if when.not_ is not None:
        if _matches(when.not_, facts, context) is not None:
            return None
        reasons.append(f"not ({describe(when.not_)})")
    return reasons


def _profile_matches(wanted: ProfileCondition, customer: CustomerFacts | None) -> list[str] | None:
    if customer is None:  # no customer_ref: no profile to test
        return None
    reasons: list[str] = []
    if wanted.contacts_at_least is not None:
        if customer.contacts < wanted.contacts_at_least:
            return None
        reasons.append(f"{customer.contacts} contacts (at least {wanted.contacts_at_least})")
    if wanted.has_name is not None:
        if customer.named != wanted.has_name:
            return None
        reasons.append("gave their name" if customer.named else "gave no name")
    if wanted.has_fact is not None:
        if not set(wanted.has_fact) <= customer.facts:
            return None
        reasons.append(f"profile has {', '.join(wanted.has_fact)}")
    return reasons


def describe(condition: RuleCondition) -> str:
    """A condition in a line, as it reads in rules.yaml: `language: en; intent: [a, b]`."""
    data = condition.model_dump(mode="json", by_alias=True, exclude_none=True)
    return "; ".join(f"{key}: {_show(value)}" for key, value in data.items()) or "(always)"


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return str(value).lower() if isinstance(value, bool) else str(value)


def entity_names(entity: Entity) -> set[str]:
    """The names a rule's has_entity/missing_entity can give an extracted entity by."""
    names = {entity.type}
    if entity.role:
        names.add(f"{entity.type}:{entity.role}")
    if entity.group:
        names.add(f"{entity.type}@{entity.group}")
    if entity.role and entity.group:
        names.add(f"{entity.type}:{entity.role}@{entity.group}")
    return names
