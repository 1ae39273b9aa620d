"""A visitor's conversation token, rotated: `POST /v1/conversations/{id}/token`.

No grace for the old token. A request is checked once, when it begins, so one already under
way (a streamed reply included) finishes; only requests sent after the rotation with the old
token are refused, and the client that rotated holds the new one from the response. A grace
would keep a token that leaked (the reason to rotate) working after the rotation, and would
need the old hash stored beside the new one."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from frontdesk.api.deps import ConversationToken, ConversationWriter, RuntimeDep
from frontdesk.api.schemas import ErrorResponse
from frontdesk.errors import ConflictError, NotFoundError, PermissionDeniedError
from frontdesk.storage.api_keys import Scope
from frontdesk.storage.audit import audit
from frontdesk.storage.conversations import get_conversation, rotate_visitor_token

router = APIRouter(
    prefix="/v1/conversations",
    tags=["conversations"],
    responses={code: {"model": ErrorResponse} for code in (401, 403, 404, 409, 429)},
)


class ConversationTokenPublic(BaseModel):
    conversation_id: str
    conversation_token: str  # shown only here; the one before it is refused from now on


@router.post("/{conversation_id}/token")
async def rotate_token(
    conversation_id: str,
    runtime: RuntimeDep,
    key: ConversationWriter,
    token: ConversationToken = None,
) -> ConversationTokenPublic:
    """Replace the conversation's token: the visitor with its current one (widget key), or a
    service or admin key without it (a token that leaked). The old token is refused from the
    next request on. Audited as `conversation.token_rotate`."""
    visitor = key.scope is Scope.WIDGET
    async with runtime.db.session(key.tenant_id) as session:
        conversation = await get_conversation(session, conversation_id)
        if conversation is None:  # a widget key was already refused, as for any stranger
            raise NotFoundError(f"conversation {conversation_id} not found")
        if conversation.visitor_token_hash is None:
            raise ConflictError(
                f"conversation {conversation_id} was started by a channel, not a visitor: it "
                "has no visitor token to rotate",
                code="no_conversation_token",
            )
        fresh = await rotate_visitor_token(session, conversation, held=token if visitor else None)
        if fresh is None:  # another rotation came first
            if visitor:
                raise PermissionDeniedError(
                    f"the X-Conversation-Token is not the token of conversation {conversation_id}",
                    code="conversation_token_invalid",
                )
            raise ConflictError(
                "the conversation's token was rotated at the same moment; try again",
                code="conversation_token_changed",
            )
        audit(session, actor=key.actor, action="conversation.token_rotate", target=conversation_id)
        await session.commit()
    return ConversationTokenPublic(conversation_id=conversation_id, conversation_token=fresh)
