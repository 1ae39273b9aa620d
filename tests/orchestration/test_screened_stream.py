"""The client sees a streamed answer only as far as the output screen has passed it."""

from __future__ import annotations

from frontdesk.llm.router import StreamEvent
from frontdesk.orchestration.screened_stream import ScreenedStream


def _screen(text: str) -> str:
    return text.replace("SECRET", "[REDACTED]")


async def _stream(
    chunks: list[str], screen=_screen
) -> tuple[ScreenedStream, list[tuple[str, str]]]:  # type: ignore[no-untyped-def]
    events: list[tuple[str, str]] = []

    async def sink(event: StreamEvent) -> None:
        events.append((event.kind, event.text))

    stream = ScreenedStream(sink, screen)
    for chunk in chunks:
        await stream(StreamEvent("delta", chunk))
    return stream, events


async def test_sentences_go_out_when_they_end_and_pass_the_screen() -> None:
    stream, events = await _stream(["Hello th", "ere. How ", "can I help?", " Bye"])
    assert events == [("delta", "Hello there."), ("delta", " How can I help?")]
    await stream.finish("Hello there. How can I help? Bye")
    assert events[-1] == ("delta", " Bye")


async def test_nothing_after_a_screened_sentence_is_streamed() -> None:
    stream, events = await _stream(["Fine. Your code is SECRET", ". More text. And more.\n"])
    assert events == [("delta", "Fine.")]
    assert stream.held
    await stream.finish("Fine. Your code is [REDACTED]. More text. And more.\n")
    assert "".join(t for _, t in events) == "Fine. Your code is [REDACTED]. More text. And more.\n"
    assert "SECRET" not in str(events)


async def test_a_final_reply_that_does_not_continue_what_was_shown_resets() -> None:
    stream, events = await _stream(["First part. Then the rest."])
    await stream.finish("I cannot share that.")
    assert events == [
        ("delta", "First part."),
        ("reset", "the reply was screened"),
    ]
    assert stream.sent == "I cannot share that."


async def test_a_model_reset_starts_the_stream_again() -> None:
    stream, events = await _stream(["Draft one. SECRET."])
    await stream(StreamEvent("reset", "model failed"))
    await stream(StreamEvent("delta", "Second try. Fine."))
    assert events == [
        ("delta", "Draft one."),
        ("reset", "model failed"),
        ("delta", "Second try."),
    ]
    await stream.finish("Second try. Fine.")
    assert events[-1] == ("delta", " Fine.")


async def test_the_screen_sees_the_whole_text_so_far() -> None:
    """Echo checks span sentences: the screen is given everything written, not one sentence."""
    seen: list[str] = []

    def screen(text: str) -> str:
        seen.append(text)
        return text

    await _stream(["One. Two. ", "Three.\n"], screen=screen)
    assert seen == ["One. Two.", "One. Two. Three.\n"]
