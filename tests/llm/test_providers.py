"""The real openai and anthropic SDK clients against a fake server on 127.0.0.1."""

from __future__ import annotations

import pytest

from frontdesk.config.settings import ProviderSettings
from frontdesk.interfaces import ChatMessage, ChatModel, ChatRequest, ToolCall, ToolSpec
from frontdesk.llm.errors import ProviderError
from frontdesk.llm.openai_chat import OpenAIChatModel
from tests.llm.conftest import Models
from tests.llm.fakes import FakeProvider, Step


def _request(**extra: object) -> ChatRequest:
    return ChatRequest.model_validate(
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Where is my parcel?"},
            ],
            **extra,
        }
    )


async def _stream(model: ChatModel, request: ChatRequest) -> tuple[list[str], object]:
    pieces, result = [], None
    async for chunk in model.stream(request):
        if chunk.text:
            pieces.append(chunk.text)
        if chunk.result is not None:
            result = chunk.result
    return pieces, result


async def test_normal_completion_uses_provider_usage(
    models: Models, kind: str, fake: FakeProvider
) -> None:
    fake.then(Step(text="It is on its way.", prompt_tokens=21, completion_tokens=5))
    model = models(kind)
    assert isinstance(model, ChatModel)
    result = await model.complete(_request())
    assert result.text == "It is on its way."
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (21, 5)
    assert not result.usage_estimated
    sent = fake.requests[0]
    assert sent["headers"].get("authorization") == "Bearer test-key" or (
        sent["headers"].get("x-api-key") == "test-key"
    )
    if kind == "anthropic":
        assert sent["body"]["system"] == "Be brief."
        assert [m["role"] for m in sent["body"]["messages"]] == ["user"]
    else:
        assert [m["role"] for m in sent["body"]["messages"]] == ["system", "user"]


async def test_streaming_yields_pieces_then_the_result(
    models: Models, kind: str, fake: FakeProvider
) -> None:
    fake.then(Step(text="Your parcel arrives tomorrow.", prompt_tokens=30, completion_tokens=6))
    pieces, result = await _stream(models(kind), _request())
    assert len(pieces) == 4
    assert "".join(pieces) == "Your parcel arrives tomorrow."
    assert result is not None
    assert result.text == "Your parcel arrives tomorrow."  # type: ignore[attr-defined]
    assert result.usage.prompt_tokens == 30  # type: ignore[attr-defined]
    assert fake.requests[0]["body"]["stream"] is True


@pytest.mark.parametrize("streaming", [False, True])
async def test_tool_calls_are_parsed(
    models: Models, kind: str, fake: FakeProvider, streaming: bool
) -> None:
    fake.then(Step(tool=("track_parcel", {"order_id": "KP-12345678", "verbose": True})))
    tools = [
        ToolSpec(
            name="track_parcel",
            description="Where a parcel is",
            parameters={"type": "object", "properties": {"order_id": {"type": "string"}}},
        )
    ]
    model = models(kind)
    if streaming:
        _, result = await _stream(model, _request(tools=tools))
    else:
        result = await model.complete(_request(tools=tools))
    assert result is not None
    calls = result.tool_calls  # type: ignore[attr-defined]
    assert [(c.name, c.arguments) for c in calls] == [
        ("track_parcel", {"order_id": "KP-12345678", "verbose": True})
    ]
    body = fake.requests[0]["body"]
    names = [t.get("name") or t["function"]["name"] for t in body["tools"]]
    assert names == ["track_parcel"]


async def test_tool_results_go_back_in_the_providers_shape(
    models: Models, kind: str, fake: FakeProvider
) -> None:
    call = ToolCall(id="call_9", name="track_parcel", arguments={"order_id": "KP-1"})
    request = ChatRequest(
        messages=[
            ChatMessage(role="user", content="where is KP-1?"),
            ChatMessage(role="assistant", content="", tool_calls=[call]),
            ChatMessage(
                role="tool", content='{"status": "out for delivery"}', tool_call_id="call_9"
            ),
        ]
    )
    await models(kind).complete(request)
    messages = fake.requests[0]["body"]["messages"]
    if kind == "openai":
        assert messages[1]["tool_calls"][0]["function"]["name"] == "track_parcel"
        assert messages[2] == {
            "role": "tool",
            "tool_call_id": "call_9",
            "content": '{"status": "out for delivery"}',
        }
    else:
        assert messages[1]["content"][0]["type"] == "tool_use"
        assert messages[2]["content"][0] == {
            "type": "tool_result",
            "tool_use_id": "call_9",
            "content": '{"status": "out for delivery"}',
        }


