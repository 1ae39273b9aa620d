"""The help desk: hand-off actions with their side effects, in one place.

Each action writes its rows, commits, then publishes the change to the console's live
stream and hands the outbound events (webhooks, help-desk mirror) to the dispatcher.
The pipeline opens tickets inside the turn's own transaction and calls `flush` after
the turn is recorded.

Agents' replies reach the customer on the conversation's channel: pull channels (the web
widget, REST clients) read them from `GET /v1/conversations/{id}/updates`; push channels
(e-mail, Slack...) register an `interfaces.Channel` under their name in `channels`, and the
desk sends each reply through it once it is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import FrontdeskError, NotFoundError
from frontdesk.handoff import tickets as ops
from frontdesk.handoff.events import EventHub
from frontdesk.handoff.webhooks import WebhookDispatcher
from frontdesk.interfaces import Channel
from frontdesk.storage.db import Database
from frontdesk.storage.models import Conversation, Message, Ticket
from frontdesk.text import NAME_MARK, render_name

log = logging.getLogger(__name__)

_EVENTS = "desk_events"
_DELIVERIES = "desk_deliveries"
# The name a stored text's name reference shows, for a conversation (its customer's profile's;
# None: nothing). Given by the orchestration layer, which knows the memory settings.
NameOf = Callable[[AsyncSession, Conversation], Awaitable[str | None]]


def message_event(message: Message, shown: str | None = None) -> dict[str, Any]:
    """`shown`: the text as the customer saw it (the stored text's name reference rendered);
    without it, the reference renders as nothing."""
    return {
        "type": "message",
        "conversation_id": message.conversation_id,
        "seq": message.seq,
        "role": message.role,
        "text": render_name(message.text, None) if shown is None else shown,
    }


class Desk:
    def __init__(
        self,
        db: Database,
        *,
        hub: EventHub | None = None,
        dispatcher: WebhookDispatcher | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        channels: MutableMapping[str, Channel] | None = None,
        name_of: NameOf | None = None,
    ) -> None:
        self.db = db
        self.name_of = name_of
        self.hub = hub or EventHub()
        self.dispatcher = dispatcher
        self.clock = clock
        self.channels: MutableMapping[str, Channel] = {} if channels is None else channels

    # -- inside a caller's transaction -------------------------------------------------------

    async def record(self, session: AsyncSession, event: dict[str, Any]) -> None:
        """Queue an event to publish (and deliver, for ticket events) after commit."""
        session.info.setdefault(_EVENTS, []).append(event)
        if self.dispatcher is not None and event["type"].startswith("ticket."):
            ids = await self.dispatcher.enqueue(session, event)
            session.info.setdefault(_DELIVERIES, []).extend(ids)

    async def flush(self, tenant_id: str, session: AsyncSession) -> None:
        """After commit: publish what the transaction did and start its deliveries."""
        for event in session.info.pop(_EVENTS, []):
            self.hub.publish(tenant_id, event)
        deliveries = session.info.pop(_DELIVERIES, [])
        if deliveries and self.dispatcher is not None:
            await self.dispatcher.kick(tenant_id, deliveries)

    def discard(self, session: AsyncSession) -> None:
        """The transaction was rolled back: nothing of it happened."""
        session.info.pop(_EVENTS, None)
        session.info.pop(_DELIVERIES, None)

    async def hand_off(
        self, session: AsyncSession, conversation: Conversation, **kwargs: Any
    ) -> Ticket:
        ticket, event = await ops.hand_off(session, conversation, **kwargs)
        await self.record(session, event)
        return ticket

    # -- console actions (each its own transaction) -----------------------------------------

    async def _load(self, session: AsyncSession, ticket_id: str) -> tuple[Ticket, Conversation]:
        ticket = await session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFoundError(f"ticket {ticket_id} not found")
        conversation = await session.get(Conversation, ticket.conversation_id)
        assert conversation is not None  # a ticket's conversation is deleted with it
        return ticket, conversation

    async def _messages_since(self, session: AsyncSession, conversation: Conversation,
                              before: int) -> None:  # fmt: skip
        from frontdesk.storage.conversations import all_messages

        since = [m for m in await all_messages(session, conversation.id) if m.seq > before]
        # A greeting among them shows the customer's name, as the transcript shows it.
        named = self.name_of is not None and any(NAME_MARK in m.text for m in since)
        name = await self.name_of(session, conversation) if named and self.name_of else None
        for message in since:
            shown = render_name(message.text, name)
            session.info.setdefault(_EVENTS, []).append(message_event(message, shown))

    async def _last_seq(self, session: AsyncSession, conversation: Conversation) -> int:
        from frontdesk.storage.conversations import recent_messages

        last = await recent_messages(session, conversation.id, limit=1)
        return last[-1].seq if last else 0

    async def take_over(self, tenant_id: str, ticket_id: str, *, agent: str) -> Ticket:
        async with self.db.session(tenant_id) as session:
            ticket, conversation = await self._load(session, ticket_id)
            before = await self._last_seq(session, conversation)
            event = await ops.take_over(session, ticket, conversation, agent=agent,
                                        now=self.clock())  # fmt: skip
            await self.record(session, event)
            await self._messages_since(session, conversation, before)
            await session.commit()
            await self.flush(tenant_id, session)
            return ticket

    async def reply(self, tenant_id: str, ticket_id: str, *, agent: str, text: str) -> Message:
        async with self.db.session(tenant_id) as session:
            ticket, conversation = await self._load(session, ticket_id)
            message, event = await ops.agent_reply(session, ticket, conversation, agent=agent,
                                                   text=text, now=self.clock())  # fmt: skip
            await self.record(session, event)
            session.info.setdefault(_EVENTS, []).append(message_event(message))
            await session.commit()
            await self.flush(tenant_id, session)
            await self.send_to_customer(conversation, message.text)
            return message

    async def send_to_customer(self, conversation: Conversation, text: str) -> bool:
        """Push a stored message out on the conversation's channel, when that channel pushes.
        False for pull channels (web, API): their clients read `/updates`."""
        channel = self.channels.get(conversation.channel)
        if channel is None:
            return False
        try:
            await channel.send_text(conversation.id, text)
        except Exception as exc:
            log.warning("could not send to %s conversation %s: %s", conversation.channel,
                        conversation.id, exc)  # fmt: skip
            raise FrontdeskError(
                f"saved, but not delivered on {conversation.channel}: {exc}",
                code="channel_unavailable",
            ) from exc
        return True

    async def hand_back(self, tenant_id: str, ticket_id: str, *, agent: str, notes: str) -> Ticket:
        async with self.db.session(tenant_id) as session:
            ticket, conversation = await self._load(session, ticket_id)
            before = await self._last_seq(session, conversation)
            event = await ops.hand_back(session, ticket, conversation, agent=agent, notes=notes,
                                        now=self.clock())  # fmt: skip
            await self.record(session, event)
            await self._messages_since(session, conversation, before)
            await session.commit()
            await self.flush(tenant_id, session)
            return ticket

    async def close(self, tenant_id: str, ticket_id: str, *, agent: str, note: str = "") -> Ticket:
        async with self.db.session(tenant_id) as session:
            ticket, conversation = await self._load(session, ticket_id)
            before = await self._last_seq(session, conversation)
            event = await ops.close(session, ticket, conversation, agent=agent,
                                    now=self.clock(), note=note)  # fmt: skip
            await self.record(session, event)
            await self._messages_since(session, conversation, before)
            await session.commit()
            await self.flush(tenant_id, session)
            return ticket

    async def set_external_id(self, tenant_id: str, ticket_id: str, external_id: str) -> None:
        """The mirror created the ticket over there: remember its id for later updates."""
        async with self.db.session(tenant_id) as session:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is not None:
                ticket.external_id = external_id
                await session.commit()
