"""Jobs a process left unfinished when it died are done by the next one: a push-channel
message whose answer had not gone out (Slack and WhatsApp do not resend an event they had their
200 for), a re-index, a retrain, a retention purge. Real HTTP to a fake Slack API on loopback;
SQLite and PostgreSQL (the `runtime` fixture)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from frontdesk.config.channel_settings import ChannelSettings, DeliverySettings, SlackSettings
from frontdesk.jobs.runner import PENDING
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, create_key
from frontdesk.storage.conversations import all_messages
from frontdesk.storage.deliveries import (
    CHANNEL,
    DONE,
    LEASE_S,
    PROCESSING,
    DeliveryKey,
    seconds_until_abandoned,
)
from frontdesk.storage.models import Document, Job, utcnow
from frontdesk.storage.support_models import MessageDelivery
from frontdesk.storage.tenants import ensure_tenant
from tests.api.channel_fakes import FakeApi, channel_client, fake_api
from tests.api.test_slack_channel import SECRET, TOKEN, URL, message, signed

__all__ = ["fake_api"]  # the fixture, imported for the tests below

THREAD = "T0TEAM:D0DIRECT:1700000100.000100"


@pytest.fixture
def slack_runtime(runtime: Runtime, fake_api: FakeApi) -> Runtime:
    runtime.settings.channels = ChannelSettings(
        slack=SlackSettings(signing_secret=SECRET, bot_token=TOKEN, api_base_url=fake_api.url),
        delivery=DeliverySettings(attempts=3, backoff_s=0.0),
    )
    return runtime


async def _jobs(runtime: Runtime, kind: str = "slack_message") -> list[Job]:
    async with runtime.db.session(runtime.tenant.id) as session:
        return list(await session.scalars(select(Job).where(Job.kind == kind)))


async def _add(runtime: Runtime, *rows: Any) -> None:
    async with runtime.db.session(runtime.tenant.id) as session:
        session.add_all(rows)
        await session.commit()


def _left(
    tenant_id: str,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    status: str = "running",
    attempts: int = 1,
    heartbeat_at: datetime | None = None,
) -> Job:
    """A job row as a process left it (no heartbeat: long gone, unless given one)."""
    return Job(tenant_id=tenant_id, kind=kind, status=status, attempts=attempts,
               payload=payload or {}, heartbeat_at=heartbeat_at)  # fmt: skip


async def _age(runtime: Runtime, kind: str, seconds: float = 120) -> None:
    """As if the process holding these jobs died `seconds` ago (its heartbeat stopped)."""
    async with runtime.db.session(runtime.tenant.id) as session:
        await session.execute(
            update(Job).where(Job.kind == kind)
            .values(heartbeat_at=utcnow() - timedelta(seconds=seconds))
        )  # fmt: skip
        await session.commit()


def _pending(text: str) -> dict[str, Any]:
    return {"thread_key": THREAD, "user": "U0CUSTOMER", "text": text, "notice": False}


async def test_a_message_accepted_before_a_crash_is_answered_after_the_restart(
    slack_runtime: Runtime, fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "I want a refund for order KP-20481736, write to jo.bloggs@example.com"
    event = message(text, event_id="EvCrash", ts="1700000100.000100")
    async for first in channel_client(slack_runtime):
        with monkeypatch.context() as patch:  # the process dies right after its 200
            patch.setattr(first.intake.runner, "_start", lambda *args, **kwargs: None)
            assert (await first.http.post(URL, **signed(event))).status_code == 200
    [job] = await _jobs(slack_runtime)
    assert job.status == "queued"
    assert "jo.bloggs@example.com" not in json.dumps(job.payload)  # kept redacted
    await _age(slack_runtime, "slack_message")
    assert job.payload[PENDING]["thread_key"] == THREAD
    assert fake_api.requests == []

    async for second in channel_client(slack_runtime):  # the restart
        await second.settle()
        resumed = second.metric("frontdesk_channel_events_total", channel="slack",
                                outcome="resumed")  # fmt: skip
        assert resumed == 1

    [post] = fake_api.requests
    assert post["json"]["channel"] == "D0DIRECT"
    assert post["json"]["thread_ts"] == "1700000100.000100"
    assert "refund" in post["json"]["text"].lower()
    [job] = await _jobs(slack_runtime)
    assert (job.status, job.attempts, job.error) == ("done", 1, None)
    assert PENDING not in job.payload  # the customer's text does not outlive the job
    assert job.result is not None
    assert job.result["posted"] is True
    async with slack_runtime.db.session(slack_runtime.tenant.id) as session:
        messages = await all_messages(session, job.result["conversation_id"])
    assert [m.role for m in messages] == ["customer", "assistant"]
    assert "jo.bloggs@example.com" not in messages[0].text


async def test_an_answer_produced_before_the_crash_is_posted_not_produced_again(
    slack_runtime: Runtime, fake_api: FakeApi
) -> None:
    answer = {
        "conversation_id": "c" * 32,
        "turn_id": "t" * 32,
        "text": "Your refund is on its way.",
    }
    await _add(
        slack_runtime,
        MessageDelivery(
            tenant_id=slack_runtime.tenant.id,
            namespace=CHANNEL,
            key="slack:EvDone",
            status=DONE,
            response=answer,
            conversation_id=answer["conversation_id"],
        ),
        _left(
            slack_runtime.tenant.id,
            "slack_message",
            {"delivery_key": "slack:EvDone", PENDING: _pending("Where is my refund?")},
        ),
    )
    async for restarted in channel_client(slack_runtime):
        await restarted.settle()
    assert [p["json"]["text"] for p in fake_api.requests] == ["Your refund is on its way."]
    [job] = await _jobs(slack_runtime)
    assert (job.status, job.attempts) == ("done", 2)


async def test_what_cannot_be_resumed_fails_with_the_reason(
    slack_runtime: Runtime, fake_api: FakeApi
) -> None:
    tenant = slack_runtime.tenant.id
    await _add(
        slack_runtime,
        _left(
            tenant,
            "slack_message",
            {"delivery_key": "slack:EvLoop", PENDING: _pending("hello")},
            attempts=3,
        ),
        _left(
            tenant,
            "whatsapp_message",
            {"delivery_key": "whatsapp:wamid.1", PENDING: _pending("hi")},
            status="queued",
            attempts=0,
        ),
        _left(
            tenant, "slack_message", {"delivery_key": "slack:EvOld"}, status="queued", attempts=0
        ),
        _left(tenant, "knowledge_upload"),
    )
    async for restarted in channel_client(slack_runtime):
        await restarted.settle()
    errors = {j.payload["delivery_key"]: j.error for j in await _jobs(slack_runtime)}
    assert errors["slack:EvLoop"] == "interrupted by a restart; interrupted 3 times"
    assert "no text to resume from" in (errors["slack:EvOld"] or "")
    [whatsapp] = await _jobs(slack_runtime, "whatsapp_message")
    assert whatsapp.error == (
        "interrupted by a restart; whatsapp is no longer configured for this tenant"
    )
    [upload] = await _jobs(slack_runtime, "knowledge_upload")  # from before its files were kept
    assert upload.error == "interrupted by a restart; it cannot be run again here"
    assert all(PENDING not in j.payload for j in await _jobs(slack_runtime))
    assert fake_api.requests == []


async def test_a_message_still_claimed_waits_until_the_claim_is_abandoned(
    slack_runtime: Runtime, fake_api: FakeApi
) -> None:
    tenant = slack_runtime.tenant.id
    await _add(
        slack_runtime,
        MessageDelivery(tenant_id=tenant, namespace=CHANNEL, key="slack:EvHeld", status=PROCESSING),
        _left(
            tenant,
            "slack_message",
            {"delivery_key": "slack:EvHeld", PENDING: _pending("Where is it?")},
        ),
    )
    held = DeliveryKey(CHANNEL, "slack:EvHeld")
    wait = await seconds_until_abandoned(slack_runtime.db, tenant, held)
    assert LEASE_S - 2 < wait <= LEASE_S  # the claim's lease: seconds, not minutes
    async for restarted in channel_client(slack_runtime):
        await restarted.settle()  # shutdown does not wait for it: the next start will
    [job] = await _jobs(slack_runtime)
    assert (job.status, job.attempts) == ("running", 1)  # untouched, still to be resumed
    assert fake_api.requests == []


async def test_reindex_retrain_and_purge_jobs_run_again_after_a_restart(runtime: Runtime) -> None:
    tenant = runtime.tenant.id
    other = (await ensure_tenant(runtime.db, "other")).id
    await _add(
        runtime,
        _left(tenant, "knowledge_reindex"),
        _left(tenant, "retention_purge", status="queued", attempts=0),
        _left(tenant, "nlu_retrain", attempts=3),
    )
    async with runtime.db.session(other) as session:  # the retrain is the workspace tenant's
        session.add(_left(other, "nlu_retrain"))
        await session.commit()
    async for _restarted in channel_client(runtime):
        pass  # shutting the app down waits for its jobs
    [reindex] = await _jobs(runtime, "knowledge_reindex")
    assert (reindex.status, reindex.attempts, reindex.error) == ("done", 2, None)
    assert reindex.result is not None
    assert "unchanged" in reindex.result  # the sync report of the workspace's knowledge folder
    [purge] = await _jobs(runtime, "retention_purge")
    assert (purge.status, purge.result) == ("done", {"purged": 0, "retention_days": None})
    [looping] = await _jobs(runtime, "nlu_retrain")
    assert looping.error == "interrupted by a restart; interrupted 3 times"
    async with runtime.db.session(other) as session:
        [elsewhere] = list(await session.scalars(select(Job).where(Job.kind == "nlu_retrain")))
    assert elsewhere.error == "interrupted by a restart; it cannot be run again here"


async def test_an_upload_accepted_before_a_crash_is_indexed_after_the_restart(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = {"Authorization": "Bearer " + (await create_key(
        runtime.db, runtime.tenant.id, name="a", scope=Scope.ADMIN)).token}  # fmt: skip
    text = b"# Gift wrapping\n\nEvery order can be gift wrapped for 3 euros at checkout.\n"
    async for first in channel_client(runtime):
        with monkeypatch.context() as patch:  # the process dies right after its 202
            patch.setattr(first.app_jobs, "_start", lambda *args, **kwargs: None)
            files = [("files", ("gift-wrapping.md", text, "text/markdown"))]
            accepted = await first.http.post("/v1/knowledge/documents", files=files,
                                             headers=admin)  # fmt: skip
            assert accepted.status_code == 202, accepted.text
    [job] = await _jobs(runtime, "knowledge_upload")
    assert job.status == "queued"
    await _age(runtime, "knowledge_upload")
    async for _restarted in channel_client(runtime):
        pass  # shutting the app down waits for its jobs
    [job] = await _jobs(runtime, "knowledge_upload")
    assert (job.status, job.attempts) == ("done", 1)
    assert job.result is not None
    assert job.result["added"] == ["upload/gift-wrapping.md"]
    assert job.payload == {"sources": ["upload/gift-wrapping.md"]}  # the file is not kept
    async with runtime.db.session(runtime.tenant.id) as session:
        sources = list(await session.scalars(select(Document.source)))
    assert "upload/gift-wrapping.md" in sources


async def test_a_job_another_live_process_holds_is_left_to_it(runtime: Runtime) -> None:
    await _add(
        runtime,
        _left(runtime.tenant.id, "knowledge_reindex", heartbeat_at=utcnow()),
        _left(runtime.tenant.id, "knowledge_upload", heartbeat_at=utcnow() - timedelta(seconds=20)),
    )
    async for _started in channel_client(runtime):
        pass
    [reindex] = await _jobs(runtime, "knowledge_reindex")
    [upload] = await _jobs(runtime, "knowledge_upload")
    assert (reindex.status, reindex.attempts) == ("running", 1)  # neither run again
    assert (upload.status, upload.error) == ("running", None)  # nor failed
    await _age(runtime, "knowledge_reindex")  # its process stops beating: now it is taken
    async for _started in channel_client(runtime):
        pass
    [reindex] = await _jobs(runtime, "knowledge_reindex")
    assert (reindex.status, reindex.attempts) == ("done", 2)
