"""Which team owns an intent: where `team: owner` and the unanswerable default hand off.

An explicit `teams.<name>.intents: [...]` list wins; otherwise the first rule that names the
intent (in `intent`, also inside `any`/`all`, not under `not`) and a team owns it.
"""

from __future__ import annotations

from frontdesk.config.rules import OWNER, RulesConfig, iter_conditions
from frontdesk.types import IntentPrediction


def intent_owners(rules: RulesConfig) -> dict[str, str]:
    """Intent name -> the team that owns it, for every intent that has one."""
    owners: dict[str, str] = {}
    for name, config in rules.teams.items():
        for intent in config.intents:
            owners.setdefault(intent, name)
    for rule in rules.rules:
        team = rule.then.team
        if team is None or team == OWNER:
            continue
        for _, node, negated in iter_conditions(rule.when):
            if not negated:
                for intent in node.intent or []:
                    owners.setdefault(intent, team)
    return owners


def owning_team(rules: RulesConfig, intent_name: str) -> str | None:
    """The team that owns `intent_name`, or None when no team does."""
    return intent_owners(rules).get(intent_name)


def best_guess(intent: IntentPrediction | None) -> str | None:
    """The intent to find an owner for: the classifier's top choice, even when it was not
    sure enough to act on it (out of scope, low confidence)."""
    if intent is None:
        return None
    if intent.out_of_scope and intent.ranking:
        return intent.ranking[0][0]
    return intent.name
