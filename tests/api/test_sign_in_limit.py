"""Sign-in attempts have a budget of their own per account (`limits.sign_ins_per_account`,
10/minute), shared by the API and the console, apart from the API keys' message budget."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from frontdesk.api.app import create_app
from frontdesk.config.settings import LimitsSettings
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.users import Role, create_user

PASSWORD = "correct horse battery"


@pytest.fixture
async def client(sqlite_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=sqlite_runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


def test_the_default_is_tighter_than_the_message_budget() -> None:
    assert LimitsSettings().sign_ins_per_account == "10/minute"


async def test_guesses_are_limited_per_account(
    client: httpx.AsyncClient, sqlite_runtime: Runtime
) -> None:
    runtime = sqlite_runtime
    await create_user(
        runtime.db, runtime.tenant.id, email="ana@kestrel.test", password=PASSWORD, role=Role.AGENT
    )
    guess = {"tenant": runtime.settings.tenant, "email": "Ana@Kestrel.test", "password": "x"}
    for _ in range(5):  # API and console count together
        assert (await client.post("/v1/auth/login", json=guess)).status_code == 401
        form = {"email": "ana@kestrel.test ", "password": "x"}
        assert (await client.post("/console/login", data=form)).status_code == 401
    limited = await client.post("/v1/auth/login", json={**guess, "password": PASSWORD})
    assert limited.status_code == 429
    error = limited.json()["error"]
    assert error["code"] == "rate_limited"
    assert (
        "too many sign-in attempts for this account: the limit is 10 per 1 minute"
        in (error["message"])
    )
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    other = {**guess, "email": "bo@kestrel.test"}  # another account has its own budget
    assert (await client.post("/v1/auth/login", json=other)).status_code == 401
