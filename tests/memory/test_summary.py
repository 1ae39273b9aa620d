"""The running summary: extractive by default (intents, facts given, outcomes), kept within
its token budget with the newest kept; written by the `summarise` model when one is
configured, through the LLM service, and extractive again when that model fails."""

from __future__ import annotations

from collections.abc import AsyncIterator

from frontdesk.config.settings import LlmSettings
from frontdesk.interfaces import ChatChunk, ChatRequest, ChatResult
from frontdesk.llm.errors import ProviderError
from frontdesk.llm.router import ModelRouter
from frontdesk.llm.service import LlmService


class FakeSummariser:
    name = "fake"

    def __init__(self, text: str | None) -> None:
        self.text = text
        self.requests: list[ChatRequest] = []

    async def complete(self, request: ChatRequest) -> ChatResult:
        self.requests.append(request)
        if self.text is None:
            raise ProviderError("fake:sum", "error", "down")
        return ChatResult(text=self.text)

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        result = await self.complete(request)
        yield ChatChunk(text=result.text, result=result)


def _llm(model: FakeSummariser | None) -> LlmService:
    chains = {"summarise": ["fake:sum"]} if model is not None else {}
    settings = LlmSettings.model_validate({"models": chains, "retries": 0})
    router = ModelRouter(settings, {"fake:sum": model} if model is not None else {})
    return LlmService(settings, router)


def test_the_extractive_summary_keeps_the_newest_within_its_budget() -> None:
    from frontdesk.memory.summary import TurnNotes, estimate_tokens, update_summary

    text: str | None = None
    for i in range(40):
        notes = TurnNotes(
            intent="track_parcel" if i % 2 else "request_refund",
            given={"order_id": f"KP-{i:08d}"},
            outcomes=[f"answered from Article {i}"],
        )
        text = update_summary(text, notes, budget_tokens=120)
    assert text is not None
    assert estimate_tokens(text) <= 120
    assert "track_parcel" in text
    assert "request_refund" in text
    assert "KP-00000039" in text  # the newest value of a fact replaces the older one
    assert "KP-00000038" not in text
    assert "Article 39" in text  # the newest outcome is kept; the oldest go first
    assert "Article 1 " not in text
    assert not text.rstrip().endswith("Article 1")


def test_a_turn_updates_the_previous_summary() -> None:
    from frontdesk.memory.summary import TurnNotes, update_summary

    first = update_summary(
        None, TurnNotes(intent="late_delivery", outcomes=["asked for the order id"]), 200
    )
    second = update_summary(
        first,
        TurnNotes(intent="late_delivery", given={"order_id": "KP-20481736"},
                  outcomes=["called parcel_status: ok (In transit)"]),
        200,
    )  # fmt: skip
    assert second.count("late_delivery") == 1
    assert "asked for the order id" in second
    assert "parcel_status" in second
    assert "KP-20481736" in second


async def test_the_summarise_model_writes_it_and_extractive_takes_over_when_it_fails() -> None:
    from frontdesk.memory.summary import TurnNotes
    from frontdesk.orchestration.remembering import write_summary

    notes = TurnNotes(intent="request_refund", given={"order_id": "KP-20481736"},
                      outcomes=["answered from Requesting a refund"])  # fmt: skip
    model = FakeSummariser("Customer wants a refund for KP-20481736; told how to request it.")
    text, writer = await write_summary(
        _llm(model), "Intents: greet", notes, customer_said="refund KP-20481736 please",
        reply="Find the order and select Request refund.", budget_tokens=200, tenant_id="t",
    )  # fmt: skip
    assert writer == "fake:sum"
    assert text == "Customer wants a refund for KP-20481736; told how to request it."
    prompt = "\n".join(m.content for m in model.requests[0].messages)
    assert "Intents: greet" in prompt
    assert "refund KP-20481736 please" in prompt
    assert model.requests[0].purpose == "summarise"

    down = FakeSummariser(None)
    text, writer = await write_summary(
        _llm(down), None, notes, customer_said="x", reply="y", budget_tokens=200, tenant_id="t"
    )
    assert writer == "extractive"
    assert "request_refund" in text
    assert "KP-20481736" in text

    text, writer = await write_summary(  # no summarise model configured: extractive, no call
        _llm(None), None, notes, customer_said="x", reply="y", budget_tokens=200, tenant_id="t"
    )
    assert writer == "extractive"


def test_names_customers_give_are_found_in_the_shipped_languages() -> None:
    from frontdesk.memory.profile import given_name

    assert given_name("Hi, my name is Maria and my parcel is late") == "Maria"
    assert given_name("my name is maria lopez") == "Maria Lopez"
    assert given_name("Me llamo Lucía y mi paquete no llega") == "Lucía"
    assert given_name("Ich heiße Jonas") == "Jonas"
    assert given_name("je m'appelle Chloé") == "Chloé"
    assert given_name("mi chiamo Giulia") == "Giulia"
    assert given_name("o meu nome é João") == "João"
    assert given_name("mijn naam is Daan") == "Daan"
    assert given_name("call me Sam") == "Sam"
    assert given_name("my parcel KP-20481736 is late") is None
    assert given_name("my name is not on the parcel") is None
