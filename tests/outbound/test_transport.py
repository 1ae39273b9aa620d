"""The guarded client connects to the address it checked, once resolved, hop by hop."""

from __future__ import annotations

import ssl
import typing

import httpcore
import httpx
import pytest

from frontdesk.outbound import AddressPolicy, AddressRefused, guarded_client, guarded_transport
from frontdesk.outbound.addresses import Resolver
from tests.outbound.loopback import loopback


def table_resolver(table: dict[str, list[list[str]]]) -> tuple[Resolver, list[str]]:
    """Each name answers its lists in turn (the last one again); `asked` records the names."""
    asked: list[str] = []

    async def resolve(host: str) -> list[str]:
        asked.append(host)
        answers = table[host]
        return answers[min(asked.count(host), len(answers)) - 1]

    return resolve, asked


class Handshake(httpcore.AsyncNetworkStream):
    """Records the name TLS would verify, and goes no further."""

    def __init__(self, names: list[str | None]) -> None:
        self.names = names

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        self.names.append(server_hostname)
        raise httpcore.ConnectError("no TLS in this test")


class Recording(httpcore.AsyncNetworkBackend):
    """Records where the client would connect; connects nowhere (or to a Handshake)."""

    def __init__(self, tls: bool = False) -> None:
        self.targets: list[str] = []
        self.tls_names: list[str | None] = []
        self.tls = tls

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.targets.append(host)
        if self.tls:
            return Handshake(self.tls_names)
        raise httpcore.ConnectError("no network in this test")


def ok(path: str) -> tuple[int, dict[str, str], bytes]:
    return 200, {}, b'{"status": "packed"}'


async def test_the_allowed_loopback_backend_is_reached_with_its_own_host_header() -> None:
    with loopback(ok) as server:
        resolve, asked = table_resolver({"orders.internal": [["127.0.0.1"]]})
        policy = AddressPolicy(["127.0.0.1/32"])
        async with guarded_client(policy, resolver=resolve) as client:
            response = await client.get(f"http://orders.internal:{server.port}/orders/1")
            again = await client.get(f"http://orders.internal:{server.port}/orders/2")
    assert response.json() == {"status": "packed"}
    assert again.status_code == 200
    assert server.hosts == [f"orders.internal:{server.port}"] * 2
    assert asked == ["orders.internal"] * 2  # one resolution per connection (HTTP/1.0 here)


async def test_loopback_is_refused_without_the_allow_list() -> None:
    with loopback(ok) as server:
        resolve, _ = table_resolver({"orders.internal": [["127.0.0.1"]]})
        async with guarded_client(AddressPolicy(), resolver=resolve) as client:
            for url in (f"http://orders.internal:{server.port}/", f"http://127.0.0.1:{server.port}/",
                        f"http://[::ffff:127.0.0.1]:{server.port}/"):  # fmt: skip
                with pytest.raises(AddressRefused, match="refusing"):
                    await client.get(url)
    assert server.hosts == []


async def test_a_rebinding_name_never_reaches_loopback() -> None:
    """The check and the connection share one answer: a resolver that says public first and
    127.0.0.1 the second time is asked once, and the socket goes to the public address."""
    with loopback(ok) as server:
        resolve, asked = table_resolver({"rebind.example": [["93.184.216.34"], ["127.0.0.1"]]})
        inner = Recording()
        transport = guarded_transport(AddressPolicy(), resolver=resolve, inner=inner)
        async with httpx.AsyncClient(transport=transport) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://rebind.example:{server.port}/")
    assert asked == ["rebind.example"]
    assert inner.targets == ["93.184.216.34"]
    assert server.hosts == []


async def test_tls_verifies_the_name_in_the_url_on_the_pinned_address() -> None:
    resolve, _ = table_resolver({"shop.example": [["93.184.216.34"]]})
    inner = Recording(tls=True)
    transport = guarded_transport(AddressPolicy(), resolver=resolve, inner=inner)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("https://shop.example/orders")
    assert inner.targets == ["93.184.216.34"]
    assert inner.tls_names == ["shop.example"]  # SNI and certificate check: the name


async def test_each_redirect_hop_is_checked() -> None:
    def redirect(path: str) -> tuple[int, dict[str, str], bytes]:
        if path == "/metadata":
            return 302, {"Location": "http://metadata.example/latest/meta-data/"}, b""
        if path == "/other-loopback":
            return 302, {"Location": f"http://127.0.0.2:{server.port}/"}, b""
        return 302, {"Location": "/final"} if path == "/" else {}, b"{}"

    with loopback(redirect) as server:
        resolve, asked = table_resolver(
            {"hooks.internal": [["127.0.0.1"]], "metadata.example": [["169.254.169.254"]]}
        )
        policy = AddressPolicy(["127.0.0.1/32"])
        async with guarded_client(policy, resolver=resolve, follow_redirects=True) as client:
            followed = await client.get(f"http://hooks.internal:{server.port}/")
            assert followed.url.path == "/final"  # an allowed hop is followed
            with pytest.raises(AddressRefused, match=r"169\.254\.169\.254"):
                await client.get(f"http://hooks.internal:{server.port}/metadata")
            with pytest.raises(AddressRefused, match=r"127\.0\.0\.2"):
                await client.get(f"http://hooks.internal:{server.port}/other-loopback")
    assert "metadata.example" in asked
    assert len(server.hosts) == 4  # "/", "/final", "/metadata", "/other-loopback"; no more


async def test_an_unknown_name_is_a_connection_error() -> None:
    async def nowhere(host: str) -> list[str]:
        raise OSError("Name or service not known")

    async with guarded_client(AddressPolicy(), resolver=nowhere) as client:
        with pytest.raises(httpx.ConnectError, match="cannot resolve"):
            await client.get("http://nowhere.example/")


async def test_proxies_from_the_environment_are_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy would resolve the name itself, out of the policy's sight."""
    with loopback(ok) as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{proxy.port}")
        resolve, _ = table_resolver({"metadata.example": [["169.254.169.254"]]})
        async with guarded_client(AddressPolicy(), resolver=resolve) as client:
            with pytest.raises(AddressRefused):
                await client.get("http://metadata.example/")
    assert proxy.hosts == []
