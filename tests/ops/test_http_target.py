"""The HTTP target against a fake REST service on 127.0.0.1 (tests/ops/fake_target_service)."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from frontdesk.errors import FrontdeskError
from frontdesk.interfaces import TargetSystem
from frontdesk.ops.http_target import HttpTarget
from tests.ops import target_contract
from tests.ops.conftest import tree_bytes
from tests.ops.fake_target_service import TOKEN, serving


async def test_contract(target_dir: Path) -> None:
    before = tree_bytes(target_dir)
    async with serving(target_dir) as url, httpx.AsyncClient(timeout=10) as client:
        target = HttpTarget(url, client=client, token=TOKEN)
        assert isinstance(target, TargetSystem)
        await target_contract.check_reading(target)
        await target_contract.check_validation(target)
        await target_contract.check_apply_and_rollback(target)
        await target_contract.check_events_and_metrics(target)
    assert tree_bytes(target_dir) == before


async def test_errors_keep_their_codes(target_dir: Path) -> None:
    async with serving(target_dir) as url, httpx.AsyncClient(timeout=10) as client:
        wrong = HttpTarget(url, client=client, token="nope")
        with pytest.raises(FrontdeskError) as refused:
            await wrong.kinds()
        assert refused.value.code == "unauthorized"
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with httpx.AsyncClient(timeout=2) as client:
        gone = HttpTarget(f"http://127.0.0.1:{port}", client=client)
        with pytest.raises(FrontdeskError) as down:
            await gone.kinds()
    assert down.value.code == "target_unavailable"
    assert down.value.status_code == 503
