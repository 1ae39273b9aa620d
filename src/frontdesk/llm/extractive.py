"""The model that needs no model: answers by quoting the best passages, with citations.

Always available, so frontdesk answers with no API key, and the last fallback of the
model router. An FAQ passage answers with its A: text; a section answers with the sentences
that share the most words with the question, and only when some of them share at least one
(a passage that merely ranked first is no answer: then there is none, and a person is offered).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from frontdesk.interfaces import ChatChunk, ChatRequest, ChatResult
from frontdesk.text import content_words, estimate_tokens, stem
from frontdesk.types import Passage, Usage

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


class ExtractiveChatModel:
    name = "extractive"

    def __init__(self, *, max_sentences: int = 3, max_passages: int = 2, **_: object) -> None:
        self.max_sentences = max_sentences
        self.max_passages = max_passages

    async def complete(self, request: ChatRequest) -> ChatResult:
        question = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        passages = request.passages
        prompt_tokens = sum(estimate_tokens(p.text) for p in passages)
        if not passages:
            return ChatResult(
                text="", cited=[], grounded=False, usage=self._usage(prompt_tokens, "")
            )
        words = content_words(question)
        parts: list[str] = []
        cited: list[int] = []
        top_score = None
        for n, passage in enumerate(passages, start=1):
            if len(cited) >= self.max_passages:
                break
            quote = self._quote(passage, words)
            if not quote:
                continue
            if top_score is None:
                top_score = passage.score
            elif passage.score < 0.6 * top_score or len(words & content_words(quote)) < 2:
                break  # a further passage only when it ranks close and also fits the question
            parts.append(f"{quote} [{n}]")
            cited.append(n)
        text = " ".join(parts)
        return ChatResult(
            text=text, cited=cited, grounded=bool(cited), usage=self._usage(prompt_tokens, text)
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        result = await self.complete(request)
        if result.text:
            yield ChatChunk(text=result.text)
        yield ChatChunk(result=result)

    def _quote(self, passage: Passage, words: set[str]) -> str:
        if passage.kind == "faq":
            # Quote an FAQ answer only when its question is close to the one asked: a bare
            # "Yes." answering some other question misleads.
            asked = content_words(passage.heading)
            if not asked or len(words & asked) / len(asked | words) < 0.2:
                return ""
            answer = passage.text.split("\nA:", 1)
            return answer[1].strip() if len(answer) == 2 else passage.text.strip()
        sentences = [s.strip() for s in _SENTENCE.split(_plain(passage.text)) if s.strip()]
        if not sentences:
            return ""
        asked = {stem(w) for w in words}
        shared = [len(asked & {stem(w) for w in content_words(s)}) for s in sentences]
        # The sentences that share the most words with the question, in their order; none
        # at all: ranked first, but no answer.
        scored = sorted((i for i in range(len(sentences)) if shared[i]), key=lambda i: -shared[i])
        chosen = sorted(scored[: self.max_sentences])
        return " ".join(sentences[i] for i in chosen)

    def _usage(self, prompt_tokens: int, text: str) -> Usage:
        return Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=estimate_tokens(text),
            cost=0.0,
            model=self.name,
        )


def _plain(markdown: str) -> str:
    """Markdown to sentence-ready text: list items and lines joined, emphasis dropped."""
    lines = []
    for raw in markdown.splitlines():
        line = raw.strip()
        if not line or line.startswith("```") or line.startswith("|"):
            continue
        line = re.sub(r"^([-*+]|\d+[.)])\s+", "", line)
        line = re.sub(r"[*_`]{1,2}([^*_`]+)[*_`]{1,2}", r"\1", line)
        if line and line[-1] not in ".!?:":
            line += "."
        lines.append(line)
    return " ".join(lines)
