"""What a customer reads after a tool ran: the tool's own words, never its raw result.

A backend's JSON (internal ids, other customers' fields, error bodies) is for the model and
the agents; the customer sees it only through a template the operator wrote (an HTTP tool's
`reply`, a built-in tool's `describe`) or through the model's answer. A result the template
does not fit gets a generic sentence instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from string import Formatter
from typing import Any, Protocol

from frontdesk.config.handoff_settings import reply_fields
from frontdesk.tools.base import ToolOutcome

log = logging.getLogger(__name__)

MAX_VALUE_CHARS = 200
UNSHOWN_RESULT = (
    "I've looked that up, but I can't show the details in this chat. Ask for a person and "
    "I'll pass you to the team, who can go through it with you."
)


class Described(Protocol):
    describe: Callable[[Any], str] | None


class TemplateMismatch(ValueError):
    """The result lacks a field the template names, or the field is not a plain value."""


def render_reply(template: str, result: Any) -> str:
    """The template filled from the result's fields (dotted names reach into objects)."""
    values: dict[str, str] = {}
    for field in reply_fields(template):
        value = result
        for part in field.split("."):
            if not isinstance(value, dict) or part not in value:
                raise TemplateMismatch(f"the result has no field {field!r}")
            value = value[part]
        if value is None or isinstance(value, dict | list):
            raise TemplateMismatch(f"the result's {field!r} is not a plain value")
        values[field] = str(value)[:MAX_VALUE_CHARS]
    # Each field is replaced by name; the values themselves are never formatted again.
    out: list[str] = []
    for literal, name, _, _ in Formatter().parse(template):
        out.append(literal)
        if name is not None:
            out.append(values[name])
    return "".join(out)


def customer_text(tool: Described | None, outcome: ToolOutcome) -> str | None:
    """A successful call in the tool's own words, or None when it has none that fit."""
    describe = tool.describe if tool is not None else None
    if describe is None or not outcome.ok:
        return None
    try:
        text = describe(outcome.result)
    except (TemplateMismatch, KeyError, IndexError, TypeError, ValueError) as exc:
        log.warning("tool %s: its reply does not fit the result (%s)", outcome.tool, exc)
        return None
    return text if isinstance(text, str) and text.strip() else None
