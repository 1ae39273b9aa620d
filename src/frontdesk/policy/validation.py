"""Checks of `rules.yaml` against what the workspace knows: intents, entity types, tools.

Structural mistakes (unknown fields, bad values, unknown teams) are caught when the file is
loaded; these need the trained intents and the tool registry, so they run at assembly.
Every problem names the file and line.
"""

from __future__ import annotations

from collections.abc import Iterable

from frontdesk.config.rules import RulesConfig, iter_conditions
from frontdesk.errors import ConfigError


def check_rules(
    rules: RulesConfig,
    *,
    intents: Iterable[str],
    entities: Iterable[str] | None = None,
    tools: Iterable[str] | None = None,
    languages: Iterable[str] | None = None,
    forms: Iterable[str] | None = None,
) -> None:
    """Every name in the file is one the workspace knows; `languages`: the codes the
    language detector knows (checked when given); `forms`: the forms of forms.yml (checked
    when given)."""
    known = set(intents)
    known_entities = set(entities) if entities is not None else None
    known_tools = set(tools) if tools is not None else None
    known_languages = set(languages) if languages is not None else None
    known_forms = set(forms) if forms is not None else None
    problems: list[str] = []

    def unknown(where: str, label: str, kind: str, name: str, options: set[str]) -> None:
        listed = ", ".join(sorted(options)) or "(none)"
        problems.append(f"{where}: {label}: unknown {kind} {name!r}; expected one of: {listed}")

    for index, rule in enumerate(rules.rules):
        label = f"rules[{index}] ({rule.name})"
        for path, node, _ in iter_conditions(rule.when):
            for key in ("intent", "not_intent"):
                for name in getattr(node, key) or []:
                    if name not in known:
                        unknown(rules.where(f"{path}.{key}", rule), label, "intent", name, known)
            if known_entities is not None:
                for key in ("has_entity", "missing_entity"):
                    for name in getattr(node, key) or []:
                        # "city:destination@1": the type is what must be known.
                        if name.partition("@")[0].partition(":")[0] not in known_entities:
                            where = rules.where(f"{path}.{key}", rule)
                            unknown(where, label, "entity type", name, known_entities)
            if known_entities is not None and node.profile is not None:
                for name in node.profile.has_fact or []:  # facts are entity types
                    if name not in known_entities:
                        where = rules.where(f"{path}.profile.has_fact", rule)
                        unknown(where, label, "entity type", name, known_entities)
            if known_forms is not None:
                for name in node.form or []:
                    if name not in known_forms:
                        where = rules.where(f"{path}.form", rule)
                        unknown(where, label, "form", name, known_forms)
            if known_languages is not None:
                for key in ("language", "not_language"):
                    for code in getattr(node, key) or []:
                        if code not in known_languages:
                            where = rules.where(f"{path}.{key}", rule)
                            unknown(where, label, "language", code, known_languages)
        form = rule.then.form
        if form is not None and known_forms is not None and form not in known_forms:
            unknown(rules.where("then.form", rule), label, "form", form, known_forms)
        if known_tools is not None and rule.then.tool and rule.then.tool not in known_tools:
            unknown(rules.where("then.tool", rule), label, "tool", rule.then.tool, known_tools)
    for team, config in rules.teams.items():
        for name in config.intents:
            if name not in known:
                key = f"teams.{team}.intents"
                unknown(rules.where(key), key, "intent", name, known)
    if known_languages is not None:
        for code in rules.language_detection.languages or []:
            if code not in known_languages:
                where = rules.where("language_detection")
                unknown(where, "language_detection.languages", "language", code, known_languages)
        for code in rules.languages.answered or []:
            if code not in known_languages:
                where = rules.where("languages")
                unknown(where, "languages.answered", "language", code, known_languages)
    for name in rules.intent_priority:
        if name not in known:
            unknown(rules.where("intent_priority"), "intent_priority", "intent", name, known)
    for name in rules.escalation.sensitive_intents:
        if name not in known:
            where = rules.where("escalation.sensitive_intents")
            unknown(where, "escalation.sensitive_intents", "intent", name, known)
    if problems:
        raise ConfigError("\n".join(problems))
