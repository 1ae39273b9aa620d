"""What the customer's side shows after a hand-off: agents' replies arrive as messages.

`GET /v1/conversations/{id}/updates?after=N` lists the messages after sequence number N that
a customer may see (their own, the assistant's, agents' and system lines; never agents'
internal notes). Widget keys may call it with the conversation's `X-Conversation-Token`: the
chat page polls it while a person is involved.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from frontdesk.api.deps import ConversationReader, RuntimeDep
from frontdesk.api.schemas import ErrorResponse
from frontdesk.errors import NotFoundError
from frontdesk.orchestration.remembering import name_to_show
from frontdesk.storage.conversations import all_messages, get_conversation
from frontdesk.text import NAME_MARK, render_name

router = APIRouter(
    prefix="/v1/conversations",
    tags=["conversations"],
    responses={code: {"model": ErrorResponse} for code in (401, 403, 404, 422)},
)

CUSTOMER_VISIBLE = ("customer", "assistant", "agent", "system")


class UpdatePublic(BaseModel):
    seq: int
    role: str
    text: str
    # False for what arrived outside the customer's own request/reply pairs: an agent's
    # reply, "an agent joined", an approval's outcome. The chat page shows those.
    from_turn: bool


class UpdatesPublic(BaseModel):
    status: str  # open | handed_off | agent | closed
    messages: list[UpdatePublic]


@router.get("/{conversation_id}/updates")
async def updates(
    conversation_id: str,
    runtime: RuntimeDep,
    key: ConversationReader,
    after: Annotated[int, Query(ge=0, description="the last sequence number already shown")] = 0,
) -> UpdatesPublic:
    async with runtime.db.session(key.tenant_id) as session:
        conversation = await get_conversation(session, conversation_id)
        if conversation is None:
            raise NotFoundError(f"conversation {conversation_id} not found")
        messages = await all_messages(session, conversation_id)
        named = any(NAME_MARK in m.text for m in messages)  # polled often: read only then
        ref = conversation.customer_ref if named else None
        name = await name_to_show(session, ref, runtime.settings)
    return UpdatesPublic(
        status=conversation.status,
        messages=[
            UpdatePublic(
                seq=m.seq,
                role=m.role,
                text=render_name(m.text, name),
                from_turn=m.turn_id is not None,
            )
            for m in messages
            if m.seq > after and m.role in CUSTOMER_VISIBLE
        ],
    )
