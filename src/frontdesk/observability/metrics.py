"""Prometheus metrics, in a registry per process built by a factory (not at import)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Enum, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.turns = Counter(
            "frontdesk_turns_total",
            "Turns handled, by route action and outcome.",
            ["action", "outcome"],
            registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "frontdesk_stage_seconds",
            "Time spent in each pipeline stage.",
            ["stage"],
            registry=self.registry,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.tokens = Counter(
            "frontdesk_tokens_total", "Model tokens used.", ["kind"], registry=self.registry
        )
        self.channel_events = Counter(
            "frontdesk_channel_events_total",
            "Push-channel webhook events (Slack, WhatsApp), by what became of them.",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.channel_posts = Counter(
            "frontdesk_channel_posts_total",
            "Answers posted back to a push channel: sent, retried (one per failed attempt "
            "that was tried again) or failed (every attempt failed; the answer is stored).",
            ["channel", "outcome"],
            registry=self.registry,
        )

        self.model_breaker = Enum(
            "frontdesk_model_breaker",
            "Each model's circuit breaker (its provider's): closed answers, open is skipped, "
            "half_open lets one probe through; unavailable could not be built.",
            ["model"],
            states=["closed", "half_open", "open", "unavailable"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))


class _Families:
    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> list[Any]:
        return self.families


def merge_by_worker(expositions: Mapping[str, bytes]) -> bytes:
    """Several processes' metrics (`serve --workers N`) as one exposition: every sample
    labelled `worker` with the process it came from, each family written once."""
    from prometheus_client.metrics_core import Metric
    from prometheus_client.parser import text_string_to_metric_families
    from prometheus_client.samples import Sample

    families: dict[str, Metric] = {}
    for worker, text in sorted(expositions.items()):
        for family in text_string_to_metric_families(text.decode()):
            merged = families.get(family.name)
            if merged is None:
                merged = Metric(family.name, family.documentation, family.type, family.unit)
                families[family.name] = merged
            merged.samples += [
                Sample(s.name, {**s.labels, "worker": worker}, s.value, s.timestamp, s.exemplar)
                for s in family.samples
            ]
    return bytes(generate_latest(_Families(list(families.values()))))
