"""A model provider that goes down and comes back (issue 21, point 6), on a fake
OpenAI-compatible server on loopback: the first failing turn stays within the turn's model
budget (`llm.turn_timeout_s`) however many retries are configured, /readyz and /metrics give
each model's breaker state, and the log says when a model is skipped and when it is back."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest

from frontdesk.api.app import create_app
from frontdesk.orchestration.runtime import Runtime
from tests.llm.conftest import Models
from tests.llm.fakes import FakeProvider, Step
from tests.llm.test_pipeline import ask, use_provider

SPEC = "openai:gpt-test"


def _breaker_metric(metrics: str) -> dict[str, str]:
    """{state: value} of the breaker metric's lines for SPEC."""
    found = {}
    for line in metrics.splitlines():
        if line.startswith("frontdesk_model_breaker{") and f'model="{SPEC}"' in line:
            state = line.split('frontdesk_model_breaker="', 1)[1].split('"', 1)[0]
            found[state] = line.rsplit(" ", 1)[1]
    return found


async def test_a_provider_outage_stays_in_the_turn_budget_and_is_reported(
    sqlite_runtime: Runtime, models: Models, fake: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = sqlite_runtime
    use_provider(
        runtime,
        models,
        retries=5,  # would take 0.3 + 0.6 + 1.2 + ... seconds of backoff alone
        backoff_s=0.3,
        turn_timeout_s=1.0,
        breaker={"failures": 2, "reset_s": 1.0},
    )
    fake.default = Step(status=503, delay=0.2)
    caplog.set_level(logging.INFO, logger="frontdesk")
    app = create_app(runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            ready = (await http.get("/readyz")).json()
            assert ready["llm"] == {SPEC: "closed"}

            began = time.perf_counter()
            reply, row = await ask(runtime)
            took = time.perf_counter() - began
            assert row.model == "extractive"  # answered anyway, from the passages
            assert reply.citations
            assert row.error is not None
            assert "turn_timeout_s" in row.error or "breaker_open" in row.error, row.error
            assert took < 1.0 + 0.8, f"the failing turn took {took:.2f} s"

            ready = (await http.get("/readyz")).json()
            assert ready["status"] == "ready"  # extractive answers: degraded, still ready
            assert ready["llm"] == {SPEC: "open"}
            metrics = (await http.get("/metrics")).text
            assert _breaker_metric(metrics)["open"] == "1.0"
            assert _breaker_metric(metrics)["closed"] == "0.0"

            began = time.perf_counter()
            _, skipped = await ask(runtime)  # the breaker holds: no call made
            assert time.perf_counter() - began < 0.5
            assert skipped.model == "extractive"
            calls = fake.count

            fake.default = Step(echo=True)  # the provider is back
            await asyncio.sleep(1.1)  # the breaker's reset_s
            _, back = await ask(runtime)
            assert back.model == SPEC
            assert fake.count == calls + 1
            assert (await http.get("/readyz")).json()["llm"] == {SPEC: "closed"}
            assert _breaker_metric((await http.get("/metrics")).text)["closed"] == "1.0"

    lines = [r.getMessage() for r in caplog.records if r.name.startswith("frontdesk.llm")]
    skipped_lines = [m for m in lines if "skipped" in m and SPEC in m]
    back_lines = [m for m in lines if "answering again" in m and SPEC in m]
    assert len(skipped_lines) == 1, lines
    assert len(back_lines) == 1, lines
