"""Request dependencies as `Annotated` aliases: the runtime, the caller's API key (with its
read budget counted), the limiter, the key checked against one conversation."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from frontdesk.api.limits import Limiter
from frontdesk.errors import AuthenticationError, PermissionDeniedError
from frontdesk.jobs import JobRunner
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.api_keys import Scope, VerifiedKey, verify_key
from frontdesk.storage.conversations import get_conversation, holds_visitor_token
from frontdesk.storage.users import SESSION_PREFIX, Role, verify_session


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_jobs(request: Request) -> JobRunner:
    jobs: JobRunner = request.app.state.jobs
    return jobs


JobsDep = Annotated[JobRunner, Depends(get_jobs)]


async def require_key(
    runtime: RuntimeDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> VerifiedKey:
    token = x_api_key
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthenticationError("use 'Authorization: Bearer <api key>'")
        token = value.strip()
    if not token:
        raise AuthenticationError(
            "an API key is required: send 'Authorization: Bearer <key>' "
            "(create one with `frontdesk keys create`)"
        )
    if token.startswith(f"{SESSION_PREFIX}_"):
        user = await verify_session(runtime.db, token)
        if user is None:
            raise AuthenticationError("the session has expired or was ended; sign in again")
        scope = {Role.ADMIN: Scope.ADMIN, Role.OPERATOR: Scope.OPERATOR}.get(
            user.role, Scope.SERVICE
        )
        return VerifiedKey(user.id, user.tenant_id, scope, user.email, "user", user.tenant_slug)
    key = await verify_key(runtime.db, token)
    if key is None:
        raise AuthenticationError("the API key is not valid or has been revoked")
    return key


def client_address(request: Request) -> str:
    """The caller's address as uvicorn reports it (X-Forwarded-For is taken only from
    FORWARDED_ALLOW_IPS, by default 127.0.0.1: a proxy on this machine)."""
    return request.client.host if request.client else "unknown"


def get_limiter(request: Request) -> Limiter:
    limiter: Limiter = request.app.state.limiter
    return limiter


LimiterDep = Annotated[Limiter, Depends(get_limiter)]
READ_METHODS = frozenset({"GET", "HEAD"})


async def limit_reads(
    request: Request, key: Annotated[VerifiedKey, Depends(require_key)], limiter: LimiterDep
) -> VerifiedKey:
    """The caller's key, after counting a read (GET) against `limits.reads_per_key`. It is
    part of `CurrentKey`, so no authenticated route can leave it out. A widget key is public
    and shared by every visitor of the web page: its reads are counted per conversation, so
    one visitor cannot use up the polling of all the others."""
    if request.method in READ_METHODS:
        ident = key.id
        if key.scope is Scope.WIDGET:
            ident = f"{key.id}:{request.path_params.get('conversation_id', '')}"
        await limiter.hit_read(ident)
    return key


CurrentKey = Annotated[VerifiedKey, Depends(limit_reads)]


_NOT_CONVERSATIONS = (
    "an operator works the target system (/v1/ops), not conversations; ask an agent or admin"
)


async def limit_visitor(request: Request, key: CurrentKey, limiter: LimiterDep) -> VerifiedKey:
    """The caller's key, after counting a write by a public widget key against its visitor's
    budget (`limits.per_visitor`, by client address): `per_key` is one budget for everyone
    on the web page, and one visitor must not be able to use it up for the rest."""
    if key.scope is Scope.OPERATOR:
        raise PermissionDeniedError(_NOT_CONVERSATIONS)
    if key.scope is Scope.WIDGET:
        await limiter.hit_visitor(key.id, client_address(request))
    return key


# Routes that write for a customer (new conversations, messages) take the key through this.
VisitorKey = Annotated[VerifiedKey, Depends(limit_visitor)]


CONVERSATION_TOKEN_DOC = (
    "The conversation's own secret, returned once as `conversation_token` when it was "
    "started: required with a widget key (public), ignored for service and admin keys."
)
ConversationToken = Annotated[
    str | None, Header(alias="X-Conversation-Token", description=CONVERSATION_TOKEN_DOC)
]


async def check_visitor(
    runtime: Runtime, key: VerifiedKey, conversation_id: str, token: str | None
) -> None:
    """A widget key is public and shared by every visitor of the page: it reaches a
    conversation only with that conversation's token, so knowing an id (ids leak, e.g.
    through e-mail Message-IDs) is not enough. Service and admin keys reach all of their
    tenant's conversations; operators none."""
    if key.scope is Scope.OPERATOR:
        raise PermissionDeniedError(_NOT_CONVERSATIONS)
    if key.scope is not Scope.WIDGET:
        return
    if not token:
        raise PermissionDeniedError(
            "a widget key needs the conversation's token: send the `conversation_token` "
            "returned by POST /v1/conversations as the X-Conversation-Token header",
            code="conversation_token_required",
        )
    async with runtime.db.session(key.tenant_id) as session:
        conversation = await get_conversation(session, conversation_id)
    # One answer for "no such conversation" and "not yours": a visitor learns nothing.
    if conversation is None or not holds_visitor_token(conversation, token):
        raise PermissionDeniedError(
            f"the X-Conversation-Token is not the token of conversation {conversation_id}",
            code="conversation_token_invalid",
        )


async def conversation_reader(
    conversation_id: str, runtime: RuntimeDep, key: CurrentKey, token: ConversationToken = None
) -> VerifiedKey:
    await check_visitor(runtime, key, conversation_id, token)
    return key


async def conversation_writer(
    conversation_id: str, runtime: RuntimeDep, key: VisitorKey, token: ConversationToken = None
) -> VerifiedKey:
    # After the visitor's write budget is counted: guessing tokens costs budget too.
    await check_visitor(runtime, key, conversation_id, token)
    return key


# Routes that read or write one conversation take the key through these.
ConversationReader = Annotated[VerifiedKey, Depends(conversation_reader)]
ConversationWriter = Annotated[VerifiedKey, Depends(conversation_writer)]


def require_admin(key: CurrentKey) -> VerifiedKey:
    require_scope(key, Scope.ADMIN)
    return key


AdminKey = Annotated[VerifiedKey, Depends(require_admin)]


def require_workspace_admin(key: AdminKey, runtime: RuntimeDep) -> VerifiedKey:
    """The intent model is the workspace's, served to every tenant and trained on its own
    tenant's corrections: only that tenant's admins may see its versions or change it (as
    only they may use the console)."""
    if key.tenant_id != runtime.tenant.id:
        raise PermissionDeniedError(
            "the intent model belongs to the workspace: only admins of its own tenant "
            f"({runtime.tenant.name!r}) can see or change it",
            code="workspace_tenant_only",
        )
    return key


WorkspaceAdminKey = Annotated[VerifiedKey, Depends(require_workspace_admin)]


def require_operator(key: CurrentKey) -> VerifiedKey:
    """The operations assistant's routes: operators and admins."""
    require_scope(key, Scope.OPERATOR, Scope.ADMIN)
    return key


OperatorKey = Annotated[VerifiedKey, Depends(require_operator)]


def require_scope(key: VerifiedKey, *allowed: Scope) -> None:
    if key.scope not in allowed:
        names = ", ".join(s.value for s in allowed)
        raise PermissionDeniedError(f"this needs a key with scope {names}; yours is {key.scope}")
