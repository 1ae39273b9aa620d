"""An httpx client that connects only where the address policy allows, to the address it
checked.

The check lives in the connection itself (an httpcore network backend): the host is resolved
once, every address is checked, and the socket is opened to a checked address. TLS still
verifies the certificate for the host name in the URL (SNI) and the Host header is unchanged,
so nothing else about the request differs. A DNS server that answers differently the second
time (DNS rebinding) gets no second question, and every redirect hop is a new connection, so
it is checked the same way. Proxies from the environment (HTTP_PROXY...) are not used: a proxy
would resolve the name itself.
"""

from __future__ import annotations

import functools
import importlib
import ssl
import typing
from types import ModuleType

import httpcore
import httpx

from frontdesk.outbound.addresses import AddressPolicy, AddressRefused, Resolver, resolve


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """`core`: the httpcore this backend serves (httpcore, or httpcore2 under the model SDKs'
    httpx2): its connection errors and its default backend."""

    def __init__(
        self,
        policy: AddressPolicy,
        resolver: Resolver = resolve,
        inner: typing.Any = None,
        *,
        core: ModuleType = httpcore,
    ) -> None:
        self.policy = policy
        self.resolver = resolver
        self.inner = inner or core.AnyIOBackend()
        self.connect_error: type[Exception] = core.ConnectError
        self.retried: tuple[type[Exception], ...] = (core.ConnectError, core.ConnectTimeout)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> typing.Any:  # the inner backend's stream
        try:
            addresses = await self.policy.addresses(host, self.resolver)
        except AddressRefused:
            raise
        except OSError as exc:  # the name does not resolve: a failed connection, as before
            raise self.connect_error(f"cannot resolve {host}: {exc}") from exc
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except self.retried as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("outbound calls do not use Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """Certificate verification with certifi's roots, loaded once (it takes ~0.2 s)."""
    return httpx.create_ssl_context(trust_env=False)


def guarded_transport(
    policy: AddressPolicy,
    *,
    resolver: Resolver = resolve,
    inner: httpcore.AsyncNetworkBackend | None = None,
) -> httpx.AsyncHTTPTransport:
    context = _ssl_context()
    transport = httpx.AsyncHTTPTransport(verify=context, trust_env=False)
    # httpx has no argument for the network backend; its pool (httpcore's) does.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=context,
        max_connections=100,
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
        network_backend=PinnedBackend(policy, resolver, inner),
    )
    return transport


def guarded_client(
    policy: AddressPolicy,
    *,
    resolver: Resolver = resolve,
    timeout: float = 10.0,
    follow_redirects: bool = False,
) -> httpx.AsyncClient:
    """A client for calls frontdesk makes on its own (tools, webhooks, channel replies)."""
    return httpx.AsyncClient(
        transport=guarded_transport(policy, resolver=resolver),
        timeout=timeout,
        follow_redirects=follow_redirects,
        trust_env=False,
    )


def pinned_sdk_transport(
    client_type: type, policy: AddressPolicy, *, resolver: Resolver = resolve
) -> typing.Any:
    """A transport for `client_type`, a model SDK's client class (an `httpx.AsyncClient` or
    `httpx2.AsyncClient` subclass), that connects through `PinnedBackend`. Certificates are
    verified as the SDK would (certifi, or SSL_CERT_FILE / SSL_CERT_DIR when set)."""
    package = next(
        base.__module__.split(".")[0]
        for base in client_type.__mro__
        if base.__name__ == "AsyncClient" and base.__module__.split(".")[0] in {"httpx", "httpx2"}
    )
    http = importlib.import_module(package)
    core = importlib.import_module(package.replace("httpx", "httpcore"))
    context = http.create_ssl_context(trust_env=True)
    transport = http.AsyncHTTPTransport(verify=context, trust_env=False)
    # As guarded_transport: the pool (httpcore's) takes the network backend, httpx does not.
    transport._pool = core.AsyncConnectionPool(
        ssl_context=context,
        max_connections=100,
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
        network_backend=PinnedBackend(policy, resolver, core=core),
    )
    return transport
