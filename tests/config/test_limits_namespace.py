"""`limits.namespace`: what one installation's keys and channels in a shared Redis start
with; by default derived from the database URL, whatever its password."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from frontdesk.config.settings import LimitsSettings

URL = "postgresql+asyncpg://frontdesk:{}@db.internal:5432/frontdesk"


def test_the_default_namespace_is_the_database_url_s() -> None:
    limits = LimitsSettings()
    first = limits.redis_namespace(URL.format("old-secret"))
    assert first == limits.redis_namespace(URL.format("rotated"))  # the password is not in it
    assert first.startswith("db-")
    assert "secret" not in first
    assert first != limits.redis_namespace(URL.format("x").replace("/frontdesk", "/staging"))
    sqlite = [limits.redis_namespace(f"sqlite+aiosqlite:////srv/{n}/frontdesk.db")
              for n in ("a", "b")]  # fmt: skip
    assert sqlite[0] != sqlite[1]


def test_a_namespace_set_is_used_as_written() -> None:
    assert LimitsSettings(namespace="shop-prod").redis_namespace(URL) == "shop-prod"
    with pytest.raises(ValidationError):
        LimitsSettings(namespace="shop*")  # a pattern character: channels are subscribed by one
