"""Who may scrape /metrics: with a token, whoever sends it; without one, clients in
`observability.metrics_networks` (loopback by default) that come in directly."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from frontdesk.api.metrics_access import _in_networks
from frontdesk.config.observability_settings import ObservabilitySettings
from frontdesk.orchestration.runtime import Runtime
from tests.api.conftest import Client


def _error(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


async def test_without_a_token_only_this_machine_scrapes(
    clients: Client, sqlite_runtime: Runtime
) -> None:
    async with clients("127.0.0.1") as local, clients("10.1.2.3") as remote:
        response = await local.get("/metrics")
        assert response.status_code == 200
        assert "frontdesk_turns_total" in response.text
        refused = await remote.get("/metrics")
        assert refused.status_code == 403
        assert _error(refused) == "metrics_forbidden"
        assert "observability.metrics_token" in refused.json()["error"]["message"]
        # A proxy on this machine passing an outside request along is not this machine.
        proxied = await local.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert proxied.status_code == 403
        assert (await local.get("/metrics", headers={"Forwarded": "for=1.2.3.4"})).status_code == (
            403
        )
        sqlite_runtime.settings.observability = ObservabilitySettings(
            metrics_networks=["10.0.0.0/8"]
        )
        assert (await remote.get("/metrics")).status_code == 200
        assert (await local.get("/metrics")).status_code == 403  # the list replaces loopback


async def test_a_token_is_required_from_everyone_once_set(
    clients: Client, sqlite_runtime: Runtime
) -> None:
    sqlite_runtime.settings.observability = ObservabilitySettings(
        metrics_token=SecretStr("s3cret-scrape")
    )
    async with clients("127.0.0.1") as local, clients("10.1.2.3") as remote:
        for client in (local, remote):
            missing = await client.get("/metrics")
            assert missing.status_code == 401
            assert _error(missing) == "metrics_unauthorized"
            assert missing.headers["WWW-Authenticate"] == "Bearer"
            wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            assert _error(wrong) == "metrics_unauthorized"
            assert "s3cret" not in wrong.text
            basic = await client.get("/metrics", headers={"Authorization": "Basic s3cret-scrape"})
            assert basic.status_code == 401
            good = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
            assert good.status_code == 200
            assert "frontdesk_turns_total" in good.text


async def test_the_token_can_come_from_the_environment(
    clients: Client, sqlite_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FD_TEST_METRICS_TOKEN", "from-env")
    sqlite_runtime.settings.observability = ObservabilitySettings(
        metrics_token_env="FD_TEST_METRICS_TOKEN"
    )
    async with clients("10.1.2.3") as remote:
        assert (await remote.get("/metrics")).status_code == 401
        headers = {"Authorization": "Bearer from-env"}
        assert (await remote.get("/metrics", headers=headers)).status_code == 200


def test_a_token_variable_that_is_not_set_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FD_TEST_METRICS_TOKEN", raising=False)
    with pytest.raises(ValidationError, match="FD_TEST_METRICS_TOKEN, which is not set"):
        ObservabilitySettings(metrics_token_env="FD_TEST_METRICS_TOKEN")
    with pytest.raises(ValidationError, match="is not a network"):
        ObservabilitySettings(metrics_networks=["localhost"])


def test_addresses() -> None:
    loopback = ObservabilitySettings().metrics_networks
    assert _in_networks("127.0.0.1", loopback)
    assert _in_networks("::1", loopback)
    assert _in_networks("::ffff:127.0.0.1", loopback)  # IPv4 on a dual-stack socket
    assert not _in_networks("10.0.0.1", loopback)
    assert not _in_networks("testclient", loopback)
    assert not _in_networks(None, loopback)
