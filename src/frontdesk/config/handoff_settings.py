"""Settings for hand-off, outbound events and tools (`handoff:` and `tools:` in frontdesk.yaml)."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

TicketEventName = Literal["ticket.created", "ticket.updated", "ticket.closed"]
ALL_TICKET_EVENTS: list[TicketEventName] = ["ticket.created", "ticket.updated", "ticket.closed"]


def _secret(value: SecretStr | None, env: str | None) -> str | None:
    if value is not None:
        return value.get_secret_value()
    return os.environ.get(env) if env else None


class WebhookEndpoint(BaseModel):
    url: str = Field(pattern=r"^https?://")
    secret: SecretStr | None = None  # or secret_env: the variable that holds it
    secret_env: str | None = None
    events: list[TicketEventName] = Field(default_factory=lambda: list(ALL_TICKET_EVENTS))

    def secret_value(self) -> str | None:
        return _secret(self.secret, self.secret_env)


class ZendeskSettings(BaseModel):
    """Mirror tickets into a Zendesk-style tickets API (`/api/v2/tickets.json`)."""

    base_url: str = Field(pattern=r"^https?://")  # https://yourcompany.zendesk.com
    email: str
    api_token: SecretStr | None = None
    api_token_env: str | None = "ZENDESK_API_TOKEN"

    def token(self) -> str | None:
        return _secret(self.api_token, self.api_token_env)


class HandoffSettings(BaseModel):
    webhooks: list[WebhookEndpoint] = Field(default_factory=list)
    zendesk: ZendeskSettings | None = None
    delivery_attempts: int = Field(default=6, ge=1)  # then the delivery is dead-lettered
    backoff_s: float = Field(default=2.0, ge=0.0)  # doubles each retry
    backoff_max_s: float = Field(default=600.0, ge=0.0)
    timeout_s: float = Field(default=10.0, gt=0)


class HttpToolSettings(BaseModel):
    """A tool that calls the operator's own backend. Private, loopback and link-local
    addresses are refused unless listed in `allow` (hosts or CIDR networks)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    description: str = ""
    url: str = Field(pattern=r"^https?://")  # may contain {placeholders} for parameters
    method: Literal["GET", "POST"] = "GET"
    parameters: dict[str, Literal["string", "integer", "number", "boolean"]] = Field(
        default_factory=dict
    )
    allow: list[str] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(default=5.0, gt=0)


class ToolSettings(BaseModel):
    refund_approval_limit: float = Field(default=50.0, ge=0)  # above it, an agent approves
    timeout_s: float = Field(default=5.0, gt=0)
    breaker_failures: int = Field(default=3, ge=1)
    breaker_reset_s: float = Field(default=30.0, gt=0)
    http: list[HttpToolSettings] = Field(default_factory=list)
