"""Only global addresses pass unless the operator allows a host or network."""

from __future__ import annotations

import ipaddress

import pytest

from frontdesk.outbound import AddressPolicy, AddressRefused, is_global

BLOCKED = [
    "127.0.0.1", "10.1.2.3", "172.16.5.5", "192.168.0.1",
    "169.254.169.254",  # link-local: cloud metadata
    "100.64.0.1", "100.100.100.200",  # shared address space; Alibaba Cloud's metadata
    "192.0.0.1", "192.0.0.200",  # IETF protocol assignments (3.11 calls .200 global)
    "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "198.18.0.1", "192.0.2.1",
    "::1", "::", "fe80::1", "fc00::1", "ff02::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:100.100.100.200",  # IPv4 mapped into IPv6
    "2002:7f00:1::1", "2002:a9fe:a9fe::1",  # 6to4 around 127.0.0.1 and 169.254.169.254
    "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
    "168.63.129.16", "::ffff:168.63.129.16",  # Azure's WireServer: global, but platform metadata
]  # fmt: skip
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:93.184.216.34"]


@pytest.mark.parametrize("address", BLOCKED)
def test_non_global_addresses_are_refused(address: str) -> None:
    assert not is_global(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert is_global(ipaddress.ip_address(address))


TABLE = {
    "api.example.com": ["93.184.216.34"],
    "internal.example.com": ["10.0.0.7"],
    "sneaky.example.com": ["93.184.216.34", "127.0.0.1"],  # one bad address is enough
    "metadata.example.com": ["100.100.100.200"],
}


async def resolve(host: str) -> list[str]:
    if host not in TABLE:
        raise OSError("Name or service not known")
    return TABLE[host]


@pytest.mark.parametrize(
    "host", ["internal.example.com", "sneaky.example.com", "metadata.example.com", "[::1]",
             "100.100.100.200", "[::ffff:169.254.169.254]"],
)  # fmt: skip
async def test_names_and_literals_are_judged_by_their_addresses(host: str) -> None:
    with pytest.raises(AddressRefused, match="add the host or its network to `allow`"):
        await AddressPolicy().addresses(host, resolve)


async def test_the_allow_list_admits_the_operators_own() -> None:
    found = await AddressPolicy().addresses("api.example.com", resolve)
    assert found == [ipaddress.ip_address("93.184.216.34")]
    await AddressPolicy(["internal.example.com"]).check("internal.example.com", resolve)
    await AddressPolicy(["INTERNAL.example.com."]).check("internal.example.com", resolve)
    await AddressPolicy(["10.0.0.0/8"]).check("internal.example.com", resolve)
    await AddressPolicy(["127.0.0.1/32"]).check("[::ffff:127.0.0.1]", resolve)
    with pytest.raises(AddressRefused):  # allowing one network does not allow another
        await AddressPolicy(["10.0.0.0/8"]).check("192.168.0.1", resolve)
    with pytest.raises(OSError, match="not known"):  # not a refusal: no such name
        await AddressPolicy().check("nowhere.example.com", resolve)
