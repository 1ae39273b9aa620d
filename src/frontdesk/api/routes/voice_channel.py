"""Voice intake: a recorded voice message in, its transcript answered through the pipeline.

The audio file is the raw request body (`Content-Type: audio/wav`, `audio/flac`, `audio/mpeg`,
`audio/ogg`, ...; not multipart): the format is sniffed from the bytes, so any container and
codec that PyAV's bundled FFmpeg decodes works. The transcript then takes the same way in as a
typed message (`take_turn`: admission checks, rate limits, input screen), on channel `voice`.
The audio itself is not stored; the transcript is, as the customer's message.

Transcription runs inside the idempotent delivery, so a repeated `Idempotency-Key` gets the
first answer back without transcribing again.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from frontdesk.api.delivery import IDEMPOTENCY_DOC, REPLAYED, caller_delivery, once, take_turn
from frontdesk.api.deps import CurrentKey, LimiterDep, RuntimeDep, require_scope
from frontdesk.api.routes.conversations import public_reply
from frontdesk.api.schemas import ErrorResponse, ReplyPublic
from frontdesk.errors import NotFoundError
from frontdesk.speech.errors import VoiceUnavailableError
from frontdesk.storage.api_keys import Scope
from frontdesk.storage.conversations import get_conversation
from frontdesk.types import Channel

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 404, 409, 413, 422, 429, 503)
}
router = APIRouter(prefix="/v1/channels", tags=["channels"], responses=ERRORS)
AUDIO_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in ("audio/wav", "audio/flac", "audio/mpeg", "audio/ogg", "audio/webm")
        },
    }
}


class TranscriptPublic(BaseModel):
    text: str
    language: str | None
    duration_s: float
    speech_s: float | None  # left after cutting silence
    transcription_ms: float


class VoiceReply(BaseModel):
    conversation_id: str
    transcript: TranscriptPublic
    reply: ReplyPublic


@router.post("/voice", response_model=VoiceReply, openapi_extra=AUDIO_BODY)
async def inbound_voice(
    request: Request,
    runtime: RuntimeDep,
    key: CurrentKey,
    limiter: LimiterDep,
    conversation_id: Annotated[
        str | None, Query(description="continue this conversation; default: start a new one")
    ] = None,
    idempotency_key: Annotated[str | None, Header(description=IDEMPOTENCY_DOC)] = None,
) -> VoiceReply | JSONResponse:
    """The audio file as the request body. 422 `invalid_audio` (empty or not audio),
    422 `no_speech`, 413 `audio_too_long` (`voice.max_seconds`) or `payload_too_large`
    (`server.max_upload_bytes`), 503 `voice_unavailable` (off, or the `voice` extra missing)
    or `voice_busy` (`voice.max_queue` messages already waiting; retry after Retry-After)."""
    require_scope(key, Scope.SERVICE, Scope.ADMIN)
    transcriber = runtime.transcriber
    if transcriber is None:
        raise VoiceUnavailableError("voice intake is off in this workspace (voice.enabled)")
    if conversation_id is not None:  # before spending a transcription on a wrong id
        async with runtime.db.session(key.tenant_id) as session:
            if await get_conversation(session, conversation_id) is None:
                raise NotFoundError(f"conversation {conversation_id} not found")
    audio = await request.body()
    delivery = caller_delivery(key, idempotency_key, "channels.voice", conversation_id,
                               hashlib.sha256(audio).hexdigest())  # fmt: skip

    async def answer() -> VoiceReply:
        transcript = await transcriber.transcribe(audio)
        reply = await take_turn(runtime, key, limiter, transcript.text,
                                conversation_id=conversation_id, channel=Channel.VOICE)  # fmt: skip
        return VoiceReply(
            conversation_id=reply.conversation_id,
            transcript=TranscriptPublic.model_validate(transcript.model_dump()),
            reply=public_reply(reply),
        )

    result, replayed = await once(runtime, key, delivery, answer, VoiceReply)
    if replayed:
        return JSONResponse(result.model_dump(mode="json"), headers=REPLAYED)
    return result
