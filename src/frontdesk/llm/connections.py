"""The model SDKs' connections, checked where they are made (issue 17).

`check_provider_urls` refuses, at start-up, a provider `base_url` that reaches a link-local
address or a cloud metadata service. The SDKs then open their own connections, resolving the
name again each time: a name whose DNS answer changes after start-up (DNS rebinding) would
reach 169.254.169.254 with the provider key and customers' messages. So each SDK gets an
HTTP client whose connections go through `outbound.PinnedBackend`: the host is resolved once
per connection, every address is checked, and the socket is opened to the address checked;
TLS still verifies the URL's host name. Loopback and private addresses stay allowed (a local
vLLM or Ollama); `allow_link_local: true` allows every address.

Not when a proxy from the environment (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, less NO_PROXY)
applies to the provider's URL: the proxy resolves the name then, not frontdesk, and the SDK's
own client is kept so that the proxy is used as before.
"""

from __future__ import annotations

import urllib.request
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from frontdesk.config.settings import ProviderSettings
from frontdesk.outbound.addresses import (
    AddressPolicy,
    IPAddress,
    Resolver,
    is_link_local_or_metadata,
    resolve,
)
from frontdesk.outbound.transport import pinned_sdk_transport


class ProviderAddressPolicy(AddressPolicy):
    """A model server may be anywhere but on a link-local address or a metadata service."""

    def __init__(self, name: str, *, allow_link_local: bool = False) -> None:
        super().__init__()
        self.name = name
        self.allow_link_local = allow_link_local

    def allowed(self, host: str, address: IPAddress) -> bool:
        return self.allow_link_local or not is_link_local_or_metadata(address)

    def refusal(self, host: str, address: IPAddress) -> str:
        return (
            f"refusing {host} ({address}): a link-local or cloud metadata address, where a "
            "cloud machine's credentials are served; set "
            f"llm.providers.{self.name}.allow_link_local: true if this really is your model "
            "server"
        )


def proxied(url: str) -> bool:
    """Whether a proxy from the environment applies to `url`."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parts.hostname or "")


def pinned_client(
    sdk: ModuleType,
    provider: str,
    settings: ProviderSettings,
    default_url: str,
    resolver: Resolver | None = None,
) -> Any | None:
    """An HTTP client for the `sdk` (openai, anthropic) that checks each connection's
    address; None where a proxy applies (the SDK then makes its own client)."""
    if proxied(settings.base_url or default_url):
        return None
    policy = ProviderAddressPolicy(provider, allow_link_local=settings.allow_link_local)
    client_type = sdk.DefaultAsyncHttpxClient
    transport = pinned_sdk_transport(client_type, policy, resolver=resolver or resolve)
    return client_type(transport=transport, trust_env=False)
