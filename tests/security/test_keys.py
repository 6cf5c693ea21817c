"""A key's own restrictions, from the snapshot: client addresses (CIDR), expiry, revocation."""

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from gateway.snapshot import parse_networks
from tests.security.conftest import MODEL, chat, make_key


@pytest.mark.parametrize("blocks, status", [
    (["127.0.0.0/8"], 200),
    (["10.0.0.0/8", "127.0.0.1"], 200),
    (["::1", "127.0.0.1/32"], 200),
    (["10.0.0.0/8"], 403),
    (["not-an-address"], 403),  # nothing valid: nothing matches, the key is not opened to everyone
    ([], 200),
])
def test_a_key_is_used_only_from_its_allowed_addresses(gw, blocks, status):
    raw, _ = make_key("ips", allowed_ips=blocks)
    response = chat(gw.url, raw)
    assert response.status_code == status, response.text
    if status == 403:
        assert "may not be used from 127.0.0.1" in response.json()["error"]["message"]
        assert gw.upstream.find() == []


def forwarded_chat(gw, raw: str, forwarded_for: str):
    return httpx.post(f"{gw.url}/v1/chat/completions", timeout=20, headers={
        "authorization": f"Bearer {raw}", "x-forwarded-for": forwarded_for},
        json={"model": MODEL["openai"], "messages": [{"role": "user", "content": "hi"}]})


def test_behind_a_trusted_proxy_the_forwarded_client_is_the_one_checked(gw):
    raw, _ = make_key("forwarded", allowed_ips=["203.0.113.0/24"])
    assert chat(gw.url, raw).status_code == 403  # the proxy itself (127.0.0.1) is not allowed
    assert forwarded_chat(gw, raw, "203.0.113.7").status_code == 200
    # The proxy appends what it saw: the first address from the right that it does not trust is the client.
    assert forwarded_chat(gw, raw, "203.0.113.7, 127.0.0.1").status_code == 200
    refused = forwarded_chat(gw, raw, "203.0.113.7, 198.51.100.4")
    assert refused.status_code == 403 and "198.51.100.4" in refused.json()["error"]["message"]


def test_a_forwarded_address_from_an_untrusted_peer_is_ignored():
    from gateway.forwarded import client_address

    assert client_address("127.0.0.1", "203.0.113.7") == "203.0.113.7"
    assert client_address("192.0.2.1", "203.0.113.7") == "192.0.2.1"
    assert client_address("127.0.0.1", None) == "127.0.0.1"


def test_addresses_are_parsed_once_per_snapshot():
    networks = parse_networks(["10.1.2.3/8", "2001:db8::/32", " 192.168.0.1 ", "junk"])
    assert [str(n) for n in networks] == ["10.0.0.0/8", "2001:db8::/32", "192.168.0.1/32"]
    assert parse_networks([]) is None


def test_an_ipv4_client_seen_as_ipv6_still_matches():
    from gateway.snapshot import KeyConf

    key = KeyConf(1, "k", "h", (), None, None, None, "total", ("127.0.0.0/8",), {}, None, False,
                  parse_networks(["127.0.0.0/8"]))
    assert key.allows_address("::ffff:127.0.0.1") and key.allows_address("127.0.0.9")
    assert not key.allows_address("") and not key.allows_address("10.0.0.1")


def test_an_expired_key_is_refused(gw):
    raw, _ = make_key("expired", expires_at=timezone.now() - timedelta(seconds=1))
    response = chat(gw.url, raw)
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]


def test_a_revoked_key_stops_working_at_once_in_this_process(gw):
    raw, key = make_key("revoked")
    assert chat(gw.url, raw).status_code == 200
    key.revoked = True
    key.save()
    response = chat(gw.url, raw)
    assert response.status_code == 401 and "revoked" in response.json()["error"]["message"]
