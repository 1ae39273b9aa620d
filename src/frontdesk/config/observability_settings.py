"""Settings for what frontdesk exposes about itself: who may scrape `/metrics`."""

from __future__ import annotations

import ipaddress
import os

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

LOOPBACK = ["127.0.0.0/8", "::1/128"]


class ObservabilitySettings(BaseModel):
    """`/metrics` shows counts and timings, not text, but still tells an outsider how busy
    the service is and which routes and models it uses.

    With a token (`metrics_token`, or the environment variable named by `metrics_token_env`)
    every scrape must send `Authorization: Bearer <token>`, from anywhere. Without one, only
    clients in `metrics_networks` that reach the server directly (no proxy's forwarding
    headers) may scrape: by default that is this machine only.
    """

    metrics_token: SecretStr | None = None
    metrics_token_env: str | None = None  # e.g. FRONTDESK_METRICS_TOKEN
    metrics_networks: list[str] = Field(default_factory=lambda: list(LOOPBACK))

    @field_validator("metrics_networks")
    @classmethod
    def _networks_parse(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"{network!r} is not a network like '10.0.0.0/8'") from exc
        return value

    @model_validator(mode="after")
    def _token_env_is_set(self) -> ObservabilitySettings:
        # Checked when the settings load (start-up), so a missing secret stops the server
        # with this message instead of leaving /metrics open or refusing every scrape.
        env = self.metrics_token_env
        if self.metrics_token is None and env and not os.environ.get(env):
            raise ValueError(
                f"metrics_token_env names {env}, which is not set: set it, or remove the setting"
            )
        return self

    def token(self) -> str | None:
        """The token scrapers must send, or None when none is configured."""
        if self.metrics_token is not None:
            return self.metrics_token.get_secret_value() or None
        if self.metrics_token_env:
            return os.environ.get(self.metrics_token_env) or None
        return None
