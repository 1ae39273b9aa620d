"""The customer profile: what is known of one customer across conversations, by the
`customer_ref` their conversations carry (table customer_profiles).

Held: the name they gave ("my name is ..."), their preferred language (of their last message
whose language was detected), the last channel, facts they gave (order ids...), agents'
notes, and how many conversations they had. Past tickets and their outcomes are not copied:
`past_tickets` reads them. The profile is personal data kept on purpose (the input screen's
redaction does not apply to it): the privacy export, erasure and the retention purge include
it (storage/privacy.py).

Read with the conversation (`storage.conversations.conversation_and_profile`: one query, by
the unique key), else `load_profile`; written by `save_profile` only when the turn taught
something new (a first conversation's INSERT, then an UPDATE when a fact, the name, the
language, the channel or the number of conversations changes, or the last contact is an hour
old).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.storage.models import Conversation, CustomerProfile, Ticket, new_id, utcnow

MAX_NOTES = 50  # the newest notes are kept
MAX_FACTS = 20
CONTACT_PRECISION = timedelta(hours=1)  # last_contact_at is rewritten at most this often
_PROFILES: Table = CustomerProfile.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class ProfileView:
    """The profile as a turn sees it (`turn.profile`): forms may skip asking known facts."""

    customer_ref: str
    display_name: str | None = None
    language: str | None = None
    last_channel: str | None = None
    facts: dict[str, str] = field(default_factory=dict)
    contacts: int = 1  # conversations, this one included
    known: bool = False  # the customer had an earlier conversation
    notes: list[dict[str, Any]] = field(default_factory=list)

    def brief(self) -> dict[str, Any]:
        """What a hand-off summary carries about the customer. Not the name nor agents' notes:
        the ticket's summary goes to webhooks and mirrors, and stored text is redacted of
        names; agents read them on the console, from the profile itself."""
        return {
            "customer_ref": self.customer_ref,
            "named": self.display_name is not None,
            "language": self.language,
            "last_channel": self.last_channel,
            "facts": dict(self.facts),
            "contacts": self.contacts,
            "notes": len(self.notes),
        }


async def load_profile(session: AsyncSession, customer_ref: str) -> CustomerProfile | None:
    found: CustomerProfile | None = await session.scalar(
        select(CustomerProfile).where(CustomerProfile.customer_ref == customer_ref)
    )
    return found


def view_of(
    row: CustomerProfile | None, customer_ref: str, *, new_conversation: bool
) -> ProfileView:
    """The profile for this turn; `new_conversation`: this conversation is not counted yet."""
    if row is None:
        return ProfileView(customer_ref=customer_ref)
    earlier = row.contacts if new_conversation else row.contacts - 1
    return ProfileView(
        customer_ref=customer_ref,
        display_name=row.display_name,
        language=row.language,
        last_channel=row.last_channel,
        facts=dict(row.facts or {}),
        contacts=earlier + 1,
        known=earlier >= 1,
        notes=list(row.notes or []),
    )


async def save_profile(
    session: AsyncSession,
    row: CustomerProfile | None,
    customer_ref: str,
    *,
    now: datetime,
    channel: str,
    new_conversation: bool,
    name: str | None = None,
    language: str | None = None,
    facts: dict[str, str] | None = None,
) -> None:
    """Record what this turn taught about the customer. A new profile is inserted with
    ON CONFLICT DO NOTHING: two first messages of one customer at once do not fail a turn
    (the later turn's facts wait for its next message)."""
    if row is None:
        values = {
            "id": new_id(), "tenant_id": session.info["tenant_id"], "customer_ref": customer_ref,
            "display_name": name, "language": language, "last_channel": channel,
            "facts": dict(list((facts or {}).items())[-MAX_FACTS:]), "notes": [],
            "contacts": 1, "last_contact_at": now, "created_at": utcnow(), "updated_at": utcnow(),
        }  # fmt: skip
        insert = postgresql_insert if _dialect(session) == "postgresql" else sqlite_insert
        # Into the table (Core), not the entity: the ORM's insert path costs a new customer's
        # first turn about 0.2 ms more (SQLite, measured), and no object is wanted back. No
        # autoflush: the turn's pending changes (the conversation's summary) would go in an
        # UPDATE of their own instead of the one the turn's commit writes anyway.
        with session.no_autoflush:
            await session.execute(
                insert(_PROFILES)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["tenant_id", "customer_ref"])
            )
        return
    changed = new_conversation
    if new_conversation:
        row.contacts = (row.contacts or 0) + 1
    if name and name != row.display_name:
        row.display_name, changed = name, True
    if language and language != row.language:
        row.language, changed = language, True
    if facts:
        merged = {k: v for k, v in (row.facts or {}).items() if k not in facts}
        kept = dict(list({**merged, **facts}.items())[-MAX_FACTS:])
        if kept != (row.facts or {}):
            row.facts, changed = kept, True
    if channel != row.last_channel:
        row.last_channel, changed = channel, True
    # No write when the turn taught nothing new: the time of the last contact is kept to
    # within CONTACT_PRECISION (what the retention purge and the export need).
    if changed or _older(row.last_contact_at, now, CONTACT_PRECISION):
        row.last_contact_at = now
        row.updated_at = utcnow()


