from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from frontdesk.config.settings import ProviderSettings
from frontdesk.interfaces import ChatModel
from frontdesk.llm.openai_chat import OpenAIChatModel
from tests.llm.fakes import FakeProvider, serve


@pytest.fixture(scope="session")
def provider_server() -> Iterator[FakeProvider]:
    yield from serve(FakeProvider())


@pytest.fixture
def fake(provider_server: FakeProvider) -> Iterator[FakeProvider]:
    provider_server.reset()
    yield provider_server
    provider_server.reset()


MakeModel = Callable[..., ChatModel]


def make_model(kind: str, fake: FakeProvider, **settings: object) -> ChatModel:
    options: dict[str, object] = {
        "base_url": f"{fake.url}/v1" if kind == "openai" else fake.url,
        "api_key": SecretStr("test-key"),
        "timeout_s": 2.0,
        "stream_idle_s": 0.3,
    }
    options.update(settings)
    provider = ProviderSettings.model_validate(options)
    if kind == "openai":
        return OpenAIChatModel(model="gpt-test", provider="openai", settings=provider)
    # Imported here: the anthropic SDK takes ~3 s to import, and every test worker collects
    # this module whether or not it runs these tests.
    from frontdesk.llm.anthropic_chat import AnthropicChatModel

    return AnthropicChatModel(model="claude-test", provider="anthropic", settings=provider)


@pytest.fixture(params=["openai", "anthropic"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Models:
    """Makes provider models for a test and closes their HTTP clients after it."""

    def __init__(self, fake: FakeProvider) -> None:
        self.fake = fake
        self.made: list[Any] = []

    def __call__(self, kind: str, **settings: object) -> Any:
        model = make_model(kind, self.fake, **settings)
        self.made.append(model)
        return model


@pytest.fixture
async def models(fake: FakeProvider) -> AsyncIterator[Models]:
    made = Models(fake)
    yield made
    for model in made.made:
        await model.aclose()
