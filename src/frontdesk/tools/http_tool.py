"""A tool that calls the operator's own backend over HTTP.

Server-side request forgery guard: the host is resolved and every address must be public
unless the host or its network is in `allow`. Private, loopback, link-local (cloud
metadata at 169.254.169.254), multicast, reserved and unspecified addresses are refused,
including IPv4 addresses mapped into IPv6. Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from frontdesk.config.handoff_settings import HttpToolSettings
from frontdesk.tools.base import ToolContext, ToolError
from frontdesk.tools.function_tool import InvalidArguments

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], Awaitable[list[str]]]

_TYPES = {"string": str, "integer": int, "number": float, "boolean": bool}


class AddressRefused(ToolError):
    pass


async def resolve(host: str) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


class AddressPolicy:
    def __init__(self, allow: list[str]) -> None:
        self.hosts: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allow:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(entry.lower())

    def allowed(self, host: str, address: IPAddress) -> bool:
        if host.lower() in self.hosts or any(address in n for n in self.networks):
            return True
        return is_public(address)

    async def check(self, host: str, resolver: Resolver = resolve) -> None:
        try:
            addresses = [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            try:
                addresses = [ipaddress.ip_address(a) for a in await resolver(host)]
            except OSError as exc:
                raise ToolError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise ToolError(f"{host} has no address")
        for address in addresses:
            if not self.allowed(host, address):
                raise AddressRefused(
                    f"refusing {host} ({address}): a private, loopback or link-local address; "
                    "add it to the tool's `allow` list if it is your own backend"
                )


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
        self.describe: Callable[[Any], str] | None = None
        self.policy = AddressPolicy(config.allow)
        self.client = client or httpx.AsyncClient(follow_redirects=False)
        self.resolver = resolver
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
        host = urlsplit(url).hostname or ""
        await self.policy.check(host, self.resolver)
        rest = {k: v for k, v in values.items() if k not in used}
        if self.config.method == "GET":
            response = await self.client.get(url, params=rest, headers=self.config.headers)
        else:
            response = await self.client.post(url, json=rest, headers=self.config.headers)
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
