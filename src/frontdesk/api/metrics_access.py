"""Who may scrape `/metrics` (settings: `observability`).

A token, once set, is required from every client. Without one the endpoint answers only
clients inside `metrics_networks` (loopback by default) that reached the server directly:
a request carrying a proxy's forwarding headers came from somewhere else, even when the
proxy itself runs on this machine.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated

from fastapi import Depends, Header, Request

from frontdesk.config.observability_settings import ObservabilitySettings
from frontdesk.errors import AuthenticationError, PermissionDeniedError

FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def _in_networks(host: str | None, networks: list[str]) -> bool:
    if host is None:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # not an address (a Unix socket, a test client's name)
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)


def check_metrics_access(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> None:
    settings: ObservabilitySettings = request.app.state.runtime.settings.observability
    token = settings.token()
    if token is not None:
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode(), token.encode()
        ):
            raise AuthenticationError(
                "/metrics needs 'Authorization: Bearer <observability.metrics_token>'",
                code="metrics_unauthorized",
            )
        return
    client = request.client.host if request.client else None
    forwarded = any(h in request.headers for h in FORWARDING_HEADERS)
    if forwarded or not _in_networks(client, settings.metrics_networks):
        raise PermissionDeniedError(
            "/metrics answers only clients in observability.metrics_networks "
            f"({', '.join(settings.metrics_networks)}) that reach it directly; set "
            "observability.metrics_token to scrape from elsewhere with a bearer token",
            code="metrics_forbidden",
        )


MetricsAccess = Depends(check_metrics_access)
