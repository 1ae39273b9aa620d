"""Outbound HTTP that frontdesk starts itself (HTTP tools, webhooks, the help-desk mirror,
channel replies): only to public addresses or ones the operator allows, checked on the
connection it makes (see `transport`)."""

from frontdesk.outbound.addresses import (
    METADATA_HOSTS,
    AddressPolicy,
    AddressRefused,
    Resolver,
    configured_hosts,
    is_global,
    is_link_local_or_metadata,
    parse_address,
    resolve,
)
from frontdesk.outbound.transport import PinnedBackend, guarded_client, guarded_transport

__all__ = [
    "METADATA_HOSTS",
    "AddressPolicy",
    "AddressRefused",
    "PinnedBackend",
    "Resolver",
    "configured_hosts",
    "guarded_client",
    "guarded_transport",
    "is_global",
    "is_link_local_or_metadata",
    "parse_address",
    "resolve",
]
