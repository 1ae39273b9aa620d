"""The two kinds of text an operator writes inside `rules.yaml`: phrases to look for in a
customer's message, and hand-off message templates.

Phrases (`text_matches`, `escalation.repeat_contact_phrases`, `urgency_cues`): a plain string
is a phrase, matched case-insensitively as whole words ("cancel" matches "Cancel my plan" but
not "cancelled"; the spaces between its words match any run of spaces); a string starting
with `re:` is a regular expression, searched case-insensitively ("re:\\bcancel(led|ling)?\\b").
Curly apostrophes count as straight ones on both sides.

Templates (`handoff_message`, a hand-off rule's `message`, `unanswerable.message`): text with
the placeholders {team} (the team's customer-facing name), {reference} (the ticket reference)
and {when} (when to expect a reply: "within 4 hours", or when the team is back); `{{` and
`}}` write a brace. A template that leaves out {reference} or {when} has them added as a
sentence at its end: a customer handed to a person always gets both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from string import Formatter
from typing import Annotated

from pydantic import AfterValidator

REGEX_PREFIX = "re:"
PLACEHOLDERS = ("team", "reference", "when")


def _normal(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'")


@lru_cache(maxsize=4096)
def phrase_pattern(item: str) -> re.Pattern[str]:
    """The compiled form of one phrase (see the module's docstring)."""
    if item.startswith(REGEX_PREFIX):
        return re.compile(item[len(REGEX_PREFIX) :], re.IGNORECASE)
    words = _normal(item).split()
    return re.compile(
        r"(?<!\w)" + r"\s+".join(re.escape(word) for word in words) + r"(?!\w)", re.IGNORECASE
    )


def check_phrase(item: str) -> str:
    """Validation for pydantic: a phrase with words, or a regex that compiles and cannot
    match an empty text."""
    if item.startswith(REGEX_PREFIX):
        source = item[len(REGEX_PREFIX) :]
        try:
            pattern = re.compile(source, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"{source!r} is not a valid regular expression: {exc}") from exc
        if pattern.fullmatch(""):
            raise ValueError(f"the regular expression {source!r} matches an empty text")
        return item
    if not item.split():
        raise ValueError("a phrase needs at least one word")
    return item


Phrase = Annotated[str, AfterValidator(check_phrase)]


def find_phrase(items: Iterable[str], text: str) -> tuple[str, str] | None:
    """The first phrase found in `text` and the words it matched, or None."""
    normal = _normal(text)
    for item in items:
        match = phrase_pattern(item).search(normal)
        if match:
            return item, match.group(0)
    return None


def said(item: str, matched: str) -> str:
    """A reason in words: what the customer said, and the regex when it was one."""
    if item.startswith(REGEX_PREFIX):
        return f"the message says {matched!r} (matches {item[len(REGEX_PREFIX) :]!r})"
    return f"the message says {matched!r}"


def template_fields(template: str) -> set[str]:
    """The placeholders a template uses; ValueError when it is malformed or uses others."""
    try:
        parts = list(Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(
            f"{exc}; write {{{{ and }}}} for a literal brace in a message template"
        ) from exc
    fields: set[str] = set()
    allowed = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "")
            shown += (f":{spec}" if spec else "") + "}"
            raise ValueError(f"unknown placeholder {shown}; a message template may use {allowed}")
        fields.add(name)
    return fields


def check_template(template: str) -> str:
    template_fields(template)
    return template


Template = Annotated[str, AfterValidator(check_template)]


def render_template(template: str, values: Mapping[str, str]) -> str:
    """Fill a checked template; a missing {reference} or {when} is added at the end."""
    fields = template_fields(template)
    text = template.format_map({name: values[name] for name in fields}).rstrip()
    if "reference" not in fields:
        text += f" Your reference is {values['reference']}."
    if "when" not in fields:
        text += f" A member of the team will reply here {values['when']}."
    return text.strip()
