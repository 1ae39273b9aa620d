"""From settings to models: provider aliases, missing keys, unknown kinds, the injected
HTTP client seam."""

from __future__ import annotations

import httpx2
import pytest

from frontdesk.config.settings import LlmSettings
from frontdesk.errors import UnknownComponentError
from frontdesk.interfaces import ChatMessage, ChatRequest
from frontdesk.llm.assembly import build_llm
from frontdesk.orchestration.runtime import load_registries
from frontdesk.types import Passage
from tests.llm.fakes import FakeProvider, Step

PASSAGE = Passage(
    chunk_id=1,
    document_id="d",
    title="Refunds",
    source="r.md",
    text="Refunds are paid to the original card within 7 working days.",
)
REQUEST = ChatRequest(
    messages=[ChatMessage(role="user", content="refund card days")], passages=[PASSAGE]
)


async def test_a_missing_key_leaves_extractive_answers_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings = LlmSettings.model_validate({"answer_model": "openai:gpt-4o-mini"})
    llm = build_llm(settings, load_registries().chat_models.create)
    routed = await llm.router.complete(REQUEST)
    assert routed.model == "extractive"
    assert "no API key: set OPENAI_API_KEY" in (routed.fallback_reason or "")


def test_an_unknown_kind_of_model_stops_start_up() -> None:
    settings = LlmSettings.model_validate({"models": {"answer": ["gemini:pro"]}})
    with pytest.raises(UnknownComponentError) as caught:
        build_llm(settings, load_registries().chat_models.create)
    assert "anthropic, extractive, local, openai" in caught.value.message


async def test_a_provider_alias_uses_its_kind_and_the_injected_client(
    fake: FakeProvider,
) -> None:
    fake.then(Step(text="Seven working days [1]."))
    seen: list[str] = []

    async def log(request: httpx2.Request) -> None:
        seen.append(str(request.url))

    settings = LlmSettings.model_validate(
        {
            "models": {"answer": ["ollama:llama3"]},
            "providers": {"ollama": {"kind": "openai", "base_url": f"{fake.url}/v1"}},
        }
    )
    async with httpx2.AsyncClient(event_hooks={"request": [log]}) as client:
        llm = build_llm(settings, load_registries().chat_models.create, http_client=client)
        routed = await llm.router.complete(REQUEST)
    assert routed.model == "ollama:llama3"
    assert fake.requests[0]["body"]["model"] == "llama3"
    assert seen == [f"{fake.url}/v1/chat/completions"]
