"""Every error is JSON `{"error": {"code", "message"}}` with a stable code. Never a bare 500."""

from __future__ import annotations

import logging
import sqlite3

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from frontdesk.errors import FrontdeskError, StorageUnavailableError
from frontdesk.storage import outage

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}
# Validation errors with a code of their own (the first such error of a request names it):
# characters no database column keeps (NUL; unpaired surrogates, which the JSON parser
# refuses itself), and strings longer than their column.
_VALIDATION_CODES = {
    "invalid_characters": "invalid_characters",
    "string_unicode": "invalid_characters",
    "string_too_long": "value_too_long",
    "too_long": "value_too_long",  # a length after another validator (form fields)
}


def error_response(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers or None
    )


def _outage_of(request: Request) -> outage.Outage | None:
    runtime = getattr(request.app.state, "runtime", None)
    return getattr(getattr(runtime, "db", None), "outage", None)


def _unavailable(request: Request, exc: BaseException) -> str | None:
    """Why the database cannot be used, if that is what `exc` is (noted: the outage's one
    log line), else None."""
    tracker = _outage_of(request)
    if tracker is not None:
        return tracker.failed(exc)
    return outage.cause(exc) or (type(exc).__name__ if outage.is_unavailable(exc) else None)


def _storage_unavailable(words: str) -> JSONResponse:
    return error_response(
        503,
        StorageUnavailableError.code,
        f"the database is unavailable ({words}); retry in a moment",
        **{"Retry-After": str(outage.RETRY_AFTER_S)},
    )


# Errors the database driver raises when it is gone (or SQLAlchemy's wrappers of them):
# handled inside the app, so they are answered 503 and not re-raised to the server's log.
_DRIVER_ERRORS: list[type[Exception]] = [SQLAlchemyError, sqlite3.Error, OSError]
try:
    import asyncpg  # type: ignore[import-untyped]

    _DRIVER_ERRORS += [asyncpg.PostgresError, asyncpg.InterfaceError]
except ImportError:  # the postgres extra is not installed
    pass


def install_error_handlers(app: FastAPI) -> None:
    async def _driver(request: Request, exc: Exception) -> JSONResponse:
        words = _unavailable(request, exc)
        if words is not None:
            return _storage_unavailable(words)
        log.error("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "an unexpected error occurred; it was logged")

    for error in _DRIVER_ERRORS:
        app.add_exception_handler(error, _driver)

    @app.exception_handler(FrontdeskError)
    async def _frontdesk(request: Request, exc: FrontdeskError) -> JSONResponse:
        status = exc.status_code
        # A lost database is logged once per outage (storage/outage.py), not per request.
        if status >= 500 and not (
            isinstance(exc, StorageUnavailableError) and _unavailable(request, exc)
        ):
            log.error("request failed: %s (%s)", exc.code, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        return error_response(status, exc.code, exc.message, **headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "malformed_json", "the request body is not valid JSON")
        parts = []
        for error in errors[:5]:
            loc = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
            parts.append(f"{loc}: {error.get('msg', 'invalid')}")
        codes = [_VALIDATION_CODES.get(str(e.get("type"))) for e in errors]
        code = next((c for c in codes if c is not None), "invalid_request")
        return error_response(422, code, "; ".join(parts))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404 and message == "Not Found":
            message = "no such route; see /docs for the API"
        return error_response(exc.status_code, code, message, **(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        words = _unavailable(request, exc)  # e.g. raised in a middleware
        if words is not None:
            return _storage_unavailable(words)
        log.exception("unhandled error")
        return error_response(500, "internal_error", "an unexpected error occurred; it was logged")
