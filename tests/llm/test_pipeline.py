"""The llm package inside the pipeline on the demo workspace: what a turn records (model,
tokens, cost, why it fell back), monthly budgets summed from stored turns, and the response
cache across conversations and knowledge-base changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from frontdesk.config.settings import LlmSettings
from frontdesk.embedding import CachingEmbedder
from frontdesk.llm.budget import BudgetKeeper, stored_month_usage
from frontdesk.llm.cache import ResponseCache
from frontdesk.llm.router import ModelRouter
from frontdesk.llm.service import LlmService
from frontdesk.orchestration.runtime import Runtime, open_runtime, sync_knowledge
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


async def test_a_knowledge_base_edit_invalidates_the_cache(
    sqlite_runtime: Runtime, models: Models, fake: FakeProvider
) -> None:
    """What `frontdesk kb ingest` and start-up do: sync the knowledge folder. An edited
    article moves the index version, and the next identical question goes to the model."""
    runtime = sqlite_runtime
    use_provider(runtime, models)
    fake.default = Step(echo=True, prompt_tokens=700, completion_tokens=30)
    await ask(runtime)
    _, cached = await ask(runtime)
    assert cached.model == "cache:openai:gpt-test"
    unchanged = await sync_knowledge(
        runtime.db, runtime.tenant.id, runtime.workspace, runtime.settings,
        embedder=runtime.embedder,
    )  # fmt: skip
    assert not unchanged.changed
    _, still = await ask(runtime)
    assert still.model == "cache:openai:gpt-test"  # a sync that changes nothing keeps it
    article = runtime.workspace.knowledge_dir / "refund-timelines.md"
    article.write_text(
        article.read_text(encoding="utf-8") + "\nQ: Do refunds show as pending?\nA: Sometimes.\n",
        encoding="utf-8",
    )
    report = await sync_knowledge(
        runtime.db, runtime.tenant.id, runtime.workspace, runtime.settings,
        embedder=runtime.embedder,
    )  # fmt: skip
    assert report.updated == ["knowledge/refund-timelines.md"]
    _, fresh = await ask(runtime)
    assert fresh.model == "openai:gpt-test"
    assert fake.count == 2


async def test_tone_and_formality_come_from_the_workspace(
    workspace: Path, embedder: CachingEmbedder, fake: FakeProvider
) -> None:
    """frontdesk.yaml names the provider, its key and the tone; the model is built through
    the registry like `frontdesk serve` does and is told the workspace's tone."""
    config = workspace / "frontdesk.yaml"
    text = config.read_text(encoding="utf-8")
    assert "llm:\n  answer_model: extractive" in text
    config.write_text(
        text.replace(
            "llm:\n  answer_model: extractive",
            "llm:\n"
            "  models: {answer: [openai:gpt-test]}\n"
            f"  providers: {{openai: {{base_url: '{fake.url}/v1', api_key: test-key}}}}\n"
            "  retries: 0\n"
            "  tone: calm and reassuring\n"
            "  formality: formal\n",
        ),
        encoding="utf-8",
    )
    fake.default = Step(echo=True, prompt_tokens=500, completion_tokens=20)
    runtime = await open_runtime(workspace, embedder=embedder)
    model = runtime.assistant.deps.llm.router.models["openai:gpt-test"]
    try:
        reply, row = await ask(runtime)
    finally:
        await runtime.close()
    assert model.client.is_closed()  # type: ignore[attr-defined]  # closing closes the pool
    assert row.model == "openai:gpt-test"
    assert reply.citations
    system = fake.requests[0]["body"]["messages"][0]["content"]
    assert "You are the support assistant of Kestrel Parcel." in system
    assert "Tone: calm and reassuring. Write formally and politely" in system
    assert fake.requests[0]["headers"]["authorization"] == "Bearer test-key"


async def test_a_question_the_knowledge_base_cannot_answer_calls_no_model(
    sqlite_runtime: Runtime, models: Models, fake: FakeProvider
) -> None:
    """With a model configured, the turn the knowledge base cannot answer is handed off
    before the respond stage: the model is never asked (it could only guess)."""
    use_provider(sqlite_runtime, models)
    fake.default = Step(echo=True)
    reply, row = await ask(sqlite_runtime, "Can you ship my horse to Ireland?")
    assert reply.route is not None
    assert reply.route.rule == "built-in: the knowledge base does not answer this"
    assert reply.ticket_id is not None
    assert fake.requests == []
    assert row.model is None
    assert (row.prompt_tokens, row.cost) == (0, 0.0)
    answered, _ = await ask(sqlite_runtime)  # the same model answers what the articles cover
    assert answered.citations
    assert len(fake.requests) == 1
