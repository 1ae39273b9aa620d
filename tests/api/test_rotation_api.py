"""Rotating secrets (issue 17): a visitor's conversation token and an API key can be replaced
by new ones. A rotated conversation token is refused from the next request on (no grace: a
request already under way was checked when it began); a rotated API key keeps working for
the grace the caller asks for (`revoked_at` in the future), then is refused. Both audited.
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key, verify_key
from frontdesk.storage.conversations import create_conversation


async def _bearer(runtime: Runtime, scope: Scope, name: str = "t") -> dict[str, str]:
    issued = await create_key(runtime.db, runtime.tenant.id, name=name, scope=scope)
    return {"Authorization": f"Bearer {issued.token}"}


def _code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


async def _audit(client: httpx.AsyncClient, admin: dict[str, str]) -> list[dict[str, Any]]:
    return list((await client.get("/v1/admin/audit", headers=admin)).json())


async def test_a_visitor_rotates_its_conversation_token(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    widget = await _bearer(runtime, Scope.WIDGET)
    service = await _bearer(runtime, Scope.SERVICE)
    admin = await _bearer(runtime, Scope.ADMIN)
    started = await client.post("/v1/conversations", json={"channel": "web"}, headers=widget)
    conversation, first = started.json()["id"], started.json()["conversation_token"]
    other = (await client.post("/v1/conversations", json={"channel": "web"}, headers=widget)).json()
    url = f"/v1/conversations/{conversation}/token"

    rotated = await client.post(url, headers={**widget, "X-Conversation-Token": first})
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["conversation_token"]
    assert rotated.json()["conversation_id"] == conversation
    assert second.startswith("fdc_")
    assert second != first

    def as_visitor(token: str) -> dict[str, str]:
        return {**widget, "X-Conversation-Token": token}

    message = {"text": "where is my parcel"}
    old = await client.post(f"/v1/conversations/{conversation}/messages", json=message,
                            headers=as_visitor(first))  # fmt: skip
    assert _code(old) == (403, "conversation_token_invalid")
    new = await client.post(f"/v1/conversations/{conversation}/messages", json=message,
                            headers=as_visitor(second))  # fmt: skip
    assert new.status_code == 200, new.text
    updates = f"/v1/conversations/{conversation}/updates"
    assert (await client.get(updates, headers=as_visitor(second))).status_code == 200
    assert _code(await client.get(updates, headers=as_visitor(first))) == (
        403,
        "conversation_token_invalid",
    )

    # The old token, none, or another conversation's cannot rotate it.
    assert _code(await client.post(url, headers=as_visitor(first))) == (
        403,
        "conversation_token_invalid",
    )
    assert _code(await client.post(url, headers=widget)) == (403, "conversation_token_required")
    assert _code(await client.post(url, headers=as_visitor(other["conversation_token"]))) == (
        403,
        "conversation_token_invalid",
    )

    # Two rotations with one token at once: one wins, the other is refused (its token would
    # be dead on arrival).
    both = await asyncio.gather(
        client.post(url, headers=as_visitor(second)), client.post(url, headers=as_visitor(second))
    )
    assert sorted(r.status_code for r in both) == [200, 403]
    [winner] = [r.json()["conversation_token"] for r in both if r.status_code == 200]
    assert (await client.get(updates, headers=as_visitor(winner))).status_code == 200

    # A service key rotates any conversation of its tenant without the token (a leaked one).
    by_service = await client.post(url, headers=service)
    assert by_service.status_code == 200, by_service.text
    third = by_service.json()["conversation_token"]
    assert (await client.get(updates, headers=as_visitor(winner))).status_code == 403
    assert (await client.get(updates, headers=as_visitor(third))).status_code == 200
    assert _code(await client.post("/v1/conversations/nope/token", headers=service)) == (
        404,
        "not_found",
    )

    # A conversation a channel started has no visitor token, and gets none this way.
    async with runtime.db.session(runtime.tenant.id) as session:
        mail = await create_conversation(session, channel="email", customer_ref="a@b.example")
        await session.commit()
    refused = await client.post(f"/v1/conversations/{mail.id}/token", headers=service)
    assert _code(refused) == (409, "no_conversation_token")

    rotations = [
        e for e in await _audit(client, admin) if e["action"] == "conversation.token_rotate"
    ]
    assert len(rotations) == 3
    assert {e["target"] for e in rotations} == {conversation}


async def test_an_api_key_is_rotated_with_an_optional_grace(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    admin = await _bearer(runtime, Scope.ADMIN, name="root")
    service = await create_key(runtime.db, runtime.tenant.id, name="shop backend",
                               scope=Scope.SERVICE)  # fmt: skip
    old = {"Authorization": f"Bearer {service.token}"}
    assert (await client.get("/v1/knowledge/documents", headers=old)).status_code == 200

    rotated = await client.post(f"/v1/admin/keys/{service.id}/rotate", headers=admin)
    assert rotated.status_code == 201, rotated.text
    body = rotated.json()
    assert (body["name"], body["scope"], body["replaces"]) == (
        "shop backend",
        "service",
        service.id,
    )
    assert body["key"].startswith("fd_")
    new = {"Authorization": f"Bearer {body['key']}"}
    assert (await client.get("/v1/knowledge/documents", headers=new)).status_code == 200
    assert (await client.get("/v1/knowledge/documents", headers=old)).status_code == 401  # no grace

    # With a grace, the replaced key keeps working until it ends.
    graced = await client.post(f"/v1/admin/keys/{body['id']}/rotate", json={"grace_s": 3600},
                               headers=admin)  # fmt: skip
    assert graced.status_code == 201, graced.text
    newest = {"Authorization": f"Bearer {graced.json()['key']}"}
    assert (await client.get("/v1/knowledge/documents", headers=new)).status_code == 200
    assert (await client.get("/v1/knowledge/documents", headers=newest)).status_code == 200
    listed = {k["id"]: k for k in (await client.get("/v1/admin/keys", headers=admin)).json()}
    ends = datetime.fromisoformat(listed[body["id"]]["revoked_at"])
    assert ends.replace(tzinfo=ends.tzinfo or UTC) > datetime.now(UTC)
    assert graced.json()["replaced_until"] is not None
    # Rotated once is enough: the key in its grace is not rotated again...
    again = await client.post(f"/v1/admin/keys/{body['id']}/rotate", headers=admin)
    assert _code(again) == (409, "key_revoked")
    # ...and revoking it ends its grace at once.
    assert (await client.delete(f"/v1/admin/keys/{body['id']}", headers=admin)).status_code == 204
    assert (await client.get("/v1/knowledge/documents", headers=new)).status_code == 401

    # A grace runs out by itself.
    short = await client.post(f"/v1/admin/keys/{graced.json()['id']}/rotate",
                              json={"grace_s": 1}, headers=admin)  # fmt: skip
    assert short.status_code == 201
    assert (await client.get("/v1/knowledge/documents", headers=newest)).status_code == 200
    await asyncio.sleep(1.2)
    assert (await client.get("/v1/knowledge/documents", headers=newest)).status_code == 401

    assert _code(await client.post("/v1/admin/keys/nope/rotate", headers=admin)) == (
        404,
        "not_found",
    )
    for grace in (-1, 31 * 86400):
        bad = await client.post(f"/v1/admin/keys/{short.json()['id']}/rotate",
                                json={"grace_s": grace}, headers=admin)  # fmt: skip
        assert bad.status_code == 422, bad.text
    service_key = {"Authorization": f"Bearer {short.json()['key']}"}
    forbidden = await client.post(f"/v1/admin/keys/{short.json()['id']}/rotate",
                                  headers=service_key)  # fmt: skip
    assert forbidden.status_code == 403

    rotations = [e for e in await _audit(client, admin) if e["action"] == "api_key.rotate"]
    assert len(rotations) == 3
    assert rotations[-1]["target"] == service.id
    assert rotations[-1]["detail"]["replaced_by"] == body["id"]


def test_keys_rotate_on_the_command_line(workspace: Path) -> None:
    from frontdesk.cli.main import app

    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "-w", str(workspace), "--name", "shop"])
    token = created.output.strip().splitlines()[-1]
    prefix = "_".join(token.split("_")[:2])
    rotated = runner.invoke(app, ["keys", "rotate", prefix, "--grace", "600", "-w", str(workspace)])
    assert rotated.exit_code == 0, rotated.output
    fresh = rotated.output.strip().splitlines()[-1]
    assert fresh.startswith("fd_")
    assert fresh != token
    assert "until" in rotated.output  # when the old key stops working
    listed = runner.invoke(app, ["keys", "list", "-w", str(workspace)]).output
    assert f"{prefix}  service  'shop'  active until" in listed
    unknown = runner.invoke(app, ["keys", "rotate", "fd_nothing", "-w", str(workspace)])
    assert unknown.exit_code == 1
    assert "no key 'fd_nothing' in this tenant" in unknown.output

    async def check() -> tuple[bool, bool]:
        from frontdesk.storage.db import Database

        db = Database(f"sqlite+aiosqlite:///{workspace / '.frontdesk' / 'frontdesk.db'}")
        try:
            return (
                await verify_key(db, token) is not None,
                await verify_key(db, fresh) is not None,
            )
        finally:
            await db.dispose()

    assert asyncio.run(check()) == (True, True)  # the old one in its grace
