"""What the respond stage asks of the llm package: a grounded answer to a question from
numbered passages, through the response cache, the router, the grounding check (one retry,
then extractive), with token and cost accounting; plus structured output and the tool loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel

from frontdesk.config.settings import LlmSettings
from frontdesk.interfaces import ChatMessage, ChatRequest, ChatResult, Purpose, Tool
from frontdesk.llm.cache import CachedAnswer, ResponseCache
from frontdesk.llm.grounding import (
    check_answer,
    grounded_messages,
    instructions,
    retry_message,
)
from frontdesk.llm.router import EXTRACTIVE, Attempt, Ledger, ModelRouter, Routed, StreamEvent
from frontdesk.llm.structured import structured
from frontdesk.llm.tool_loop import ToolLoopResult, run_tool_loop
from frontdesk.types import Passage, Usage

M = TypeVar("M", bound=BaseModel)

# Receives `delta` and `reset` events while an answer streams.
StreamSink = Callable[[StreamEvent], Awaitable[None]]


@dataclass
class Answer:
    result: ChatResult  # text with [n] markers; `cited` checked; grounded=False: no answer
    passages: list[Passage]  # what the [n] refer to
    model: str
    ledger: Ledger
    fallback_reason: str | None = None
    cached: bool = False
    attempts: list[Attempt] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # grounding checks that failed
    system_prompt: str = ""  # what the model was told (the output screen keeps it private)


class LlmService:
    def __init__(
        self,
        settings: LlmSettings,
        router: ModelRouter,
        *,
        cache: ResponseCache | None = None,
        company: str = "our company",
    ) -> None:
        self.settings = settings
        self.router = router
        self.cache = cache
        self.company = company

    async def aclose(self) -> None:
        """Close the models' HTTP clients (each provider adapter holds a connection pool)."""
        for model in self.router.models.values():
            close = getattr(model, "aclose", None)
            if close is not None:
                await close()

    async def _route(self, request: ChatRequest, ledger: Ledger, sink: StreamSink | None) -> Routed:
        if sink is None:
            return await self.router.complete(request, ledger)
        routed: Routed | None = None
        async for event in self.router.stream(request, ledger):
            if event.kind == "done":
                routed = event.routed
            else:
                await sink(event)
        assert routed is not None
        return routed

    def system_prompt(self) -> str:
        """The instructions every answer is written under (without its passages)."""
        return instructions(
            company=self.company, tone=self.settings.tone, formality=self.settings.formality
        )

    async def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        *,
        history: Sequence[ChatMessage] = (),
        tenant_id: str = "",
        kb_version: int = 0,
        sink: StreamSink | None = None,
        untrusted: bool = False,
    ) -> Answer:
        """`untrusted`: the input screen doubted the question. It reaches the model fenced as
        data (`grounding.fence`), and its answer is neither taken from nor put in the cache
        (one customer's doubtful message must not shape another's answer)."""
        ledger = Ledger()
        passages = list(passages)
        # Only a conversation's opening question is cached: a follow-up means what its
        # history makes it mean.
        use_cache = self.cache is not None and not history and bool(passages) and not untrusted
        vector = None
        if use_cache and self.cache is not None:
            hit, vector = await self.cache.get(tenant_id, kb_version, question)
            if hit is not None:
                cached = hit.answer
                result = cached.result.model_copy(
                    update={"usage": Usage(model=f"cache:{cached.model}")}
                )
                if sink is not None:
                    await sink(StreamEvent("delta", result.text))
                return Answer(result, cached.passages, f"cache:{cached.model}", ledger, cached=True)
        request = ChatRequest(
            messages=grounded_messages(
                question,
                history,
                passages,
                company=self.company,
                tone=self.settings.tone,
                formality=self.settings.formality,
                untrusted=untrusted,
            ),
            passages=passages,
            purpose="answer",
            tenant_id=tenant_id,
        )
        prompt = self.system_prompt()
        problems: list[str] = []
        attempts: list[Attempt] = []
        for round_ in (1, 2):
            routed = await self._route(request, ledger, sink)
            attempts += routed.attempts
            if routed.model == EXTRACTIVE:  # quotes the passages: grounded by construction
                reason = routed.fallback_reason
                if problems:
                    reason = "; ".join([*problems, *([reason] if reason else [])])
                return Answer(
                    routed.result,
                    passages,
                    EXTRACTIVE,
                    ledger,
                    reason,
                    attempts=attempts,
                    problems=problems,
                    system_prompt=prompt,
                )
            check = check_answer(
                routed.result.text,
                passages,
                min_support=self.settings.min_support,
                question=question,
            )
            if check.ok:
                result = routed.result.model_copy(
                    update={"cited": check.cited, "grounded": not check.no_answer}
                )
                answer = Answer(
                    result,
                    passages,
                    routed.model,
                    ledger,
                    attempts=attempts,
                    problems=problems,
                    system_prompt=prompt,
                )
                if use_cache and self.cache is not None and result.grounded:
                    entry = CachedAnswer(result, passages, routed.model)
                    await self.cache.put(tenant_id, kb_version, question, entry, vector)
                return answer
            problems.append(f"{routed.model}: {check.problem}")
            if sink is not None:
                await sink(StreamEvent("reset", check.problem))
            if round_ == 1 and routed.model.startswith("local:"):
                break  # a local model answers the same prompt the same way: no retry
            request = request.model_copy(
                update={
                    # A system note, not a new user turn: the question stays the last thing
                    # the customer said (extractive and Anthropic both rely on that).
                    "messages": [*request.messages, retry_message(check.problem)]
                }
            )
        fallback = await self._extractive(request, ledger, sink)
        reason = "answer not supported by its passages: " + "; ".join(problems)
        return Answer(
            fallback,
            passages,
            EXTRACTIVE,
            ledger,
            reason,
            attempts=attempts,
            problems=problems,
            system_prompt=prompt,
        )

    async def _extractive(
        self, request: ChatRequest, ledger: Ledger, sink: StreamSink | None
    ) -> ChatResult:
        result = await self.router.fallback.complete(request)
        result.usage = result.usage.model_copy(update={"model": EXTRACTIVE, "cost": 0.0})
        ledger.add(result.usage, estimated=result.usage_estimated)
        if sink is not None and result.text:
            await sink(StreamEvent("delta", result.text))
        return result

    async def structured(
        self,
        schema: type[M],
        messages: Sequence[ChatMessage],
        *,
        purpose: Purpose,
        tenant_id: str = "",
        ledger: Ledger | None = None,
    ) -> M:
        return await structured(
            self.router, schema, messages, purpose=purpose, tenant_id=tenant_id, ledger=ledger
        )

    async def with_tools(
        self, request: ChatRequest, tools: Mapping[str, Tool], *, ledger: Ledger | None = None
    ) -> ToolLoopResult:
        return await run_tool_loop(
            self.router,
            request,
            tools,
            max_steps=self.settings.tool_max_steps,
            max_calls=self.settings.tool_max_calls,
            ledger=ledger,
        )
