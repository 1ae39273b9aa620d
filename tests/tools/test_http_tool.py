"""The HTTP tool refuses private, loopback and link-local addresses unless allow-listed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Literal

import httpx
import pytest

from frontdesk.config.handoff_settings import HttpToolSettings
from frontdesk.storage.db import Database
from frontdesk.tools import ToolContext, ToolRegistry
from frontdesk.tools.http_tool import AddressPolicy, AddressRefused, HttpTool, Resolver

TABLE = {
    "api.example.com": ["93.184.216.34"],
    "internal.example.com": ["10.0.0.7"],
    "sneaky.example.com": ["93.184.216.34", "127.0.0.1"],  # one bad address is enough
    "metadata.example.com": ["169.254.169.254"],
    "v6.example.com": ["::ffff:192.168.1.1"],
    "localhost.example": ["127.0.0.1"],
}


def _resolver(table: dict[str, list[str]]) -> Resolver:
    async def resolve(host: str) -> list[str]:
        if host not in table:
            raise OSError("Name or service not known")
        return table[host]

    return resolve


RESOLVE = _resolver(TABLE)


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost.example", "10.1.2.3", "192.168.0.1", "172.16.5.5", "169.254.169.254",
     "[::1]", "[fe80::1]", "0.0.0.0", "internal.example.com", "sneaky.example.com",
     "metadata.example.com", "v6.example.com", "224.0.0.1"],
)  # fmt: skip
async def test_private_loopback_and_link_local_are_refused(host: str) -> None:
    with pytest.raises(AddressRefused, match="refusing"):
        await AddressPolicy([]).check(host, RESOLVE)


async def test_public_and_allow_listed_addresses_pass() -> None:
    await AddressPolicy([]).check("api.example.com", RESOLVE)
    await AddressPolicy(["internal.example.com"]).check("internal.example.com", RESOLVE)
    await AddressPolicy(["10.0.0.0/8"]).check("internal.example.com", RESOLVE)
    await AddressPolicy(["127.0.0.1/32"]).check("127.0.0.1", RESOLVE)
    with pytest.raises(AddressRefused):  # allowing one network does not allow another
        await AddressPolicy(["10.0.0.0/8"]).check("192.168.0.1", RESOLVE)


def _tool(handler: Callable[[httpx.Request], httpx.Response], allow: list[str] | None = None,
          method: Literal["GET", "POST"] = "GET") -> HttpTool:  # fmt: skip
    config = HttpToolSettings(
        name="order_lookup", url="http://api.example.com/orders/{order_id}", method=method,
        parameters={"order_id": "string", "verbose": "boolean"}, allow=allow or [],
    )  # fmt: skip
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return HttpTool(config, client=client, resolver=RESOLVE)


async def test_calls_the_backend_with_path_and_query(db: Database, tenant_id: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "packed"})

    registry = ToolRegistry(db)
    registry.register(_tool(handler))
    outcome = await registry.call("order_lookup", {"order_id": "KP-1/../x", "verbose": True},
                                  ToolContext(tenant_id=tenant_id))  # fmt: skip
    assert outcome.status == "ok", outcome.error
    assert outcome.result == {"status": "packed"}
    # A parameter stays one path segment: it cannot walk the path.
    assert seen[0].url.raw_path.startswith(b"/orders/KP-1%2F..%2Fx?")
    assert seen[0].url.params["verbose"] == "true"
    [spec] = registry.specs()
    assert spec.parameters["required"] == ["order_id", "verbose"]


async def test_refused_address_is_a_tool_error_without_a_request(
    db: Database, tenant_id: str
) -> None:
    config = HttpToolSettings(name="internal", url="http://internal.example.com/x",
                              parameters={})  # fmt: skip
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    registry = ToolRegistry(db)
    registry.register(HttpTool(config, client=client, resolver=RESOLVE))
    outcome = await registry.call("internal", {}, ToolContext(tenant_id=tenant_id))
    assert outcome.status == "error"
    assert "10.0.0.7" in (outcome.error or "")
    assert "allow" in (outcome.error or "")
    assert sent == []
    assert registry.breaker("internal").state == "closed"  # a refusal is not an outage


async def test_bad_arguments_redirects_and_client_errors(db: Database, tenant_id: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("gone"):
            return httpx.Response(302, headers={"Location": "http://169.254.169.254/"})
        return httpx.Response(404, text="no such order")

    registry = ToolRegistry(db)
    registry.register(_tool(handler))
    ctx = ToolContext(tenant_id=tenant_id)
    bad = await registry.call("order_lookup", {"order_id": 5, "verbose": "yes"}, ctx)
    assert bad.status == "invalid_arguments"
    assert "order_id: expected string" in (bad.error or "")
    moved = await registry.call("order_lookup", {"order_id": "gone", "verbose": False}, ctx)
    assert "redirects are not followed" in (moved.error or "")
    missing = await registry.call("order_lookup", {"order_id": "x", "verbose": False}, ctx)
    assert "HTTP 404: no such order" in (missing.error or "")


async def test_post_sends_json_and_is_not_retried(db: Database, tenant_id: str) -> None:
    bodies: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(503)

    tool = _tool(handler, method="POST")
    assert not tool.idempotent
    registry = ToolRegistry(db, backoff_s=0)
    registry.register(tool)
    outcome = await registry.call("order_lookup", {"order_id": "A", "verbose": False},
                                  ToolContext(tenant_id=tenant_id))  # fmt: skip
    assert outcome.status == "error"
    assert bodies == [{"verbose": False}]
