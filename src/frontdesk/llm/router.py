"""The model router: for each purpose an ordered chain of models; for each model retries with
backoff (tenacity) on retryable errors only, a time limit, a circuit breaker and the tenant's
budgets. When every model in the chain is out, answers come from `extractive` and the reason
is returned so the turn can record it. Token use and cost are counted into the turn's ledger.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_any,
    wait_exponential,
)
from tenacity.stop import stop_base

from frontdesk.config.settings import LlmSettings
from frontdesk.errors import FrontdeskError
from frontdesk.interfaces import ChatModel, ChatRequest, ChatResult, Purpose
from frontdesk.llm.budget import BudgetKeeper, cost_of, is_free, price_for
from frontdesk.llm.errors import ProviderError
from frontdesk.llm.extractive import ExtractiveChatModel
from frontdesk.llm.tokens import estimate_prompt_tokens
from frontdesk.resilience import Breakers
from frontdesk.resilience.breaker import BreakerState
from frontdesk.types import Usage

log = logging.getLogger(__name__)

EXTRACTIVE = "extractive"
DEFAULT_TIMEOUT_S = 60.0  # models without provider settings (local:, plugins)


@dataclass
class Ledger:
    """What one turn has spent on models, summed over every call it made."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    estimated: bool = False  # some call's usage was counted locally
    calls: int = 0
    tool_calls: int = 0
    started: float = field(default_factory=time.monotonic)  # for llm.turn_timeout_s
    out_of_time: bool = False  # the last model's retries were stopped by llm.turn_timeout_s

    def seconds_left(self, budget_s: float) -> float:
        """What is left of the turn's model time."""
        return budget_s - (time.monotonic() - self.started)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, usage: Usage, *, estimated: bool) -> None:
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.cost += usage.cost
        self.estimated = self.estimated or estimated
        self.calls += 1


@dataclass
class Attempt:
    model: str
    outcome: str  # ok, an error kind (rate_limit, timeout...), breaker_open, budget, unavailable
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.model}: {self.outcome}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class Routed:
    result: ChatResult
    model: str
    attempts: list[Attempt] = field(default_factory=list)
    fallback_reason: str | None = None


@dataclass
class StreamEvent:
    kind: Literal["delta", "reset", "done"]
    text: str = ""
    routed: Routed | None = None


class NoModelAvailableError(FrontdeskError):
    code = "model_unavailable"
    status_code = 503

    def __init__(self, purpose: str, attempts: list[Attempt]) -> None:
        tried = "; ".join(str(a) for a in attempts) or "no model configured"
        super().__init__(f"no model could serve {purpose!r}: {tried}")
        self.attempts = attempts


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ProviderError) and exc.retryable


