"""Small text helpers shared by search and answering: words, stop words, token estimates."""

from __future__ import annotations

import re
from collections.abc import Callable

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

# Function words that carry no topic: kept out of keyword queries and overlap scores.
STOPWORDS = frozenset(
    """a an the and or but if of to in on at for from by with about as is are was were be been
    am it its this that these those i you your my me we our us do does did can could would
    should will shall may might must have has had not no yes what when where how why which who
    whom please there their them they he she his her so than then too very just get got want
    wanted need needed like would'nt im ive id hi hello thanks thank""".split()
)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_words(text: str) -> set[str]:
    return {w for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())}


def estimate_tokens(text: str) -> int:
    """Rough English average (about 0.75 words a token) until a real tokenizer is wired in."""
    return max(1, round(len(text.split()) * 4 / 3)) if text.strip() else 0


_SUFFIXES = ("ing", "edly", "ed", "es", "s", "ly")


def stem(word: str) -> str:
    """A light suffix strip, so "refunds"/"refunded" meet "refund" (no dictionary needed)."""
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


# The customer's name in a stored reply: a reference, rendered from their profile when the
# text is shown, so the name lives on the profile only and goes when it goes (issue 17/19).
# A private-use character: no customer, document or model writes it.
NAME_MARK = "\ue000"
_MARKED = re.compile(r"(\s*)\ue000(\s*)([!,.]?)")


def mark_name(text: str, name: str) -> str:
    """`text` with each whole-word `name` replaced by the reference."""
    if not name or name not in text:
        return text
    return re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", NAME_MARK, text)


def render_name(text: str, name: str | None) -> str:
    """A stored text as it is shown: the reference becomes `name`; with no name, nothing
    (and its space) takes its place: "Hi \ue000! Sure" becomes "Hi! Sure"."""
    if NAME_MARK not in text:
        return text
    if name:
        return text.replace(NAME_MARK, name)
    rendered = _MARKED.sub(lambda m: m.group(3) or (" " if m.group(1) and m.group(2) else ""), text)
    return rendered.lstrip("!,. ") if text.startswith(NAME_MARK) else rendered


def mark_names(value: object, name: str) -> object:
    """`mark_name` over every string of a JSON value."""
    return _each_string(value, lambda text: mark_name(text, name))


def render_names(value: object, name: str | None) -> object:
    """`render_name` over every string of a JSON value."""
    return _each_string(value, lambda text: render_name(text, name))


def _each_string(value: object, change: Callable[[str], str]) -> object:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {k: _each_string(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_each_string(v, change) for v in value]
    return value
