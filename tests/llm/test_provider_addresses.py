"""LLM provider URLs are checked at start-up (issue 17): a `base_url` on a link-local address or
a cloud metadata service (169.254.169.254, fe80::/10, 100.100.100.200, fd00:ec2::254,
metadata.google.internal), written or reached through a name, stops the start with a clear
error, unless the provider says `allow_link_local: true`. Loopback and private networks stay
allowed: a local vLLM or Ollama (127.0.0.1:11434), a GPU box on the LAN, a Tailscale address
(100.64.0.0/10) are ordinary setups."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from frontdesk.config.settings import LlmSettings, ProviderSettings
from frontdesk.errors import ConfigError

ADDRESSES = {
    "api.example.com": ["93.184.215.14"],
    "vllm.lan": ["10.0.0.5"],
    "sneaky.example.com": ["93.184.215.14", "169.254.169.254"],  # one of them is enough
    "rebind.example.com": ["::ffff:169.254.169.254"],
}


async def fake_resolve(host: str) -> list[str]:
    if host not in ADDRESSES:
        raise OSError(f"{host}: name or service not known")
    return ADDRESSES[host]


def _settings(url: str, **extra: object) -> LlmSettings:
    provider = ProviderSettings.model_validate({"kind": "openai", "base_url": url, **extra})
    return LlmSettings(answer_model="box:some-model", providers={"box": provider})


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/v1",
        "http://169.254.170.2/v1",  # ECS task metadata
        "http://[fe80::1]:8000/v1",
        "http://100.100.100.200/v1",  # Alibaba Cloud metadata, inside 100.64.0.0/10
        "http://[fd00:ec2::254]/v1",  # AWS metadata over IPv6
        "http://[::ffff:169.254.169.254]/v1",
        "http://metadata.google.internal/computeMetadata/v1",
        "http://sneaky.example.com/v1",
        "http://rebind.example.com/v1",
        "file:///etc/passwd",
        "http:///v1",
    ],
)
async def test_metadata_and_link_local_provider_urls_stop_the_start(url: str) -> None:
    from frontdesk.llm.assembly import check_provider_urls

    with pytest.raises(ConfigError) as caught:
        await check_provider_urls(_settings(url), resolver=fake_resolve)
    assert "llm.providers.box.base_url" in caught.value.message
    if url.startswith("http://") and "///" not in url:
        assert "allow_link_local" in caught.value.message


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:11434/v1",  # Ollama
        "http://localhost:8000/v1",  # vLLM on the same machine (never resolved: loopback)
        "http://10.0.0.5:8000/v1",
        "http://vllm.lan:8000/v1",
        "http://100.101.102.103:11434/v1",  # a Tailscale address
        "https://api.example.com/v1",
        None,
    ],
)
async def test_local_private_and_public_provider_urls_are_fine(url: str | None) -> None:
    from frontdesk.llm.assembly import check_provider_urls

    await check_provider_urls(_settings(url) if url else LlmSettings(), resolver=fake_resolve)


async def test_the_operator_can_allow_a_link_local_provider(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from frontdesk.llm.assembly import check_provider_urls

    allowed = _settings("http://169.254.10.20:8000/v1", allow_link_local=True)
    await check_provider_urls(allowed, resolver=fake_resolve)
    # A name that does not resolve now is no reason to refuse the start (DNS may be late).
    with caplog.at_level(logging.WARNING):
        await check_provider_urls(_settings("http://gpu.nowhere/v1"), resolver=fake_resolve)
    assert "gpu.nowhere" in caplog.text


async def test_open_runtime_refuses_a_metadata_provider(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from frontdesk.orchestration.runtime import open_runtime

    monkeypatch.setenv("FRONTDESK_LLM__PROVIDERS__BOX__KIND", "openai")
    monkeypatch.setenv("FRONTDESK_LLM__PROVIDERS__BOX__BASE_URL", "http://169.254.169.254/v1")
    with pytest.raises(ConfigError) as caught:
        await open_runtime(workspace)
    assert "llm.providers.box.base_url" in caught.value.message
    assert "169.254.169.254" in caught.value.message
