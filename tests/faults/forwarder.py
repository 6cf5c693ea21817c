"""A TCP forwarder on loopback that a test can cut and restore: the way to take a dependency (the
database, Redis) away from a real server process and bring it back, without touching the service."""

import asyncio
import socket
import threading

__all__ = ["Forwarder"]


class Forwarder:
    """``127.0.0.1:port`` -> ``127.0.0.1:target``. ``cut()`` closes every connection and stops listening
    (clients get refused); ``restore()`` listens again on the same port."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="forwarder", daemon=True)
        self._server = None
        self._writers: set = set()

    def start(self) -> "Forwarder":
        self._thread.start()
        self.restore()
        return self

    def cut(self):
        self._call(self._cut())

    def restore(self):
        self._call(self._listen())

    def stop(self):
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    @property
    def connections(self) -> int:
        return len(self._writers) // 2

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _listen(self):
        if self._server is None:
            self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port, reuse_address=True)

    async def _cut(self):
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _pipe(self, reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(_copy(reader, up_writer), _copy(up_reader, writer))
        self._writers.difference_update((writer, up_writer))


async def _copy(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
