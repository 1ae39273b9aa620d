"""From settings to a ready LlmService: each model named in a chain created through the
chat-model registry, the router with its breakers and budgets, the response cache."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from frontdesk.config.settings import LlmSettings
from frontdesk.interfaces import ChatModel, Embedder
from frontdesk.llm.budget import BudgetKeeper, MonthUsage
from frontdesk.llm.cache import ResponseCache
from frontdesk.llm.errors import ProviderError
from frontdesk.llm.router import EXTRACTIVE, ModelRouter
from frontdesk.llm.service import LlmService

log = logging.getLogger(__name__)

PURPOSES = ("answer", "summarise", "classify")


def specs(settings: LlmSettings) -> list[str]:
    found: list[str] = []
    for purpose in PURPOSES:
        for spec in settings.chain(purpose):
            if spec != EXTRACTIVE and spec not in found:
                found.append(spec)
    return found


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
