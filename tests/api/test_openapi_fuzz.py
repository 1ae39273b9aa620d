"""Requests generated from the API's own OpenAPI document (schemathesis: valid and malformed
bodies, paths, query strings and headers) against the real server on loopback, with an admin
key so they get past authentication: none may get a 5xx. Bad input is a 4xx with a code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case

from tests.conftest import demo_copy, serving, workspace_key

# High enough that generated requests reach the handlers instead of the rate limiter.
GENEROUS_LIMITS = """
limits:
  per_key: 100000/minute
  reads_per_key: 100000/minute
  conversations_per_key: 100000/minute
  per_conversation: 100000/minute
  per_visitor: 100000/minute
"""
# Audio bodies: schemathesis has no generator for them; tests/api/test_voice_channel.py
# sends real recordings and malformed audio.
NOT_GENERATED = "/v1/channels/voice"
EXAMPLES_PER_OPERATION = 20


@pytest.fixture(scope="module")
def fuzzed_server(
    tmp_path_factory: pytest.TempPathFactory, prepared_state: Path
) -> Iterator[tuple[str, str]]:
    root = demo_copy(tmp_path_factory.mktemp("fuzz") / "ws", prepared_state)
    with (root / "frontdesk.yaml").open("a", encoding="utf-8") as config:
        config.write(GENEROUS_LIMITS)
    token = workspace_key(root)
    with serving(root) as url:
        yield url, token


def test_no_generated_request_gets_a_server_error(fuzzed_server: tuple[str, str]) -> None:
    url, token = fuzzed_server
    api = schemathesis.openapi.from_url(f"{url}/openapi.json").exclude(path=NOT_GENERATED)
    seen: dict[str, int] = {}
    for found in api.get_all_operations():
        operation = found.ok()

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,  # the same requests every run: a failure is reproducible
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=operation.as_strategy())
        def request(case: Case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=60)
            label = f"{case.method} {case.formatted_path} -> {response.status_code}"
            assert response.status_code < 500, f"{label}: {response.text[:500]}"
            if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
                body = response.json()
                assert "code" in body.get("error", body), f"{label}: {response.text[:500]}"
            seen[case.operation.label] = seen.get(case.operation.label, 0) + 1

        request()
    # Every operation of the API but the audio one was exercised.
    assert len(seen) >= 25, sorted(seen)
