"""A tool that calls the operator's own backend over HTTP.

Server-side request forgery guard (`frontdesk.outbound`): the connection goes only to public
addresses unless the host or its network is in the tool's `allow`, and to the very address
that was checked (one DNS resolution, so a rebinding name cannot swap in a private address).
Redirects are not followed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from frontdesk.config.handoff_settings import HttpToolSettings
from frontdesk.outbound import AddressPolicy, AddressRefused, Resolver, guarded_client, resolve
from frontdesk.tools.base import ToolContext, ToolError
from frontdesk.tools.function_tool import InvalidArguments
from frontdesk.tools.replies import render_reply

_TYPES = {"string": str, "integer": int, "number": float, "boolean": bool}


class HttpTool:
    def __init__(
        self,
        config: HttpToolSettings,
        *,
        client: httpx.AsyncClient | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        self.config = config
        self.name = config.name
        self.description = config.description or f"{config.method} {config.url}"
        self.idempotent = config.method == "GET"
        self.timeout_s: float | None = config.timeout_s
        self.retries = 2 if self.idempotent else 0
        reply = config.reply
        self.describe: Callable[[Any], str] | None = (
            (lambda result: render_reply(reply, result)) if reply else None
        )
        self.policy = AddressPolicy(config.allow)
        # `client` is a test seam (httpx.MockTransport); it bypasses the address policy.
        self.client = client or guarded_client(
            self.policy, resolver=resolver, timeout=config.timeout_s
        )
        self.parameters: dict[str, Any] = {
            "type": "object",
            "properties": {k: {"type": v} for k, v in config.parameters.items()},
            "required": sorted(config.parameters),
            "additionalProperties": False,
        }

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        problems = [f"{k}: unexpected" for k in arguments if k not in self.config.parameters]
        values: dict[str, Any] = {}
        for name, kind in self.config.parameters.items():
            if name not in arguments:
                problems.append(f"{name}: Field required")
                continue
            value = arguments[name]
            expected = _TYPES[kind]
            if kind == "number" and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, expected) or (kind != "boolean" and isinstance(value, bool)):
                problems.append(f"{name}: expected {kind}")
            values[name] = value
        if problems:
            raise InvalidArguments("; ".join(problems))
        return values

    def needs_approval(self, arguments: dict[str, Any]) -> str | None:
        return None

    async def run(self, arguments: dict[str, Any], context: ToolContext | None) -> Any:
        values = self.validate(arguments)
        template = self.config.url
        used = {k for k in values if "{" + k + "}" in template}
        url = template.format(**{k: quote(str(v), safe="") for k, v in values.items()})
        rest = {k: v for k, v in values.items() if k not in used}
        try:
            if self.config.method == "GET":
                response = await self.client.get(url, params=rest, headers=self.config.headers)
            else:
                response = await self.client.post(url, json=rest, headers=self.config.headers)
        except AddressRefused as exc:  # the operator's configuration, not an outage
            raise ToolError(f"{self.name}: {exc}") from None
        if response.is_redirect:
            raise ToolError(f"{self.name}: the backend redirected; redirects are not followed")
        if response.status_code >= 500:
            response.raise_for_status()  # a server fault: counts against the breaker
        if response.status_code >= 400:
            raise ToolError(f"{self.name}: HTTP {response.status_code}: {response.text[:200]}")
        try:
            return response.json()
        except ValueError:
            return {"text": response.text[:2000]}
