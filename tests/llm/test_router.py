"""The router around real SDK clients: retries, fallback, breaker, budgets, accounting."""

from __future__ import annotations

from datetime import datetime

import pytest

from frontdesk.config.settings import LlmSettings
from frontdesk.interfaces import ChatMessage, ChatRequest
from frontdesk.llm.budget import BudgetKeeper
from frontdesk.llm.router import Ledger, ModelRouter, NoModelAvailableError, StreamEvent
from frontdesk.resilience import Breakers
from frontdesk.types import Passage
from tests.llm.conftest import Models
from tests.llm.fakes import FakeProvider, Step

PASSAGE = Passage(
    chunk_id=1,
    document_id="d1",
    title="Refunds",
    source="refunds.md",
    text="Refunds are paid to the original card within 7 working days.",
)


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _settings(**overrides: object) -> LlmSettings:
    base: dict[str, object] = {
        "models": {
            "answer": ["openai:gpt-test", "anthropic:claude-test"],
            "summarise": ["openai:gpt-test"],
        },
        "retries": 2,
        "backoff_s": 0.5,
        "backoff_max_s": 4.0,
        "prices": {
            "gpt-test": {"prompt": 1.0, "completion": 2.0},
            "anthropic:claude-test": {"prompt": 3.0, "completion": 15.0},
        },
    }
    base.update(overrides)
    return LlmSettings.model_validate(base)


def _router(models: Models, settings: LlmSettings, **options: object) -> ModelRouter:
    built = {"openai:gpt-test": models("openai"), "anthropic:claude-test": models("anthropic")}
    return ModelRouter(settings, built, **options)  # type: ignore[arg-type]


def _request(purpose: str = "answer", tenant: str = "t1") -> ChatRequest:
    return ChatRequest.model_validate(
        {
            "messages": [{"role": "user", "content": "How long do refunds take?"}],
            "passages": [PASSAGE],
            "purpose": purpose,
            "tenant_id": tenant,
        }
    )


async def test_retryable_errors_are_retried_with_backoff(
    models: Models, fake: FakeProvider
) -> None:
    fake.then(Step(status=429), Step(status=500), Step(text="Seven working days [1]."))
    sleeps = Sleeps()
    routed = await _router(models, _settings(), sleep=sleeps).complete(_request())
    assert routed.model == "openai:gpt-test"
    assert routed.result.text == "Seven working days [1]."
    assert fake.count == 3
    assert sleeps.calls == [0.5, 1.0]  # exponential backoff between the three attempts
    assert routed.fallback_reason is None


async def test_non_retryable_errors_move_on_at_once(models: Models, fake: FakeProvider) -> None:
    fake.then(Step(status=400), Step(text="From Claude [1]."))
    sleeps = Sleeps()
    routed = await _router(models, _settings(), sleep=sleeps).complete(_request())
    assert routed.model == "anthropic:claude-test"
    assert [a.outcome for a in routed.attempts] == ["bad_request", "ok"]
    assert fake.count == 2
    assert sleeps.calls == []


async def test_everything_failing_falls_back_to_extractive_with_the_reason(
    models: Models, fake: FakeProvider
) -> None:
    fake.default = Step(status=500)
    routed = await _router(models, _settings(retries=1), sleep=Sleeps()).complete(_request())
    assert routed.model == "extractive"
    assert routed.result.text == "Refunds are paid to the original card within 7 working days. [1]"
    assert routed.fallback_reason is not None
    assert "openai:gpt-test: server" in routed.fallback_reason
    assert "anthropic:claude-test: server" in routed.fallback_reason
    assert fake.count == 4  # two attempts each


async def test_a_timeout_is_retried_then_falls_back(models: Models, fake: FakeProvider) -> None:
    fake.default = Step(delay=1.0)
    settings = _settings(models={"answer": ["openai:gpt-test"]}, retries=1)
    built = {"openai:gpt-test": models("openai", timeout_s=0.2)}
    routed = await ModelRouter(settings, built, sleep=Sleeps()).complete(_request())
    assert routed.model == "extractive"
    assert "timeout" in (routed.fallback_reason or "")
    assert fake.count == 2


