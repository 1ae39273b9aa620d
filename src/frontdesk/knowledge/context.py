"""Context assembly: from ranked passages to the numbered set an answer may cite.

Keeps the best passages that fit a token budget, drops near-duplicates (overlapping chunks,
the same FAQ in two atoms), and keeps rank order so [1] is the strongest source.
"""

from __future__ import annotations

from collections.abc import Sequence

from frontdesk.text import estimate_tokens, words
from frontdesk.types import Passage


def _shingles(text: str, size: int = 3) -> set[tuple[str, ...]]:
    tokens = words(text)
    if len(tokens) < size:
        return {tuple(tokens)}
    return {tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


def near_duplicate(a: str, b: str, threshold: float = 0.6) -> bool:
    sa, sb = _shingles(a), _shingles(b)
    if not sa or not sb:
        return a.strip() == b.strip()
    overlap = len(sa & sb) / min(len(sa), len(sb))
    return overlap >= threshold


def assemble_context(
    passages: Sequence[Passage], *, budget_tokens: int = 1200, max_passages: int = 5
) -> list[Passage]:
    chosen: list[Passage] = []
    used = 0
    for passage in passages:
        if len(chosen) >= max_passages:
            break
        cost = estimate_tokens(passage.text)
        if chosen and used + cost > budget_tokens:
            continue  # a shorter passage further down may still fit
        if any(near_duplicate(passage.text, kept.text) for kept in chosen):
            continue
        chosen.append(passage)
        used += cost
    return chosen
