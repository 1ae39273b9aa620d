"""Grounded answers (check, retry, fallback), the response cache, structured output and the
tool loop, all through the real OpenAI SDK against the fake provider."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from pydantic import BaseModel, Field

from frontdesk.config.settings import LlmSettings, ResponseCacheSettings
from frontdesk.interfaces import ChatMessage, ChatRequest
from frontdesk.llm.cache import ResponseCache
from frontdesk.llm.errors import StructuredOutputError
from frontdesk.llm.grounding import NO_ANSWER, check_answer, system_prompt
from frontdesk.llm.router import ModelRouter, StreamEvent
from frontdesk.llm.service import LlmService
from frontdesk.types import Passage
from tests.llm.conftest import Models
from tests.llm.fakes import FakeProvider, Step

PASSAGES = [
    Passage(
        chunk_id=1,
        document_id="d1",
        title="Refunds",
        source="refunds.md",
        text="Refunds are paid to the original card within 7 working days.",
    ),
    Passage(
        chunk_id=2,
        document_id="d2",
        title="Late parcels",
        source="late.md",
        text="If a parcel arrives late, the postage is refunded in full.",
    ),
]


def _service(
    models: Models, *, cache: ResponseCache | None = None, **settings: object
) -> LlmService:
    chains = {"answer": ["openai:gpt-test"], **settings.pop("chains", {})}  # type: ignore[dict-item]
    llm = LlmSettings.model_validate({"models": chains, "retries": 0, **settings})
    router = ModelRouter(llm, {"openai:gpt-test": models("openai")})
    return LlmService(llm, router, cache=cache, company="Kestrel Parcel")


class WordEmbedder:
    """Bag-of-words vectors: near-duplicate questions share most words."""

    name = "words"
    dimension = 64

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        out = []
        for text in texts:
            vector = [0.0] * self.dimension
            for word in text.lower().replace("?", "").split():
                vector[hash(word) % self.dimension] += 1.0
            out.append(vector)
        return out


# -- the check ------------------------------------------------------------------------------


def test_check_accepts_a_supported_answer() -> None:
    check = check_answer(
        "Refunds go back to your card within 7 working days [1].", PASSAGES, min_support=0.5
    )
    assert check.ok
    assert check.cited == [1]
    assert check.support >= 0.7


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Refunds take 7 working days.", "cites no passage"),
        ("Refunds take 7 working days [3].", "[3], which is not a passage"),
        ("Refunds take 14 working days [1].", "number(s) 14"),
        ("Our warehouse robots are painted bright orange on Tuesdays [2].", "words are supported"),
    ],
)
def test_check_rejects(text: str, problem: str) -> None:
    check = check_answer(text, PASSAGES, min_support=0.5)
    assert not check.ok
    assert problem in check.problem


def test_check_rejects_question_words_the_passages_do_not_have() -> None:
    check = check_answer(
        "Yes, we sell gift cards, paid to the original card [1].",
        PASSAGES,
        min_support=0.5,
        question="Do you sell gift cards?",
    )
    assert not check.ok
    assert check.problem == (
        "it says 'gift', 'sell' from the question, which the cited passages do not"
    )


def test_check_lets_the_customers_own_numbers_be_said_back() -> None:
    text = "Your refund for KP-20481736 reaches your card within 7 working days [1]."
    assert check_answer(
        text, PASSAGES, min_support=0.5, question="when is the refund for KP-20481736 paid?"
    ).ok
    assert "20481736" in check_answer(text, PASSAGES, min_support=0.5).problem


def test_check_knows_no_answer() -> None:
    assert check_answer(NO_ANSWER, PASSAGES, min_support=0.5).no_answer


def test_prompt_numbers_passages_and_sets_tone() -> None:
    prompt = system_prompt(PASSAGES, company="Kestrel Parcel", tone="cheerful", formality="formal")
    assert "[1] Refunds\nRefunds are paid" in prompt
    assert "[2] Late parcels" in prompt
    assert "Tone: cheerful. Write formally" in prompt
    assert NO_ANSWER in prompt


# -- answering --------------------------------------------------------------------------------


async def test_a_grounded_answer_is_used(models: Models, fake: FakeProvider) -> None:
    fake.then(
        Step(
            text="Your refund reaches your card within 7 working days [1].",
            prompt_tokens=300,
            completion_tokens=15,
        )
    )
    answer = await _service(models).answer("how long do refunds take?", PASSAGES, tenant_id="t")
    assert answer.model == "openai:gpt-test"
    assert answer.result.cited == [1]
    assert answer.result.grounded
    assert answer.fallback_reason is None
    assert answer.ledger.tokens == 315
    system = fake.requests[0]["body"]["messages"][0]
    assert system["role"] == "system"
    assert "[2] Late parcels" in system["content"]


async def test_an_unsupported_answer_is_retried_once(models: Models, fake: FakeProvider) -> None:
    fake.then(Step(text="Refunds take 14 days [1]."), Step(text="Within 7 working days [1]."))
    answer = await _service(models).answer("how long do refunds take?", PASSAGES)
    assert answer.model == "openai:gpt-test"
    assert answer.result.text == "Within 7 working days [1]."
    assert answer.problems == ["openai:gpt-test: the number(s) 14 are not in the cited passages"]
    retry = fake.requests[1]["body"]["messages"][-1]
    assert retry["role"] == "system"
    assert "rejected" in retry["content"]
    assert answer.ledger.calls == 2


async def test_twice_unsupported_falls_back_to_extractive(
    models: Models, fake: FakeProvider
) -> None:
    fake.then(Step(text="It is free [9]."), Step(text="Bright orange robots [1]."))
    answer = await _service(models).answer("how long do refunds take to reach my card?", PASSAGES)
    assert answer.model == "extractive"
    assert answer.result.text.startswith("Refunds are paid to the original card")
    assert answer.fallback_reason is not None
    assert answer.fallback_reason.startswith("answer not supported by its passages")
    assert "[9]" in answer.fallback_reason


async def test_no_answer_is_not_grounded(models: Models, fake: FakeProvider) -> None:
    fake.then(Step(text=NO_ANSWER))
    answer = await _service(models).answer("do you deliver to the moon?", PASSAGES)
    assert not answer.result.grounded
    assert answer.model == "openai:gpt-test"


async def test_streaming_an_answer_resets_when_the_check_fails(
    models: Models, fake: FakeProvider
) -> None:
    fake.then(Step(text="It takes 30 days [1]."), Step(text="7 working days [1]."))
    events: list[StreamEvent] = []

    async def sink(event: StreamEvent) -> None:
        events.append(event)

    answer = await _service(models).answer("refund time?", PASSAGES, sink=sink)
    assert answer.result.text == "7 working days [1]."
    kinds = [e.kind for e in events]
    reset = kinds.index("reset")
    assert "".join(e.text for e in events[:reset]) == "It takes 30 days [1]."
    assert "".join(e.text for e in events[reset + 1 :]) == "7 working days [1]."


# -- the cache --------------------------------------------------------------------------------


async def test_cache_exact_and_near_duplicates_within_a_kb_version(
    models: Models, fake: FakeProvider
) -> None:
    cache = ResponseCache(ResponseCacheSettings(similarity=0.8), WordEmbedder())
    service = _service(models, cache=cache)
    fake.default = Step(text="Refunds reach your card within 7 working days [1].")
    first = await service.answer("How long do refunds take?", PASSAGES, tenant_id="t", kb_version=3)
    assert not first.cached
    exact = await service.answer("how long do refunds take", PASSAGES, tenant_id="t", kb_version=3)
    assert exact.cached
    assert exact.model == "cache:openai:gpt-test"
    assert exact.ledger.tokens == 0
    assert exact.result.text == first.result.text
    near = await service.answer(
        "So how long do refunds take?", PASSAGES, tenant_id="t", kb_version=3
    )
    assert near.cached
    assert fake.count == 1
    other_tenant = await service.answer(
        "How long do refunds take?", PASSAGES, tenant_id="u", kb_version=3
    )
    assert not other_tenant.cached
    changed_kb = await service.answer(
        "How long do refunds take?", PASSAGES, tenant_id="t", kb_version=4
    )
    assert not changed_kb.cached
    assert fake.count == 3
    unrelated = await service.answer(
        "Can I change my delivery address?", PASSAGES, tenant_id="t", kb_version=4
    )
    assert not unrelated.cached


async def test_cache_skips_follow_ups_and_fallbacks(models: Models, fake: FakeProvider) -> None:
    cache = ResponseCache(ResponseCacheSettings(), None)
    service = _service(models, cache=cache)
    history = [
        ChatMessage(role="user", content="hi"),
        ChatMessage(role="assistant", content="hello"),
    ]
    fake.default = Step(text="7 working days [1].")
    await service.answer("refund time?", PASSAGES, history=history)
    assert not (await service.answer("refund time?", PASSAGES, history=history)).cached
    fake.default = Step(status=500)
    await service.answer("card refund?", PASSAGES)  # extractive fallback: not cached
    fake.default = Step(text="7 working days [1].")
    assert not (await service.answer("card refund?", PASSAGES)).cached


# -- structured output -------------------------------------------------------------------------


class Summary(BaseModel):
    topic: str
    sentiment: str = Field(pattern="^(negative|neutral|positive)$")
    needs_human: bool


async def test_structured_output_is_repaired_once(models: Models, fake: FakeProvider) -> None:
    fake.then(
        Step(text='```json\n{"topic": "refund", "sentiment": "angry"}\n```'),
        Step(text='{"topic": "refund", "sentiment": "negative", "needs_human": true}'),
    )
    service = _service(models, chains={"summarise": ["openai:gpt-test"]})
    summary = await service.structured(
        Summary,
        [ChatMessage(role="user", content="Summarise: I want my money back!")],
        purpose="summarise",
    )
    assert summary == Summary(topic="refund", sentiment="negative", needs_human=True)
    first = fake.requests[0]["body"]
    assert first["response_format"] == {"type": "json_object"}
    assert '"needs_human"' in first["messages"][0]["content"]
    repair = fake.requests[1]["body"]["messages"][-1]["content"]
    assert "sentiment" in repair
    assert "needs_human" in repair


async def test_structured_output_gives_up_after_one_repair(
    models: Models, fake: FakeProvider
) -> None:
    fake.then(Step(text="not json"), Step(text='{"topic": 3}'))
    with pytest.raises(StructuredOutputError) as caught:
        await _service(models, chains={"summarise": ["openai:gpt-test"]}).structured(
            Summary, [ChatMessage(role="user", content="x")], purpose="summarise"
        )
    assert "twice" in caught.value.message


# -- the tool loop ---------------------------------------------------------------------------


class TrackParcel:
    name = "track_parcel"
    description = "Where a parcel is now"

    def __init__(self) -> None:
        self.parameters: dict[str, object] = {
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
        }
        self.calls: list[str] = []

    async def __call__(self, **arguments: object) -> object:
        order = str(arguments["order_id"])
        self.calls.append(order)
        return {"order_id": order, "status": "out for delivery"}


async def test_tool_loop_runs_tools_then_answers(models: Models, fake: FakeProvider) -> None:
    tool = TrackParcel()
    fake.then(
        Step(tool=("track_parcel", {"order_id": "KP-1"})),
        Step(text="Your parcel is out for delivery."),
    )
    service = _service(models)
    request = ChatRequest(messages=[ChatMessage(role="user", content="where is KP-1?")])
    run = await service.with_tools(request, {"track_parcel": tool})
    assert tool.calls == ["KP-1"]
    assert run.routed.result.text == "Your parcel is out for delivery."
    assert run.steps == 2
    assert run.stopped is None
    sent = fake.requests[1]["body"]["messages"]
    assert sent[-1]["role"] == "tool"
    assert "out for delivery" in sent[-1]["content"]


async def test_tool_loop_stops_at_the_step_limit_and_budget(
    models: Models, fake: FakeProvider
) -> None:
    tool = TrackParcel()
    fake.default = Step(tool=("track_parcel", {"order_id": "KP-2"}))
    service = _service(models, tool_max_steps=2, tool_max_calls=10)
    request = ChatRequest(messages=[ChatMessage(role="user", content="where is KP-2?")])
    run = await service.with_tools(request, {"track_parcel": tool})
    assert run.stopped == "step limit of 2 reached"
    assert len(tool.calls) == 2
    assert run.steps == 3  # the last call asks for an answer and runs no tool
    budget = _service(models, tool_max_steps=5, tool_max_calls=1)
    tool.calls.clear()
    run = await budget.with_tools(request, {"track_parcel": tool})
    assert run.stopped == "tool budget of 1 calls reached"
    assert len(tool.calls) == 1
    assert [r.ok for r in run.runs] == [True, False]


async def test_unknown_tools_and_tool_errors_go_back_to_the_model(
    models: Models, fake: FakeProvider
) -> None:
    fake.then(Step(tool=("refund_everything", {})), Step(text="Sorry, I cannot do that."))
    run = await _service(models).with_tools(
        ChatRequest(messages=[ChatMessage(role="user", content="refund all")]),
        {"track_parcel": TrackParcel()},
    )
    assert run.runs[0].output == "error: there is no tool named 'refund_everything'"
    assert run.routed.result.text == "Sorry, I cannot do that."


async def test_structured_output_through_anthropic(models: Models, fake: FakeProvider) -> None:
    fake.then(
        Step(text='Here it is: {"topic": "refund", "sentiment": "neutral", "needs_human": false}')
    )
    settings = LlmSettings.model_validate({"models": {"classify": ["anthropic:claude-test"]}})
    router = ModelRouter(settings, {"anthropic:claude-test": models("anthropic")})
    summary = await LlmService(settings, router).structured(
        Summary, [ChatMessage(role="user", content="refund?")], purpose="classify"
    )
    assert summary.sentiment == "neutral"
    body = fake.requests[0]["body"]
    assert '"needs_human"' in body["system"]
    assert body["messages"][-1]["role"] == "user"