async def test_other_purposes_raise_when_no_model_is_left(
    models: Models, fake: FakeProvider
) -> None:
    fake.default = Step(status=401)
    with pytest.raises(NoModelAvailableError) as caught:
        await _router(models, _settings()).complete(_request("summarise"))
    assert "auth" in caught.value.message


async def test_the_breaker_opens_then_lets_one_probe_through(
    models: Models, fake: FakeProvider
) -> None:
    clock = Clock()
    settings = _settings(
        models={"answer": ["openai:gpt-test"]}, retries=0, breaker={"failures": 2, "reset_s": 30}
    )
    breakers = Breakers(failures=2, reset_s=30, clock=clock)
    router = _router(models, settings, breakers=breakers)
    fake.default = Step(status=500)
    for _ in range(2):
        assert (await router.complete(_request())).model == "extractive"
    assert fake.count == 2
    skipped = await router.complete(_request())
    assert skipped.attempts[0].outcome == "breaker_open"
    assert fake.count == 2  # not called while open
    clock.now += 31
    fake.default = Step(text="Back again [1].")
    probe = await router.complete(_request())
    assert probe.model == "openai:gpt-test"
    assert breakers.states() == {"openai": "closed"}


async def test_a_failed_probe_opens_the_breaker_again(models: Models, fake: FakeProvider) -> None:
    clock = Clock()
    settings = _settings(models={"answer": ["openai:gpt-test"]}, retries=0)
    breakers = Breakers(failures=2, reset_s=30, clock=clock)
    router = _router(models, settings, breakers=breakers)
    fake.default = Step(status=500)
    for _ in range(2):
        await router.complete(_request())
    clock.now += 31
    probe = await router.complete(_request())
    assert [a.outcome for a in probe.attempts] == ["server"]
    assert fake.count == 3
    assert breakers.states() == {"openai": "open"}
    again = await router.complete(_request())
    assert [a.outcome for a in again.attempts] == ["breaker_open"]
    assert fake.count == 3  # open for another reset_s


async def test_the_breaker_cuts_retries_short(models: Models, fake: FakeProvider) -> None:
    settings = _settings(models={"answer": ["openai:gpt-test"]}, retries=5)
    breakers = Breakers(failures=2, reset_s=30, clock=Clock())
    fake.default = Step(status=503)
    routed = await _router(models, settings, breakers=breakers, sleep=Sleeps()).complete(_request())
    assert routed.model == "extractive"
    assert [a.outcome for a in routed.attempts] == ["breaker_open"]
    assert fake.count == 2  # not six: the breaker opened after the second failure


async def test_accounting_uses_provider_usage_and_the_price_table(
    models: Models, fake: FakeProvider
) -> None:
    fake.then(Step(text="A [1].", prompt_tokens=1000, completion_tokens=200))
    ledger = Ledger()
    routed = await _router(models, _settings()).complete(_request(), ledger)
    assert routed.result.usage.model == "openai:gpt-test"
    assert routed.result.usage.cost == pytest.approx((1000 * 1.0 + 200 * 2.0) / 1e6)
    assert (ledger.prompt_tokens, ledger.completion_tokens) == (1000, 200)
    assert not ledger.estimated
    fake.then(Step(status=400), Step(text="B [1].", prompt_tokens=100, completion_tokens=10))
    await _router(models, _settings()).complete(_request(), ledger)
    assert ledger.tokens == 1310
    assert ledger.cost == pytest.approx(0.0014 + (100 * 3.0 + 10 * 15.0) / 1e6)


async def test_turn_budget_skips_models_it_cannot_afford(
    models: Models, fake: FakeProvider
) -> None:
    settings = _settings(budgets={"turn_tokens": 50})
    routed = await _router(models, settings).complete(_request())
    assert routed.model == "extractive"
    assert [a.outcome for a in routed.attempts] == ["budget", "budget"]
    assert "turn token budget" in (routed.fallback_reason or "")
    assert fake.count == 0


