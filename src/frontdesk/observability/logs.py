"""Log helpers. Message text never goes into logs: only a short fingerprint of it. Access
logs name no customer: identifiers in URLs become pseudonyms (`scrub_access_log`), keyed with
the installation's secret (`pseudonym_key`)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from pathlib import Path
from urllib.parse import unquote


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def configure(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=False
    )


# Until the app installs its workspace's key: a key of this process alone (pseudonyms then
# change at restart, but are never a plain hash of the value).
_pseudonym_key = secrets.token_bytes(32)


def use_pseudonym_key(key: bytes) -> None:
    global _pseudonym_key  # one per process: logging filters are built by dictConfig, argless
    _pseudonym_key = key


def pseudonym_key(state_dir: Path) -> bytes:
    """The installation's pseudonym key, `log-key` in the state folder: 256 random bits made
    once, owner-only. Written whole under another name and linked into place, so two
    processes starting together read one key, never a half-written one."""
    path = state_dir / "log-key"
    if not path.exists():
        draft = state_dir / f".log-key-{secrets.token_hex(8)}"
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(secrets.token_hex(32) + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process was first: its key is the one
        finally:
            draft.unlink()
    return bytes.fromhex(path.read_text().strip())


def pseudonym(value: str) -> str:
    """What a log line says instead of an identifier: the same value gives the same mark (a
    log can be searched for a known conversation: `pseudonym` with the installation's key),
    but the value cannot be read back, nor found by hashing guesses without the key."""
    return "~" + hmac.new(_pseudonym_key, value.encode(), hashlib.sha256).hexdigest()[:12]


# Parts of a URL that name a person or their conversation: the customer ref of the privacy
# routes, conversation ids (knowing one is the widget's access to it), e-mail addresses.
_NAMED = re.compile(r"(/(?:customers|conversations)/)([^/?#]+)")
_QUERY_NAMED = re.compile(r"([?&](?:conversation_id|customer_ref|customer|email)=)([^&#]*)", re.I)
_EMAIL_LIKE = re.compile(r"[^/?&=#\s]*(?:@|%40)[^/?&=#\s]*")


def scrub_url(path: str) -> str:
    """A request path as an access log may show it: identifiers replaced by pseudonyms."""
    path = _NAMED.sub(lambda m: m.group(1) + pseudonym(unquote(m.group(2))), path)
    path = _QUERY_NAMED.sub(lambda m: m.group(1) + pseudonym(unquote(m.group(2))), path)
    return _EMAIL_LIKE.sub(lambda m: pseudonym(unquote(m.group(0))), path)


class AccessLogFilter(logging.Filter):
    """uvicorn's access lines (`'%s - "%s %s HTTP/%s" %d'`, the path third) without the
    identifiers a URL may carry."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], scrub_url(args[2]), *args[3:])
        return True


def scrub_access_log(logger: logging.Logger | None = None) -> None:
    """Install the filter on uvicorn's access logger (once), however uvicorn was started."""
    target = logger or logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessLogFilter) for f in target.filters):
        target.addFilter(AccessLogFilter())
