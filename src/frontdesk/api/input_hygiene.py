"""Input that storage cannot keep is refused at the edge with 422, on every route, so it never
reaches the database as a 500 (PostgreSQL refuses NUL characters and over-long strings):

- `UrlHygiene`: a NUL anywhere in the path or the query string is 422 `invalid_characters`
  (every route, the console and static files included);
- `params_fit_columns`: a path or query parameter longer than the column it names (ids,
  customer refs, tenant slugs; `PARAM_COLUMNS`) is 422 `value_too_long`;
- `RequestBody`: the base of every JSON body; no string in it may hold a NUL or an unpaired
  surrogate (422 `invalid_characters`); fields stored in a column take its length with
  `storage.fields.column_text` (422 `value_too_long`).

Channel intake, whose senders cannot be told, cleans instead (`storage.fields.scrub`, `fit`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import Request
from pydantic import BaseModel, field_validator
from sqlalchemy.orm import InstrumentedAttribute
from starlette.types import ASGIApp, Receive, Scope, Send

from frontdesk.api.errors import error_response
from frontdesk.errors import InvalidRequestError
from frontdesk.storage.fields import INVALID_CHARACTERS, check_storable, column_length, unstorable
from frontdesk.storage.models import ApiKey, Conversation, Document, Job, Tenant, Ticket, Turn
from frontdesk.storage.ops_models import ChangePlan
from frontdesk.storage.security_models import User
from frontdesk.storage.support_models import ToolCallRecord, TrainingExample, WebhookDelivery

# Every path parameter of every route, with the column its value is looked up in (a test
# fails for a route whose parameter is missing here). None: never stored nor looked up.
PARAM_COLUMNS: dict[str, InstrumentedAttribute[Any] | None] = {
    "conversation_id": Conversation.id,
    "job_id": Job.id,
    "customer_ref": Conversation.customer_ref,
    "document_id": Document.id,
    "ticket_id": Ticket.id,
    "turn_id": Turn.id,
    "call_id": ToolCallRecord.id,
    "delivery_id": WebhookDelivery.id,
    "tenant": Tenant.slug,
    "correction_id": TrainingExample.id,
    "user_id": User.id,
    "key_id": ApiKey.id,  # the id, or the shorter prefix
    "decision": None,  # approve | reject
    "change": None,  # disable | enable
    "version": None,  # a model version's name, looked up in the model store's folder
    "plan_id": ChangePlan.id,
}


class UrlHygiene:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            where = _nul_in_url(scope)
            if where is not None:
                message = f"the {where} contains a NUL character (U+0000); remove it"
                await error_response(422, INVALID_CHARACTERS, message)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _nul_in_url(scope: Scope) -> str | None:
    if unstorable(scope.get("path", "")) is not None:
        return "URL path"
    if b"\x00" in unquote_to_bytes(scope.get("query_string", b"")):
        return "query string"
    return None


async def params_fit_columns(request: Request) -> None:
    """An app-wide dependency: a parameter longer than its column is 422, not a lookup."""
    for source in (request.path_params.items(), request.query_params.multi_items()):
        for name, value in source:
            column = PARAM_COLUMNS.get(name)
            if column is not None and len(value) > (limit := column_length(column)):
                raise InvalidRequestError(
                    f"{name} is {len(value)} characters; at most {limit}", code="value_too_long"
                )


class RequestBody(BaseModel):
    """The base of every JSON request body: no string in it (in lists and mappings too) holds
    a character storage cannot keep. Nested models are checked as RequestBody themselves."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        _check(value)
        return value


def _check(value: Any) -> None:
    if isinstance(value, str):
        check_storable(value)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _check(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key)
            _check(item)