@pytest.mark.parametrize(
    ("step", "expected", "retryable"),
    [
        (Step(status=429), "rate_limit", True),
        (Step(status=500), "server", True),
        (Step(status=400), "bad_request", False),
        (Step(status=401), "auth", False),
        (Step(delay=1.0), "timeout", True),
        (Step(malformed=True), "malformed", False),
    ],
    ids=["429", "500", "400", "401", "timeout", "malformed-json"],
)
async def test_failures_are_classified(
    models: Models, kind: str, fake: FakeProvider, step: Step, expected: str, retryable: bool
) -> None:
    fake.then(step)
    model = models(kind, timeout_s=0.3)
    with pytest.raises(ProviderError) as caught:
        await model.complete(_request())
    assert caught.value.kind == expected
    assert caught.value.retryable is retryable
    assert fake.count == 1  # the SDK's own retries are off: the router decides


async def test_a_stalled_stream_fails_after_the_idle_timeout(
    models: Models, kind: str, fake: FakeProvider
) -> None:
    fake.then(Step(text="one two three four five", stall_after=2))
    pieces: list[str] = []

    async def consume() -> None:
        async for chunk in models(kind, stream_idle_s=0.2).stream(_request()):
            pieces.append(chunk.text)

    with pytest.raises(ProviderError) as caught:
        await consume()
    assert caught.value.kind == "stalled"
    assert caught.value.retryable
    assert "".join(pieces) == "one two"


async def test_missing_usage_is_estimated_locally(models: Models, fake: FakeProvider) -> None:
    fake.then(Step(text="Refunds take five working days.", usage=False))
    result = await models("openai").complete(_request())
    assert result.usage_estimated
    assert result.usage.completion_tokens >= 5
    assert result.usage.prompt_tokens >= 8


def test_no_key_and_no_server_means_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ProviderError) as caught:
        OpenAIChatModel(model="gpt-4o-mini", settings=ProviderSettings())
    assert caught.value.kind == "unavailable"
    assert "OPENAI_API_KEY" in caught.value.message


async def test_a_malformed_event_mid_stream_is_malformed(
    models: Models, kind: str, fake: FakeProvider
) -> None:
    fake.then(Step(text="one two three", malformed=True))
    pieces: list[str] = []

    async def consume() -> None:
        async for chunk in models(kind).stream(_request()):
            pieces.append(chunk.text)

    with pytest.raises(ProviderError) as caught:
        await consume()
    assert caught.value.kind == "malformed"
    assert not caught.value.retryable  # the router moves on to the next model
    assert pieces == ["one"]
    assert fake.count == 1


@pytest.mark.parametrize(
    ("provider", "streaming"),
    [("openai", False), ("openai", True), ("anthropic", True)],
)
async def test_tool_arguments_that_are_not_json_are_malformed(
    models: Models, fake: FakeProvider, provider: str, streaming: bool
) -> None:
    # Anthropic sends whole tool inputs as JSON objects; only its streamed pieces can break.
    fake.then(Step(tool=("track_parcel", {}), raw_arguments='{"order_id": "KP-1"'))
    model = models(provider)
    call = _stream(model, _request()) if streaming else model.complete(_request())
    with pytest.raises(ProviderError) as caught:
        await call
    assert caught.value.kind == "malformed"
    assert "tool arguments are not JSON" in caught.value.message


async def test_a_stream_cut_short_is_an_error_not_an_answer(
    models: Models, kind: str, fake: FakeProvider
) -> None:
    # The connection closes cleanly after two pieces, with no finish_reason / message_stop:
    # "Refunds are" must not pass for a whole answer.
    fake.then(Step(text="Refunds are never paid back", cut_after=2))
    with pytest.raises(ProviderError) as caught:
        await _stream(models(kind), _request())
    assert caught.value.kind == "connection"
    assert caught.value.retryable
    assert "ended before it finished" in caught.value.message
