"""Sign-in attempts have a budget of their own per account and address
(`limits.sign_ins_per_account`, 10/minute), shared by the API and the console, apart from the
API keys' message budget, and one per account from every address together
(`sign_ins_per_account_total`, 60/minute)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from frontdesk.api.app import create_app
from frontdesk.config.settings import LimitsSettings
from frontdesk.orchestration.runtime import Runtime
from frontdesk.storage.users import Role, create_user
from tests.api.conftest import Client

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
        "too many sign-in attempts for this account from your address: the limit is 10 per 1 "
        "minute" in (error["message"])
    )
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    other = {**guess, "email": "bo@kestrel.test"}  # another account has its own budget
    assert (await client.post("/v1/auth/login", json=other)).status_code == 401


@pytest.fixture
def total_of_fourteen(sqlite_runtime: Runtime) -> None:
    # Requested before `clients`, so the app starts with it.
    sqlite_runtime.settings.limits.sign_ins_per_account_total = "14/minute"


async def test_guesses_from_one_address_do_not_lock_the_agent_out_elsewhere(
    total_of_fourteen: None, clients: Client, sqlite_runtime: Runtime
) -> None:
    runtime = sqlite_runtime
    await create_user(
        runtime.db, runtime.tenant.id, email="ana@kestrel.test", password=PASSWORD, role=Role.AGENT
    )
    guess = {"tenant": runtime.settings.tenant, "email": "ana@kestrel.test", "password": "x"}
    async with clients("203.0.113.9") as attacker, clients("192.0.2.44") as ana:
        for _ in range(10):
            assert (await attacker.post("/v1/auth/login", json=guess)).status_code == 401
        assert (await attacker.post("/v1/auth/login", json=guess)).status_code == 429
        signed_in = await ana.post("/v1/auth/login", json={**guess, "password": PASSWORD})
        assert signed_in.status_code == 200  # Ana, at her own address, still gets in
        # Guessing from many addresses meets the account's cap over all of them (14 here).
        for n in range(3):
            async with clients(f"198.51.100.{n}") as other:
                assert (await other.post("/v1/auth/login", json=guess)).status_code == 401
        capped = await ana.post("/v1/auth/login", json={**guess, "password": PASSWORD})
        assert capped.status_code == 429
        assert (
            "sign-in attempts for this account: the limit is 14"
            in (capped.json()["error"]["message"])
        )
