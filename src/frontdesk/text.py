"""Small text helpers shared by search and answering: words, stop words, token estimates."""

from __future__ import annotations

import re

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
