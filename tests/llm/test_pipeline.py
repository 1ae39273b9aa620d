"""The llm package inside the pipeline on the demo workspace: what a turn records (model,
tokens, cost, why it fell back), monthly budgets summed from stored turns, and the response
cache across conversations and knowledge-base changes."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from frontdesk.config.settings import LlmSettings
from frontdesk.llm.budget import BudgetKeeper, stored_month_usage
from frontdesk.llm.cache import ResponseCache
from frontdesk.llm.router import ModelRouter
from frontdesk.llm.service import LlmService
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.conversations import create_conversation
from frontdesk.storage.models import KnowledgeIndex
from frontdesk.storage.models import Turn as TurnRow
from frontdesk.types import InboundMessage, Reply
from tests.llm.conftest import Models
from tests.llm.fakes import FakeProvider, Step

QUESTION = "I want a refund for order KP-20481736"


def use_provider(runtime: Runtime, models: Models, **overrides: object) -> LlmService:
    settings = LlmSettings.model_validate(
        {
            "models": {"answer": ["openai:gpt-test"]},
            "retries": 0,
            "prices": {"gpt-test": {"prompt": 2.0, "completion": 8.0}},
            **overrides,
        }
    )
    router = ModelRouter(
        settings,
        {"openai:gpt-test": models("openai")},
        budgets=BudgetKeeper(settings.budgets, stored_month_usage(runtime.db)),
    )
    service = LlmService(
        settings,
        router,
        cache=ResponseCache(settings.cache, runtime.embedder),
        company="Kestrel Parcel",
    )
    runtime.assistant.deps.llm = service
    return service


async def ask(runtime: Runtime, text: str = QUESTION) -> tuple[Reply, TurnRow]:
    async with runtime.db.session(runtime.tenant.id) as session:
        conversation = await create_conversation(session, channel="api")
        await session.commit()
        conversation_id = conversation.id
    reply = await runtime.assistant.handle(
        InboundMessage(tenant_id=runtime.tenant.id, conversation_id=conversation_id, text=text)
    )
    async with runtime.db.session(runtime.tenant.id) as session:
        row = await session.get(TurnRow, reply.turn_id)
    assert row is not None
    return reply, row


async def test_extractive_turns_record_estimated_tokens(sqlite_runtime: Runtime) -> None:
    reply, row = await ask(sqlite_runtime)
    assert reply.citations
    assert row.model == "extractive"
    assert row.prompt_tokens > 0
    assert row.completion_tokens > 0
    assert row.cost == 0.0
    assert row.error is None


async def test_provider_answers_are_recorded_with_usage_and_cost(
    sqlite_runtime: Runtime, models: Models, fake: FakeProvider
) -> None:
    use_provider(sqlite_runtime, models)
    fake.default = Step(echo=True, prompt_tokens=900, completion_tokens=40)
    reply, row = await ask(sqlite_runtime)
    assert reply.text.endswith("[1]")
    assert [c.n for c in reply.citations] == [1]
    assert (row.model, row.prompt_tokens, row.completion_tokens) == ("openai:gpt-test", 900, 40)
    assert row.cost == pytest.approx((900 * 2.0 + 40 * 8.0) / 1e6)
    assert row.error is None


async def test_a_failing_provider_falls_back_and_the_turn_says_why(
    sqlite_runtime: Runtime, models: Models, fake: FakeProvider
) -> None:
    use_provider(sqlite_runtime, models)
    fake.default = Step(status=429)
    reply, row = await ask(sqlite_runtime)
    assert reply.citations  # extractive still answers from the passages
    assert not reply.fallback  # the customer got a real answer
    assert row.model == "extractive"
    assert row.error is not None
    assert row.error.startswith("model fallback: openai:gpt-test: rate_limit")


async def test_monthly_budget_is_summed_from_stored_turns(
    sqlite_runtime: Runtime, models: Models, fake: FakeProvider
) -> None:
    fake.default = Step(echo=True, prompt_tokens=5000, completion_tokens=100)
    use_provider(sqlite_runtime, models)
    _, first = await ask(sqlite_runtime)
    assert first.model == "openai:gpt-test"
    # A new process (fresh keeper) reads this month's 5,100 tokens back from the turns table.
    use_provider(sqlite_runtime, models, budgets={"monthly_tokens": 5500}, cache={"enabled": False})
    _, second = await ask(sqlite_runtime)
    assert second.model == "extractive"
    assert second.error is not None
    assert "monthly token budget: 5100 used" in second.error
    assert fake.count == 1


async def test_cache_serves_repeats_until_the_knowledge_base_changes(
    sqlite_runtime: Runtime, models: Models, fake: FakeProvider
) -> None:
    use_provider(sqlite_runtime, models)
    fake.default = Step(echo=True, prompt_tokens=700, completion_tokens=30)
    first, _ = await ask(sqlite_runtime)
    again, row = await ask(sqlite_runtime)
    assert row.model == "cache:openai:gpt-test"
    assert (row.prompt_tokens, row.cost) == (0, 0.0)
    assert again.text == first.text
    assert again.citations == first.citations
    assert fake.count == 1
    async with sqlite_runtime.db.session(sqlite_runtime.tenant.id) as session:
        await session.execute(update(KnowledgeIndex).values(version=KnowledgeIndex.version + 1))
        await session.commit()
    _, after = await ask(sqlite_runtime)
    assert after.model == "openai:gpt-test"
    assert fake.count == 2
