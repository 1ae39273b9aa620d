"""Personal data is not stored raw anywhere: after an e-mail (an IBAN in its subject, a name
in its From header and body) and a hand-off (a lower-case name after a cue), no column of any
table holds them (messages, turns' screening records, tickets and their summaries, ticket
events, message_deliveries' stored replies, the audit log...), on SQLite and PostgreSQL
(issue 17, point 7). The one exception is deliberate: the name a customer gives is kept on
their profile (`customer_profiles.display_name`, exported, erased and purged with it) unless
`memory.remember_names` is false (issue 19)."""

from __future__ import annotations

import json
import stat
from email.message import EmailMessage

import httpx
from sqlalchemy import delete, select

from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.models import Base, CustomerProfile

IBAN = "DE89370400440532013000"
RAW = ("DE89 3704 0044 0532 0130 00", IBAN, "oliver pearce", "Oliver Pearce", "Pearce")


async def _every_stored_value(runtime: Runtime) -> str:
    """Every row of every table, as one text to search."""
    rows: list[str] = []
    async with runtime.db.unscoped_session() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.c if c is not CustomerProfile.__table__.c.display_name]
            for row in (await session.execute(select(*columns))).all():
                rows.append(json.dumps([str(v) for v in row], ensure_ascii=False))
    return "\n".join(rows)


async def test_no_raw_personal_data_in_any_table(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    token = (await create_key(runtime.db, runtime.tenant.id, name="t", scope=Scope.SERVICE)).token
    auth = {"Authorization": f"Bearer {token}"}

    mail = EmailMessage()
    mail["From"] = "Oliver Pearce <oliver.p@example.com>"
    mail["To"] = "support@kestrel.example"
    mail["Subject"] = "Refund to DE89 3704 0044 0532 0130 00 please"
    mail["Message-ID"] = "<pii-1@example.com>"
    mail.set_content("hello, my name is oliver pearce. I want a refund for order KP-20481736")
    response = await client.post("/v1/channels/email", content=bytes(mail),
                                 headers={**auth, "Content-Type": "message/rfc822"})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["email"]["subject"] == "Re: Refund to [IBAN] please"

    created = await client.post("/v1/conversations", json={}, headers=auth)
    assert created.status_code == 201, created.text
    url = f"/v1/conversations/{created.json()['id']}/messages"
    handed = await client.post(
        url, json={"text": "this is oliver pearce, let me talk to a human please"}, headers=auth
    )
    assert handed.status_code == 200, handed.text
    assert handed.json()["ticket_id"]  # the summary and the ticket were written

    stored = await _every_stored_value(runtime)
    assert "[IBAN]" in stored
    assert "[NAME]" in stored
    for value in RAW:
        assert value not in stored, value
    async with runtime.db.unscoped_session() as session:
        names = set(await session.scalars(select(CustomerProfile.display_name)))
    assert {n.lower() for n in names if n} == {"oliver pearce"}  # on the profile only
    # The chat page's key, written by the app at start-up, is the owner's only.
    assert stat.S_IMODE((runtime.workspace.state_dir / "widget-key").stat().st_mode) == 0o600


NAME = "Oliver Pearce"


async def _transcript_texts(client: httpx.AsyncClient, auth: dict[str, str], cid: str) -> str:
    got = await client.get(f"/v1/conversations/{cid}", headers=auth)
    assert got.status_code == 200, got.text
    return "\n".join(m["text"] for m in got.json()["messages"] if m["role"] == "assistant")


async def test_greeting_name_lives_only_on_the_profile(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """A returning customer greeted by name: the customer's reply, its idempotent replay and
    the transcript carry the name, rendered from the profile; no stored row but the profile
    holds it (the assistant message and the delivery record keep a reference); once the
    profile is gone the transcript and the replay say nothing in its place."""
    token = (await create_key(runtime.db, runtime.tenant.id, name="t", scope=Scope.SERVICE)).token
    auth = {"Authorization": f"Bearer {token}"}
    admin = (await create_key(runtime.db, runtime.tenant.id, name="a", scope=Scope.ADMIN)).token
    first = await client.post("/v1/conversations", json={"customer_ref": "cust-oliver"},
                              headers=auth)  # fmt: skip
    said = await client.post(f"/v1/conversations/{first.json()['id']}/messages",
                             json={"text": f"Hi, my name is {NAME}. How do I reset my password?"},
                             headers=auth)  # fmt: skip
    assert said.status_code == 200, said.text

    again = await client.post("/v1/conversations", json={"customer_ref": "cust-oliver"},
                              headers=auth)  # fmt: skip
    cid = again.json()["id"]
    url, keyed = f"/v1/conversations/{cid}/messages", {**auth, "Idempotency-Key": "greet-1"}
    body = {"text": "hello, how do I reset my password?"}
    greeted = await client.post(url, json=body, headers=keyed)
    assert greeted.status_code == 200, greeted.text
    answer = greeted.json()["answer"]
    assert NAME.split()[0] in answer, answer  # the customer sees the greeting as before
    replay = await client.post(url, json=body, headers=keyed)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json()["answer"] == answer
    assert answer in await _transcript_texts(client, auth, cid)
    updates = await client.get(f"/v1/conversations/{cid}/updates", headers=auth)
    assert answer in [m["text"] for m in updates.json()["messages"]]  # the widget's view
    exported = await client.get("/v1/admin/customers/cust-oliver/export",
                                headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
    texts = [m["text"] for c in exported.json()["conversations"] for m in c["messages"]]
    assert answer in texts

    stored = await _every_stored_value(runtime)
    for value in (NAME, NAME.split()[0], NAME.split()[1]):
        assert value not in stored, value

    # The profile goes (erased by an operator, say): the name goes from every rendering.
    async with runtime.db.unscoped_session() as session:
        await session.execute(delete(CustomerProfile))
        await session.commit()
    transcript = await _transcript_texts(client, auth, cid)
    assert transcript
    assert NAME.split()[0] not in transcript, transcript
    assert not transcript.startswith(("Hi ,", "Hello ,", "Hi !", "Hello !")), transcript
    replay = await client.post(url, json=body, headers=keyed)
    assert NAME.split()[0] not in replay.json()["answer"]
    updates = await client.get(f"/v1/conversations/{cid}/updates", headers=auth)
    assert NAME.split()[0] not in updates.text
    shown = [m["text"] for m in updates.json()["messages"]]
    assert not [t for t in shown if "\ue000" in t]  # the reference itself is never shown

    erased = await client.delete("/v1/admin/customers/cust-oliver",
                                 headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
    assert erased.status_code == 204, erased.text
    stored = await _every_stored_value(runtime)
    assert NAME.split()[0] not in stored
