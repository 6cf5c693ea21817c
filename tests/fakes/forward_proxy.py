"""Fake proxies on 127.0.0.1 that record what passes through them.

``ForwardProxy`` is an HTTP proxy that forwards each request to its (plain http) destination. It
takes absolute-URI requests only, which is what a client sends a proxy for an http:// URL, so
CONNECT is never needed::

    with ForwardProxy() as proxy:
        ...  # ProxyServer(url=proxy.url) in front of an account, the fake upstream behind it
        assert proxy.passed[0].headers["authorization"] == "Bearer key-a"

``SocksProxy`` speaks SOCKS5 (no authentication) and keeps the bytes each connection sent.
Both pipe the answer back byte for byte, streams and cut connections included.
"""

__all__ = ["ForwardProxy", "SocksProxy", "Passed", "forward_proxy"]

import asyncio
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

_HOP_BY_HOP = {"proxy-authorization", "proxy-connection", "connection", "keep-alive"}


@dataclass
class Passed:
    method: str
    url: str
    headers: dict  # names lowercased, as the client sent them to the proxy
    body: bytes

    @property
    def credential(self) -> str | None:
        authorization = self.headers.get("authorization", "")
        bearer = authorization[7:] if authorization.lower().startswith("bearer ") else None
        return bearer or self.headers.get("x-api-key") or self.headers.get("x-goog-api-key")


class _Server:
    """An asyncio server on its own loop and thread; a subclass handles each connection."""

    def __init__(self):
        self.passed: list = []
        self.port = 0
        self._loop = self._thread = self._server = None
        self._writers = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-proxy", daemon=True)
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)
        return self

    def stop(self):
        async def close():
            self._server.close()
            for writer in list(self._writers):
                writer.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    async def _serve(self) -> int:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def _connection(self, reader, writer):
        self._writers.add(writer)
        try:
            await self.handle(reader, writer)
        finally:
            writer.close()
            self._writers.discard(writer)


class ForwardProxy(_Server):
    def credentials(self) -> list:
        return [p.credential for p in list(self.passed)]

    async def handle(self, reader, writer):
        upstream = pump = None
        try:
            while True:
                try:
                    method, url, headers, raw_headers, body = await _read_request(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                self.passed.append(Passed(method, url, headers, body))
                target = urlsplit(url)
                if upstream is None:
                    up_reader, upstream = await asyncio.open_connection(target.hostname, target.port or 80)
                    pump = asyncio.ensure_future(_pipe(up_reader, writer))
                path = target.path + (f"?{target.query}" if target.query else "")
                head = [f"{method} {path or '/'} HTTP/1.1"]
                head += [f"{name}: {value}" for name, value in raw_headers if name.lower() not in _HOP_BY_HOP]
                upstream.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
                await upstream.drain()
        finally:
            if upstream is not None:
                upstream.close()
            if pump is not None:
                await asyncio.wait([pump], timeout=1)


class SocksProxy(_Server):
    """SOCKS5 without authentication; ``passed`` holds (host, port, bytes sent) per connection."""

    @property
    def url(self) -> str:
        return f"socks5://127.0.0.1:{self.port}"

    async def handle(self, reader, writer):
        _, methods = await reader.readexactly(2)
        await reader.readexactly(methods)
        writer.write(b"\x05\x00")  # version 5, no authentication
        _, command, _, kind = await reader.readexactly(4)
        if kind == 1:
            host = ".".join(str(b) for b in await reader.readexactly(4))
        else:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        port = int.from_bytes(await reader.readexactly(2), "big")
        up_reader, upstream = await asyncio.open_connection(host, port)
        writer.write(b"\x05\x00\x00\x01" + bytes(4) + bytes(2))  # succeeded
        entry = [host, port, b""]
        self.passed.append(entry)
        pump = asyncio.ensure_future(_pipe(up_reader, writer))
        try:
            while chunk := await reader.read(65536):
                entry[2] += chunk
                upstream.write(chunk)
                await upstream.drain()
        except ConnectionError:
            pass
        finally:
            upstream.close()
            await asyncio.wait([pump], timeout=1)


async def _read_request(reader):
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    request_line, *lines = head.split("\r\n")
    method, url, _ = request_line.split(" ", 2)
    raw_headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines if line]
    headers = {name.lower(): value for name, value in raw_headers}
    if "chunked" in headers.get("transfer-encoding", ""):
        raise NotImplementedError("the fake forward proxy takes bodies with a Content-Length only")
    body = await reader.readexactly(int(headers.get("content-length", 0)))
    return method, url, headers, raw_headers, body


async def _pipe(reader, writer):
    """Copy the destination's bytes back to the client until it closes."""
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@pytest.fixture
def forward_proxy():
    with ForwardProxy() as proxy:
        yield proxy
