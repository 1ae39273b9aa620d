"""The HTTP tool: its backend reached only where the address policy allows (frontdesk.outbound,
tested in tests/outbound), arguments validated, redirects not followed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Literal

import httpx

from frontdesk.config.handoff_settings import HttpToolSettings
from frontdesk.storage.db import Database
from frontdesk.tools import ToolContext, ToolRegistry
from frontdesk.tools.http_tool import HttpTool, Resolver
from tests.outbound.loopback import loopback

TABLE = {
    "api.example.com": ["93.184.216.34"],
    "internal.example.com": ["10.0.0.7"],
    "orders.internal": ["127.0.0.1"],
}


def _resolver(table: dict[str, list[str]]) -> Resolver:
    async def resolve(host: str) -> list[str]:
        if host not in table:
            raise OSError("Name or service not known")
        return table[host]

    return resolve


RESOLVE = _resolver(TABLE)


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
    with loopback(lambda path: (200, {}, b"{}")) as server:
        config = HttpToolSettings(name="internal", parameters={},
                                  url=f"http://orders.internal:{server.port}/x")  # fmt: skip
        registry = ToolRegistry(db)
        registry.register(HttpTool(config, resolver=RESOLVE))
        outcome = await registry.call("internal", {}, ToolContext(tenant_id=tenant_id))
    assert outcome.status == "error"
    assert "127.0.0.1" in (outcome.error or "")
    assert "allow" in (outcome.error or "")
    assert server.hosts == []
    assert registry.breaker("internal").state == "closed"  # a refusal is not an outage


async def test_an_allow_listed_backend_on_loopback_answers(db: Database, tenant_id: str) -> None:
    def answer(path: str) -> tuple[int, dict[str, str], bytes]:
        return 200, {}, json.dumps({"order": {"status": "packed"}, "path": path}).encode()

    with loopback(answer) as server:
        config = HttpToolSettings(
            name="order_lookup", url=f"http://orders.internal:{server.port}/orders/{{order_id}}",
            parameters={"order_id": "string"}, allow=["orders.internal"],
            reply="Your order is {order.status}.",
        )  # fmt: skip
        tool = HttpTool(config, resolver=RESOLVE)
        registry = ToolRegistry(db)
        registry.register(tool)
        outcome = await registry.call("order_lookup", {"order_id": "KP-1"},
                                      ToolContext(tenant_id=tenant_id))  # fmt: skip
    assert outcome.status == "ok", outcome.error
    assert outcome.result == {"order": {"status": "packed"}, "path": "/orders/KP-1"}
    assert server.hosts == [f"orders.internal:{server.port}"]
    assert tool.describe is not None
    assert tool.describe(outcome.result) == "Your order is packed."


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
