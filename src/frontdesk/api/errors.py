"""Every error is JSON `{"error": {"code", "message"}}` with a stable code. Never a bare 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from frontdesk.errors import FrontdeskError

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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FrontdeskError)
    async def _frontdesk(_request: Request, exc: FrontdeskError) -> JSONResponse:
        status = exc.status_code
        if status >= 500:
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
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "an unexpected error occurred; it was logged")
