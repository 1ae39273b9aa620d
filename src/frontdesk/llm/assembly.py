"""From settings to a ready LlmService: each model named in a chain created through the
chat-model registry, the router with its breakers and budgets, the response cache."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from frontdesk.config.settings import LlmSettings
from frontdesk.errors import ConfigError
from frontdesk.interfaces import ChatModel, Embedder
from frontdesk.llm.budget import BudgetKeeper, MonthUsage
from frontdesk.llm.cache import ResponseCache
from frontdesk.llm.errors import ProviderError
from frontdesk.llm.router import EXTRACTIVE, ModelRouter
from frontdesk.llm.service import LlmService
from frontdesk.outbound import (
    METADATA_HOSTS,
    Resolver,
    is_link_local_or_metadata,
    parse_address,
    resolve,
)

log = logging.getLogger(__name__)

PURPOSES = ("answer", "summarise", "classify", "ops")


def specs(settings: LlmSettings) -> list[str]:
    found: list[str] = []
    for purpose in PURPOSES:
        for spec in settings.chain(purpose):
            if spec != EXTRACTIVE and spec not in found:
                found.append(spec)
    return found


async def check_provider_urls(settings: LlmSettings, resolver: Resolver = resolve) -> None:
    """Refuse, at start-up, a provider `base_url` on a link-local address or a cloud metadata
    service (written as an address, as a metadata name, or reached through a name that
    resolves there), unless the provider says `allow_link_local: true`: requests carrying the
    provider key and customers' messages must not go where a cloud machine's credentials are
    served. Loopback and private networks are fine (a local vLLM or Ollama). Here, to fail
    the start with a readable line; each connection the SDKs open is checked again
    (llm/connections.py), so a name whose DNS answer changes later is refused too. A name
    that does not resolve now only warns (DNS may come up after frontdesk)."""
    for name, provider in settings.providers.items():
        url = provider.base_url
        if url is None:
            continue
        where = f"llm.providers.{name}.base_url"
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        if parts.scheme not in ("http", "https") or not host:
            raise ConfigError(f"{where}: {url!r} is not an http:// or https:// URL with a host")
        if provider.allow_link_local or host == "localhost" or host.endswith(".localhost"):
            continue
        allow = (
            f"set llm.providers.{name}.allow_link_local: true if this really is your model server"
        )
        if host in METADATA_HOSTS:
            raise ConfigError(f"{where}: {host} is a cloud metadata service, not a model "
                              f"server; {allow}")  # fmt: skip
        try:
            found = [host] if parse_address(host) is not None else await resolver(host)
        except OSError as exc:
            log.warning("%s: %s does not resolve now (%s); not checked", where, host, exc)
            continue
        for written in found:
            address = parse_address(written)
            if address is not None and is_link_local_or_metadata(address):
                raise ConfigError(
                    f"{where}: {url} reaches {address}, a link-local or cloud metadata address "
                    f"(where a cloud machine's credentials are served); {allow}"
                )


def build_models(
    settings: LlmSettings, create: Callable[..., Any], **extra: Any
) -> tuple[dict[str, ChatModel], dict[str, str]]:
    """Models by spec, and the specs that could not be made (no key, not installed) with why.
    A spec naming no known kind of model is a configuration error, raised at start-up."""
    models: dict[str, ChatModel] = {}
    unavailable: dict[str, str] = {}
    for spec in specs(settings):
        provider, _, model = spec.partition(":")
        configured = settings.providers.get(provider)
        kind = configured.kind if configured and configured.kind else provider
        try:
            models[spec] = create(
                f"{kind}:{model}" if model else kind,
                provider=provider,
                provider_settings=configured,
                llm=settings,
                **extra,
            )
        except ProviderError as exc:
            log.warning("model %s unavailable, skipped in its chains: %s", spec, exc.detail)
            unavailable[spec] = exc.detail
    return models, unavailable


def build_llm(
    settings: LlmSettings,
    create: Callable[..., Any],
    *,
    month_usage: MonthUsage | None = None,
    embedder: Embedder | None = None,
    company: str = "our company",
    fallback: ChatModel | None = None,
    **extra: Any,
) -> LlmService:
    models, unavailable = build_models(settings, create, **extra)
    router = ModelRouter(
        settings,
        models,
        unavailable=unavailable,
        fallback=fallback,
        budgets=BudgetKeeper(settings.budgets, month_usage),
    )
    cache = ResponseCache(settings.cache, embedder) if settings.cache.enabled else None
    return LlmService(settings, router, cache=cache, company=company)