class ModelRouter:
    def __init__(
        self,
        settings: LlmSettings,
        models: Mapping[str, ChatModel],
        *,
        unavailable: Mapping[str, str] | None = None,
        fallback: ChatModel | None = None,
        budgets: BudgetKeeper | None = None,
        breakers: Breakers | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.models = dict(models)
        self.unavailable = dict(unavailable or {})  # spec -> why it could not be built
        self.fallback = fallback or ExtractiveChatModel()
        self.budgets = budgets or BudgetKeeper(settings.budgets, None)
        self.breakers = breakers or Breakers(
            failures=settings.breaker.failures, reset_s=settings.breaker.reset_s
        )
        if self.breakers.on_change is None:
            self.breakers.on_change = self._breaker_changed
        self.sleep = sleep

    def _models_of(self, provider: str) -> list[str]:
        return [s for s in self._all_models() if self._provider(s) == provider]

    def _all_models(self) -> list[str]:
        purposes: tuple[Purpose, ...] = ("answer", "summarise", "classify", "ops")
        return sorted({spec for purpose in purposes for spec in self.chain(purpose)})

    def _breaker_changed(self, provider: str, old: BreakerState, new: BreakerState) -> None:
        """One log line when a provider's models start being skipped and one when they
        answer again (the probes in between are quiet)."""
        models = ", ".join(self._models_of(provider)) or provider
        if new is BreakerState.OPEN and old is BreakerState.CLOSED:
            log.warning(
                "model %s skipped: %s failed %d calls in a row; tried again in %.0f s, the "
                "next in its chain (or answers from the passages) meanwhile",
                models, provider, self.breakers.failures, self.breakers.reset_s,
            )  # fmt: skip
        elif new is BreakerState.CLOSED and old is not BreakerState.CLOSED:
            log.warning("model %s answering again", models)
        else:
            log.debug("model %s: breaker %s -> %s", models, old.value, new.value)

    def breaker_states(self) -> dict[str, str]:
        """Each model of the chains: its provider's breaker (closed, open, half_open), or
        `unavailable` when it could not be built."""
        return {
            spec: "unavailable"
            if spec in self.unavailable or spec not in self.models
            else self.breakers[self._provider(spec)].state.value
            for spec in self._all_models()
        }

    def chain(self, purpose: Purpose) -> list[str]:
        return [spec for spec in self.settings.chain(purpose) if spec != EXTRACTIVE]

    def _retrying(self, ledger: Ledger) -> AsyncRetrying:
        return AsyncRetrying(
            stop=stop_any(
                stop_after_attempt(self.settings.retries + 1),
                _OutOfTime(ledger, self.settings.turn_timeout_s),
            ),
            wait=wait_exponential(
                multiplier=self.settings.backoff_s, max=self.settings.backoff_max_s
            ),
            retry=retry_if_exception(_retryable),
            sleep=self.sleep,
            reraise=True,
        )

    def _provider(self, spec: str) -> str:
        return spec.partition(":")[0]

    def _timeout(self, spec: str, ledger: Ledger) -> float:
        provider = self.settings.providers.get(self._provider(spec))
        # The adapters time their own calls; this outer limit catches models that do not.
        # Neither outlasts what is left of the turn's model time.
        limit = provider.timeout_s + 1.0 if provider else DEFAULT_TIMEOUT_S
        return max(0.0, min(limit, ledger.seconds_left(self.settings.turn_timeout_s)))

    def _failed(self, spec: str, exc: ProviderError, ledger: Ledger) -> Attempt:
        """The failed model's attempt, saying so when the turn's model time cut it short."""
        if ledger.out_of_time or ledger.seconds_left(self.settings.turn_timeout_s) <= 0:
            ledger.out_of_time = False
            return Attempt(spec, exc.kind, f"{exc.detail}; out of llm.turn_timeout_s")
        return Attempt(spec, exc.kind, exc.detail)

    async def _precheck(self, spec: str, request: ChatRequest, ledger: Ledger) -> Attempt | None:
        """Why `spec` must be skipped now, or None."""
        if ledger.seconds_left(self.settings.turn_timeout_s) <= 0:
            return Attempt(spec, "timeout", "the turn's model time (llm.turn_timeout_s) is spent")
        if spec in self.unavailable:
            return Attempt(spec, "unavailable", self.unavailable[spec])
        if spec not in self.models:
            return Attempt(spec, "unavailable", "not configured")
        if not self.breakers[self._provider(spec)].allow():
            return Attempt(spec, "breaker_open", f"{self._provider(spec)} failed repeatedly")
        if is_free(spec) or not self.budgets.limited:
            return None
        provider = self.settings.providers.get(self._provider(spec))
        expected_completion = request.max_tokens or (provider.max_tokens if provider else 600)
        tokens = estimate_prompt_tokens(request, rough=True) + expected_completion
        price = price_for(spec, self.settings.prices)
        cost = (
            (tokens - expected_completion) * price.prompt + expected_completion * price.completion
        ) / 1e6 if price else 0.0  # fmt: skip
        reason = await self.budgets.check(
            request.tenant_id, tokens=tokens, cost=cost, turn_tokens=ledger.tokens,
            turn_cost=ledger.cost,
        )  # fmt: skip
        if reason:
            # The breaker let a call through that will not be made: give the probe back.
            self.breakers[self._provider(spec)].release()
            return Attempt(spec, "budget", reason)
        return None

    def _account(self, spec: str, result: ChatResult, request: ChatRequest, ledger: Ledger) -> None:
        usage = result.usage.model_copy(update={"model": spec})
        usage.cost = 0.0 if is_free(spec) else cost_of(usage, self.settings.prices)
        result.usage = usage
        ledger.add(usage, estimated=result.usage_estimated)
        if request.tenant_id:
            self.budgets.spend(request.tenant_id, usage)

    async def complete(self, request: ChatRequest, ledger: Ledger | None = None) -> Routed:
        ledger = ledger if ledger is not None else Ledger()
        attempts: list[Attempt] = []
        for spec in self.chain(request.purpose):
            skip = await self._precheck(spec, request, ledger)
            if skip is not None:
                attempts.append(skip)
                continue
            model = self.models[spec]
            breaker = self.breakers[self._provider(spec)]
            try:
                async for attempt in self._retrying(ledger):
                    with attempt:
                        if attempt.retry_state.attempt_number > 1 and not breaker.allow():
                            raise ProviderError(spec, "breaker_open", "opened while retrying")
                        try:
                            async with asyncio.timeout(self._timeout(spec, ledger)):
                                result = await model.complete(request)
                        except ProviderError as exc:
                            breaker.record_failure()
                            raise exc
                        except TimeoutError as exc:
                            breaker.record_failure()
                            raise ProviderError(spec, "timeout", "no answer in time") from exc
                        except Exception as exc:
                            breaker.record_failure()
                            raise ProviderError(
                                spec, "error", f"{type(exc).__name__}: {exc}"
                            ) from exc
                        breaker.record_success()
            except ProviderError as exc:
                attempts.append(self._failed(spec, exc, ledger))
                continue
            self._account(spec, result, request, ledger)
            attempts.append(Attempt(spec, "ok"))
            return Routed(result=result, model=spec, attempts=attempts)
        return await self._fall_back(request, ledger, attempts)

    async def _fall_back(
        self, request: ChatRequest, ledger: Ledger, attempts: list[Attempt]
    ) -> Routed:
        if request.purpose != "answer":
            raise NoModelAvailableError(request.purpose, attempts)
        result = await self.fallback.complete(request)
        self._account(EXTRACTIVE, result, request, ledger)
        reason = "; ".join(str(a) for a in attempts) or None
        return Routed(result=result, model=EXTRACTIVE, attempts=attempts, fallback_reason=reason)

    async def stream(
        self, request: ChatRequest, ledger: Ledger | None = None
    ) -> AsyncIterator[StreamEvent]:
        """Like `complete`, as events: text `delta`s; a `reset` when a model fails after it
        has sent text (the client drops what it showed); `done` with the outcome."""
        ledger = ledger if ledger is not None else Ledger()
        attempts: list[Attempt] = []
        for spec in self.chain(request.purpose):
            skip = await self._precheck(spec, request, ledger)
            if skip is not None:
                attempts.append(skip)
                continue
            model = self.models[spec]
            breaker = self.breakers[self._provider(spec)]
            result: ChatResult | None = None
            try:
                async for attempt in self._retrying(ledger):
                    with attempt:
                        if attempt.retry_state.attempt_number > 1 and not breaker.allow():
                            raise ProviderError(spec, "breaker_open", "opened while retrying")
                        sent = False
                        try:
                            async with asyncio.timeout(self._timeout(spec, ledger)):
                                async for chunk in model.stream(request):
                                    if chunk.text:
                                        sent = True
                                        yield StreamEvent("delta", chunk.text)
                                    if chunk.result is not None:
                                        result = chunk.result
                            if result is None:
                                raise ProviderError(spec, "malformed", "stream ended early")
                        except Exception as exc:
                            breaker.record_failure()
                            error = _as_provider_error(spec, exc)
                            if sent:
                                yield StreamEvent("reset", str(error))
                            raise error from exc
                        breaker.record_success()
            except ProviderError as exc:
                attempts.append(self._failed(spec, exc, ledger))
                continue
            assert result is not None
            self._account(spec, result, request, ledger)
            attempts.append(Attempt(spec, "ok"))
            yield StreamEvent("done", routed=Routed(result=result, model=spec, attempts=attempts))
            return
        if request.purpose != "answer":
            raise NoModelAvailableError(request.purpose, attempts)
        final: ChatResult | None = None
        async for chunk in self.fallback.stream(request):
            if chunk.text:
                yield StreamEvent("delta", chunk.text)
            if chunk.result is not None:
                final = chunk.result
        assert final is not None
        self._account(EXTRACTIVE, final, request, ledger)
        reason = "; ".join(str(a) for a in attempts) or None
        routed = Routed(result=final, model=EXTRACTIVE, attempts=attempts, fallback_reason=reason)
        yield StreamEvent("done", routed=routed)


class _OutOfTime(stop_base):
    """Retries stop when what is left of the turn's model time would not outlast the wait."""

    def __init__(self, ledger: Ledger, budget_s: float) -> None:
        self.ledger, self.budget_s = ledger, budget_s

    def __call__(self, retry_state: RetryCallState) -> bool:
        wait = retry_state.upcoming_sleep or 0.0
        self.ledger.out_of_time = self.ledger.seconds_left(self.budget_s) <= wait
        return self.ledger.out_of_time


def _as_provider_error(spec: str, exc: BaseException) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, TimeoutError):
        return ProviderError(spec, "timeout", "no answer in time")
    return ProviderError(spec, "error", f"{type(exc).__name__}: {exc}")
