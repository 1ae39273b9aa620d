"""Access logs name no customer: ids and addresses in request URLs become pseudonyms, under
`frontdesk serve` (its logging configuration) and however else uvicorn runs the app."""

from __future__ import annotations

import io
import logging
import logging.config
from pathlib import Path

import pytest

from frontdesk.observability.logs import AccessLogFilter, pseudonym, scrub_url, use_pseudonym_key

CONVERSATION = "0123456789abcdef0123456789abcdef"
# Pseudonyms are keyed (an app's lifespan installs its workspace's key): one fixed key here,
# for the expected values below (made at collection) and each test (other tests change it).
KEY = b"access-log-test-key-32-bytes...."
use_pseudonym_key(KEY)


@pytest.fixture(autouse=True)
def _fixed_key() -> None:
    use_pseudonym_key(KEY)


@pytest.mark.parametrize(
    ("path", "scrubbed"),
    [
        ("/v1/admin/customers/dana%40example.com/export",
         f"/v1/admin/customers/{pseudonym('dana@example.com')}/export"),
        ("/v1/admin/customers/CU-123456", f"/v1/admin/customers/{pseudonym('CU-123456')}"),
        (f"/v1/conversations/{CONVERSATION}/messages?stream=true",
         f"/v1/conversations/{pseudonym(CONVERSATION)}/messages?stream=true"),
        (f"/console/conversations/{CONVERSATION}",
         f"/console/conversations/{pseudonym(CONVERSATION)}"),
        (f"/v1/channels/voice?conversation_id={CONVERSATION}&lang=en",
         f"/v1/channels/voice?conversation_id={pseudonym(CONVERSATION)}&lang=en"),
        ("/v1/anything?to=jo@example.com", f"/v1/anything?to={pseudonym('jo@example.com')}"),
        ("/v1/conversations", "/v1/conversations"),
        ("/healthz", "/healthz"),
        ("/v1/knowledge/search?q=refund&limit=5", "/v1/knowledge/search?q=refund&limit=5"),
    ],
)  # fmt: skip
def test_identifiers_in_urls_become_pseudonyms(path: str, scrubbed: str) -> None:
    assert scrub_url(path) == scrubbed


def _access_line(logger: logging.Logger, path: str) -> None:
    """What uvicorn's h11/httptools protocols log for a request."""
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "DELETE", path, "1.1", 204)


def test_serve_logging_configuration_scrubs_access_lines() -> None:
    from frontdesk.cli.main import _log_config

    config = _log_config()
    stream = io.StringIO()
    config["handlers"]["access"] = {**config["handlers"]["access"], "stream": stream}
    config["loggers"] = {"test.access": {**config["loggers"]["uvicorn.access"]}}
    config["loggers"]["test.access"]["propagate"] = False
    config["disable_existing_loggers"] = False
    logging.config.dictConfig(config)
    logger = logging.getLogger("test.access")
    try:
        _access_line(logger, "/v1/admin/customers/dana%40example.com")
    finally:
        logger.handlers.clear()
    line = stream.getvalue()
    assert "dana" not in line
    assert pseudonym("dana@example.com") in line
    assert '"DELETE /v1/admin/customers/~' in line
    assert "204" in line


def test_the_app_scrubs_uvicorns_access_logger_however_it_is_run(tmp_path: Path) -> None:
    from frontdesk.api.app import create_app

    access = logging.getLogger("uvicorn.access")
    access.filters = [f for f in access.filters if not isinstance(f, AccessLogFilter)]
    create_app(tmp_path)  # cheap: the workspace opens in the lifespan
    create_app(tmp_path)
    assert sum(isinstance(f, AccessLogFilter) for f in access.filters) == 1
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        _access_line(access, f"/v1/conversations/{CONVERSATION}/updates")
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    assert (
        records[0]
        .getMessage()
        .endswith(f'"DELETE /v1/conversations/{pseudonym(CONVERSATION)}/updates HTTP/1.1" 204')
    )
