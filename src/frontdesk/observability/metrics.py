"""Prometheus metrics, in a registry per process built by a factory (not at import)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


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

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
