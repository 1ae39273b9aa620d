"""Console sign-in: the storage layer's users and sessions, carried in an HttpOnly cookie.

Roles: `agent` works the queues; `admin` also sees dead letters and retrains models;
`operator` sees only the Operations pages (change plans to the target system). Every
form carries a CSRF token derived from the session (the cookie is also SameSite=Strict).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Form, Request

from frontdesk.errors import AuthenticationError, PermissionDeniedError
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.fields import StoredText
from frontdesk.storage.users import Role, VerifiedUser, verify_session

COOKIE = "frontdesk_console"


class LoginRequired(AuthenticationError):
    """A page needs a signed-in agent: the console redirects to the login page."""


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(runtime_of)]


def csrf_token(request: Request) -> str:
    token = request.cookies.get(COOKIE, "")
    return hmac.new(b"frontdesk-console-csrf", token.encode(), hashlib.sha256).hexdigest()[:32]


async def signed_in(request: Request, runtime: RuntimeDep) -> VerifiedUser:
    token = request.cookies.get(COOKIE)
    user = await verify_session(runtime.db, token) if token else None
    if user is None:
        raise LoginRequired("sign in to the console")
    if user.tenant_id != runtime.tenant.id:
        raise PermissionDeniedError("this console serves another tenant")
    return user


async def current_agent(user: Annotated[VerifiedUser, Depends(signed_in)]) -> VerifiedUser:
    if user.role is Role.OPERATOR:  # the agents' pages show conversations
        raise PermissionDeniedError("operators work the target system (the Operations "
                                    "page, /console/ops), not the agents' queues")  # fmt: skip
    return user


async def agent_reads(
    request: Request, user: Annotated[VerifiedUser, Depends(current_agent)]
) -> VerifiedUser:
    """The signed-in agent, after counting a page read against `limits.reads_per_key`. The
    budget is the one the same session has on the API (its id is the user's), so the console
    is no way around the API's read limit."""
    if request.method == "GET":
        await request.app.state.limiter.hit_read(user.id)
    return user


Agent = Annotated[VerifiedUser, Depends(agent_reads)]


async def require_admin(user: Agent) -> VerifiedUser:
    if user.role is not Role.ADMIN:
        raise PermissionDeniedError("this needs an admin; ask one to do it")
    return user


Admin = Annotated[VerifiedUser, Depends(require_admin)]


async def operator_reads(
    request: Request, user: Annotated[VerifiedUser, Depends(signed_in)]
) -> VerifiedUser:
    """A signed-in operator or admin (the Operations pages), after counting a page read."""
    if user.role not in (Role.OPERATOR, Role.ADMIN):
        raise PermissionDeniedError("this needs an operator or an admin")
    if request.method == "GET":
        await request.app.state.limiter.hit_read(user.id)
    return user


Operator = Annotated[VerifiedUser, Depends(operator_reads)]


async def check_csrf(request: Request, csrf: Annotated[StoredText, Form()] = "") -> None:
    sent = csrf or request.headers.get("X-CSRF-Token", "")
    if not hmac.compare_digest(sent, csrf_token(request)):
        raise PermissionDeniedError("the form is stale or not from this console; reload the page")


Csrf = Depends(check_csrf)
