"""Prometheus metrics, in a registry per process built by a factory (not at import)."""

from __future__ import annotations

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
