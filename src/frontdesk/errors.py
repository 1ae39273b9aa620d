"""One error family. Every user-facing failure says what was wrong and what to do.

`code` is stable (API clients switch on it); `status_code` is the HTTP status the API uses.
"""

from __future__ import annotations


class FrontdeskError(Exception):
    code = "frontdesk_error"
    status_code = 500

    def __init__(
        self, message: str, *, code: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if retry_after is not None:  # seconds, sent as Retry-After
            self.retry_after = retry_after


class ConfigError(FrontdeskError):
    """The workspace or settings are wrong; the message names the file, field and expectation."""

    code = "invalid_config"


class UnknownComponentError(ConfigError):
    code = "unknown_component"

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        listed = ", ".join(sorted(known)) or "(none registered)"
        super().__init__(f"unknown {kind} {name!r}; known {kind}s: {listed}")
        self.kind = kind
        self.name = name
        self.known = sorted(known)


class InvalidRequestError(FrontdeskError):
    code = "invalid_request"
    status_code = 422


class NotFoundError(FrontdeskError):
    code = "not_found"
    status_code = 404


class AuthenticationError(FrontdeskError):
    code = "unauthorized"
    status_code = 401


class PermissionDeniedError(FrontdeskError):
    code = "forbidden"
    status_code = 403


class PayloadTooLargeError(FrontdeskError):
    code = "payload_too_large"
    status_code = 413


class ConflictError(FrontdeskError):
    code = "conflict"
    status_code = 409


class TenantScopeError(FrontdeskError):
    """A query touched tenant data without a tenant: a programming error, never user input."""

    code = "tenant_scope_violation"


class StorageUnavailableError(FrontdeskError):
    code = "storage_unavailable"
    status_code = 503
    retry_after = 5  # seconds, sent as Retry-After


class ShuttingDownError(FrontdeskError):
    """The server was told to stop while this request ran, and it ran past the grace period."""

    code = "shutting_down"
    status_code = 503
    retry_after = 5  # seconds, sent as Retry-After


class ModelNotTrainedError(FrontdeskError):
    code = "model_not_trained"
    status_code = 503


def install_extra(extra: str) -> str:
    """How to install one of frontdesk's optional extras, as this copy of frontdesk needs it:
    from a clone (the package runs from its source tree, as `make run` installs it) the
    editable install into the project's .venv, otherwise pip's form for the package."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "src" / "frontdesk").is_dir():
        return f".venv/bin/uv pip install -e '.[{extra}]' (in {root})"
    return f"pip install 'frontdesk[{extra}]'"
