"""Each account's traffic leaves through its own proxy, never directly once proxies exist."""

import base64

from accounts.models import Account
from proxies.models import ProxyServer
from tests.support.server import free_port


def test_each_account_leaves_through_its_own_proxy(make_pool, forward_proxy):
    from tests.fakes.forward_proxy import ForwardProxy

    with ForwardProxy() as second:
        ProxyServer.objects.create(name="px-1", url=forward_proxy.url, capacity=1, username="bob", password="s3cret")
        ProxyServer.objects.create(name="px-2", url=second.url, capacity=1)
        pool = make_pool(2)
        assert [a.proxy.name for a in Account.objects.order_by("id")] == ["px-1", "px-2"]
        assert [pool.chat().status_code for _ in range(6)] == [200] * 6
        assert forward_proxy.credentials() == ["key-a"] * 3
        assert second.credentials() == ["key-b"] * 3
    auth = forward_proxy.passed[0].headers["proxy-authorization"]
    assert auth == "Basic " + base64.b64encode(b"bob:s3cret").decode()
    assert "proxy-authorization" not in pool.upstream.last("chat/completions").headers
    assert len(pool.upstream.find("chat/completions")) == 6


def test_a_socks5_proxy_carries_its_account_too(make_pool, forward_proxy):
    from tests.fakes.forward_proxy import SocksProxy

    with SocksProxy() as socks:
        ProxyServer.objects.create(name="px-socks", url=socks.url, capacity=1)
        ProxyServer.objects.create(name="px-http", url=forward_proxy.url, capacity=1, priority=1)
        pool = make_pool(2)
        assert [pool.chat().status_code for _ in range(4)] == [200] * 4
        assert {(host, port) for host, port, _ in socks.passed} == {("127.0.0.1", pool.upstream.port)}
        sent = b"".join(data for _, _, data in socks.passed)
    assert sent.count(b"Bearer key-a") == 2 and b"key-b" not in sent
    assert forward_proxy.credentials() == ["key-b"] * 2


def test_an_account_whose_proxy_is_down_is_never_sent_direct(make_pool, forward_proxy):
    ProxyServer.objects.create(name="px-down", url=f"http://127.0.0.1:{free_port()}", capacity=1)
    ProxyServer.objects.create(name="px-up", url=forward_proxy.url, capacity=1)
    pool = make_pool(2)
    assert [pool.chat().status_code for _ in range(6)] == [200] * 6
    assert set(forward_proxy.credentials()) == {"key-b"}
    assert pool.served() == {"key-b": 6}


def test_no_account_leaves_direct_when_every_proxy_is_down(make_pool):
    ProxyServer.objects.create(name="px-down", url=f"http://127.0.0.1:{free_port()}", capacity=5)
    pool = make_pool(2)
    response = pool.chat()
    assert response.status_code in (502, 504)
    assert pool.upstream.find("chat/completions") == []


def test_accounts_without_a_place_behind_a_proxy_do_not_serve(make_pool, forward_proxy):
    ProxyServer.objects.create(name="px-1", url=forward_proxy.url, capacity=1)
    pool = make_pool(3)
    assert [pool.chat().status_code for _ in range(4)] == [200] * 4
    assert pool.served() == {"key-a": 4}  # b and c wait for a proxy rather than leave directly


def test_traffic_goes_direct_when_no_proxy_is_configured(make_pool):
    pool = make_pool(2)
    assert [pool.chat().status_code for _ in range(4)] == [200] * 4
    assert pool.served() == {"key-a": 2, "key-b": 2}


def test_a_disabled_proxy_hands_its_accounts_to_the_next(make_pool, forward_proxy):
    from tests.fakes.forward_proxy import ForwardProxy

    with ForwardProxy() as second:
        first = ProxyServer.objects.create(name="px-1", url=forward_proxy.url, capacity=5)
        ProxyServer.objects.create(name="px-2", url=second.url, capacity=5, priority=1)
        pool = make_pool(2)
        assert [pool.chat().status_code for _ in range(2)] == [200] * 2
        first.enabled = False
        first.save()
        assert [pool.chat().status_code for _ in range(4)] == [200] * 4
        assert len(forward_proxy.passed) == 2
        assert sorted(second.credentials()) == ["key-a", "key-a", "key-b", "key-b"]
