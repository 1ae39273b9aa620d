"""Settings for hand-off, outbound events and tools (`handoff:` and `tools:` in frontdesk.yaml)."""

from __future__ import annotations

import os
from string import Formatter
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

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
    """A tool that calls the operator's own backend. Only public addresses are reached unless
    the host or network is listed in `allow` (hosts or CIDR networks). `reply` is what the
    customer reads when a rule calls the tool: a template whose {field} / {field.sub}
    placeholders come from the backend's JSON answer. Without it the customer gets a generic
    sentence, never the JSON."""

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
    reply: str | None = None

    @field_validator("reply")
    @classmethod
    def _reply_fields(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                reply_fields(value)
            except ValueError as exc:
                raise ValueError(f"reply: {exc}") from None
        return value


def reply_fields(template: str) -> list[str]:
    """The `{field}` / `{field.sub}` names in a reply template; ValueError for anything else
    (format specs, conversions, indexing, attribute tricks such as `{x.__class__}`)."""
    try:
        parsed = list(Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"{exc} (write {{{{ and }}}} for a literal brace)") from None
    names = []
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        parts = field.split(".")
        if spec or conversion or not all(p.isidentifier() and not p.startswith("_") for p in parts):
            raise ValueError(
                f"{{{field}}} is not a field name; write {{status}} or {{order.status}}"
            )
        names.append(field)
    return names


class ToolSettings(BaseModel):
    refund_approval_limit: float = Field(default=50.0, ge=0)  # above it, an agent approves
    timeout_s: float = Field(default=5.0, gt=0)
    breaker_failures: int = Field(default=3, ge=1)
    breaker_reset_s: float = Field(default=30.0, gt=0)
    http: list[HttpToolSettings] = Field(default_factory=list)
