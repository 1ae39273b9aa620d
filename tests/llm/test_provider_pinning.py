"""Issue 17, point 8 for model providers: the SDKs' connections are checked where they are
made, not only at start-up. A provider's base_url names a host; each connection resolves it
once, refuses a link-local or cloud metadata address (unless `allow_link_local`), and
connects to the address it checked. A name whose DNS answer changes after start-up (DNS
rebinding to 169.254.169.254) is refused; loopback and private addresses (a local vLLM or
Ollama) stay allowed. Both SDKs (openai, anthropic), through the fake provider on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from frontdesk.config.settings import LlmSettings, ProviderSettings
from frontdesk.interfaces import ChatMessage, ChatRequest
from frontdesk.llm.assembly import check_provider_urls
from frontdesk.llm.errors import ProviderError
from tests.llm.conftest import fake, kind, provider_server  # noqa: F401
from tests.llm.fakes import FakeProvider

HOST = "models.internal.test"  # resolved by the test's resolver only


class Rebinding:
    """Answers with each address in turn (the last one from then on)."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    def __iter__(self) -> Iterator[str]:
        return iter(self.asked)

    async def __call__(self, host: str) -> list[str]:
        self.asked.append(host)
        return [self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]]


def _model(kind: str, fake: FakeProvider, resolver: Rebinding, **extra: Any) -> Any:  # noqa: F811
    port = fake.url.rsplit(":", 1)[1]
    base = f"http://{HOST}:{port}" + ("/v1" if kind == "openai" else "")
    settings = ProviderSettings(base_url=base, api_key=SecretStr("test-key"), timeout_s=5.0,
                                **extra)  # fmt: skip
    if kind == "openai":
        from frontdesk.llm.openai_chat import OpenAIChatModel

        return OpenAIChatModel(model="gpt-test", settings=settings, resolver=resolver), settings
    from frontdesk.llm.anthropic_chat import AnthropicChatModel

    return AnthropicChatModel(model="claude-test", settings=settings, resolver=resolver), settings


REQUEST = ChatRequest(messages=[ChatMessage(role="user", content="hello")])


async def test_a_name_is_resolved_and_checked_at_each_connection(
    kind: str,  # noqa: F811
    fake: FakeProvider,  # noqa: F811
) -> None:
    resolver = Rebinding("127.0.0.1")
    model, _ = _model(kind, fake, resolver)
    try:
        result = await model.complete(REQUEST)
    finally:
        await model.aclose()
    assert result.text == "Hello there."
    assert HOST in list(resolver)  # our resolver, at connect time: the SDK's own DNS unused
    assert fake.requests[0]["headers"]["host"].startswith(HOST)  # the Host header unchanged


async def test_dns_rebinding_after_start_up_is_refused(
    kind: str,  # noqa: F811
    fake: FakeProvider,  # noqa: F811
) -> None:
    resolver = Rebinding("127.0.0.1", "169.254.169.254")
    model, settings = _model(kind, fake, resolver)
    try:
        # At start-up the name points at the model server: accepted.
        await check_provider_urls(LlmSettings(providers={kind: settings}), resolver)
        with pytest.raises(ProviderError) as refused:
            await model.complete(REQUEST)
    finally:
        await model.aclose()
    assert "169.254.169.254" in str(refused.value)
    assert fake.requests == []


async def test_allow_link_local_lets_the_operator_s_own_address_through(
    kind: str,  # noqa: F811
    fake: FakeProvider,  # noqa: F811
) -> None:
    """A model server the operator runs on a link-local address, said so in the settings:
    checked against nothing (the connection still goes where the resolver says)."""
    resolver = Rebinding("127.0.0.1")
    model, _ = _model(kind, fake, resolver, allow_link_local=True)
    try:
        assert (await model.complete(REQUEST)).text == "Hello there."
    finally:
        await model.aclose()
