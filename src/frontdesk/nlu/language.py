"""The language a message is written in, offline: py3langid's naive Bayes model over byte
n-grams, shipped inside the package (nothing is downloaded).

Short messages are unreliable ("hola amigo" reads as Zulu), so a message with fewer than
`min_words` words, or whose best language scores below `min_confidence`, has no language
(None): rules treat it as unknown, and neither `language` nor `not_language` matches it.
Restricting the choice to the languages the customers write (`languages`) makes short
messages far more reliable.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from functools import cache
from typing import Any

_WORD = re.compile(r"[^\W\d_]{2,}")
_LOCK = threading.Lock()


@cache
def _identifier(languages: tuple[str, ...] | None) -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

    with _LOCK:
        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        if languages is not None:
            identifier.set_languages(list(languages))
    return identifier


def supported_languages() -> set[str]:
    """The codes the model knows (ISO 639-1 where there is one: en, es, de...)."""
    return set(_identifier(None).labels)


def detect_language(
    text: str,
    *,
    languages: Sequence[str] | None = None,
    min_words: int = 3,
    min_confidence: float = 0.7,
) -> str | None:
    """The message's language code, or None when it is too short or the model unsure."""
    if len(_WORD.findall(text)) < min_words:
        return None
    chosen = tuple(sorted(languages)) if languages else None
    ranked = _identifier(chosen).rank(text)
    if not ranked:
        return None
    code, probability = ranked[0]
    return str(code) if float(probability) >= min_confidence else None