async def test_monthly_budget_counts_stored_usage_and_new_spend(
    models: Models, fake: FakeProvider
) -> None:
    loads: list[tuple[str, datetime]] = []

    async def month_usage(tenant: str, since: datetime) -> tuple[int, float]:
        loads.append((tenant, since))
        return (900, 0.0) if tenant == "t1" else (0, 0.0)

    settings = _settings(models={"answer": ["openai:gpt-test"]}, budgets={"monthly_tokens": 2500})
    router = _router(models, settings, budgets=BudgetKeeper(settings.budgets, month_usage))
    fake.default = Step(text="Yes [1].", prompt_tokens=1200, completion_tokens=100)
    first = await router.complete(_request())  # 900 used + ~620 expected fits in 2500
    assert first.model == "openai:gpt-test"
    second = await router.complete(_request())  # 900 + 1300 spent + ~620 does not
    assert second.model == "extractive"
    assert "monthly token budget: 2200 used" in (second.fallback_reason or "")
    other = await router.complete(_request(tenant="t2"))  # budgets are per tenant
    assert other.model == "openai:gpt-test"
    assert [t for t, _ in loads] == ["t1", "t2"]  # loaded once per tenant, then kept current


async def test_monthly_cost_budget_skips_a_paid_model(models: Models, fake: FakeProvider) -> None:
    async def month_usage(tenant: str, since: datetime) -> tuple[int, float]:
        return 10_000, 0.0095  # this month's paid turns so far

    settings = _settings(models={"answer": ["openai:gpt-test"]}, budgets={"monthly_cost": 0.01})
    router = _router(models, settings, budgets=BudgetKeeper(settings.budgets, month_usage))
    routed = await router.complete(_request())
    assert routed.model == "extractive"
    assert "monthly cost budget: 0.0095 used > 0.01" in (routed.fallback_reason or "")
    assert fake.count == 0
    assert routed.result.usage.cost == 0.0


async def test_a_stream_that_stalls_is_reset_and_retried(
    models: Models, fake: FakeProvider
) -> None:
    fake.then(Step(text="Refunds take seven days", stall_after=2), Step(text="Seven days [1]."))
    settings = _settings(models={"answer": ["openai:gpt-test"]}, retries=1)
    built = {"openai:gpt-test": models("openai", stream_idle_s=0.2)}
    events: list[StreamEvent] = []
    async for event in ModelRouter(settings, built, sleep=Sleeps()).stream(_request()):
        events.append(event)
    kinds = [e.kind for e in events]
    assert kinds[:3] == ["delta", "delta", "reset"]
    assert "stalled" in events[2].text
    assert "".join(e.text for e in events[3:] if e.kind == "delta") == "Seven days [1]."
    done = events[-1]
    assert done.kind == "done"
    assert done.routed is not None
    assert done.routed.model == "openai:gpt-test"


async def test_a_stream_falls_back_to_extractive(models: Models, fake: FakeProvider) -> None:
    fake.default = Step(status=503)
    settings = _settings(retries=0)
    events = [e async for e in _router(models, settings).stream(_request())]
    assert [e.kind for e in events] == ["delta", "done"]
    assert events[0].text.endswith("[1]")
    assert events[1].routed is not None
    assert events[1].routed.model == "extractive"
    assert "server" in (events[1].routed.fallback_reason or "")


async def test_unavailable_models_are_skipped_with_their_reason() -> None:
    router = ModelRouter(
        _settings(models={"answer": ["openai:gpt-test"]}),
        {},
        unavailable={"openai:gpt-test": "no API key: set OPENAI_API_KEY"},
    )
    routed = await router.complete(_request())
    assert routed.model == "extractive"
    assert routed.fallback_reason == "openai:gpt-test: unavailable (no API key: set OPENAI_API_KEY)"


async def test_extractive_alone_is_no_fallback() -> None:
    routed = await ModelRouter(LlmSettings(), {}).complete(
        ChatRequest(messages=[ChatMessage(role="user", content="refund card")], passages=[PASSAGE])
    )
    assert routed.model == "extractive"
    assert routed.fallback_reason is None