async def add_note(
    session: AsyncSession, customer_ref: str, text: str, *, author: str, now: datetime
) -> CustomerProfile:
    """An agent's note on the customer (the console's form); creates the profile if needed."""
    row = await load_profile(session, customer_ref)
    if row is None:
        row = CustomerProfile(customer_ref=customer_ref, facts={}, notes=[], contacts=0)
        session.add(row)
    note = {"text": text, "by": author, "at": now.isoformat(timespec="seconds")}
    row.notes = [*(row.notes or []), note][-MAX_NOTES:]  # a new list: JSON columns see it
    row.updated_at = utcnow()
    await session.flush()
    return row


async def past_tickets(
    session: AsyncSession, customer_ref: str, *, limit: int = 10
) -> list[dict[str, Any]]:
    """The customer's tickets in all their conversations, newest first (read, not copied)."""
    rows = await session.execute(
        select(Ticket.id, Ticket.team, Ticket.status, Ticket.subject, Ticket.created_at,
               Ticket.conversation_id)
        .join(Conversation, Conversation.id == Ticket.conversation_id)
        .where(Conversation.customer_ref == customer_ref)
        .order_by(Ticket.created_at.desc())
        .limit(limit)
    )  # fmt: skip
    return [
        {"id": id_, "team": team, "status": status, "subject": subject, "created_at": created,
         "conversation_id": conversation_id}
        for id_, team, status, subject, created, conversation_id in rows
    ]  # fmt: skip


def _older(then: datetime | None, now: datetime, than: timedelta) -> bool:
    if then is None:
        return True
    if then.tzinfo is None:  # SQLite gives back naive UTC
        then = then.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now - then >= than


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


# -- the name the customer gives ------------------------------------------------------------

_CUES = (
    r"my name is", r"my name'?s", r"call me", r"me llamo", r"mi nombre es",
    r"ich hei(?:ß|ss)e", r"mein name ist", r"je m['\u2019]appelle", r"mon nom est", r"mi chiamo",
    r"il mio nome [èe]", r"meu nome [ée]", r"me chamo", r"chamo-me", r"mijn naam is",
    r"ik heet",
)  # fmt: skip
_WORD = r"([^\W\d_][^\W\d_'\u2019\-]*(?:['\u2019\-][^\W\d_]+)?)"
_NAME = re.compile(
    r"(?:^|[\s,.;:!¡¿(])(?:" + "|".join(_CUES) + r")\s+" + _WORD + r"(?:\s+" + _WORD + ")?",
    re.IGNORECASE,
)
# Words that follow a cue without being a name ("my name is not...", "call me back").
_NOT_NAMES = frozenset(
    """a an and at back but by for from here in is it later not now of on or please so the
    then there tomorrow today when with y e o pero que en el la los las un una de del und oder
    aber nicht bitte der die das ein eine von et ou mais pas le les une des ma il lo non per
    mas não nao um uma do da en maar niet het een van""".split()
)


def given_name(text: str) -> str | None:
    """The name the customer gives in `text` ("my name is Maria", "me llamo Lucía"), title-
    cased, first name and at most one more; None when they give none."""
    match = _NAME.search(text)
    if match is None:
        return None
    first, second = match.group(1), match.group(2)
    if first.lower() in _NOT_NAMES:
        return None
    words = [first] + ([second] if second and second.lower() not in _NOT_NAMES else [])
    return " ".join(word[:1].upper() + word[1:] for word in words)
