"""The gateway's real ASGI application served by uvicorn on loopback, in a background thread."""

import socket
import threading
import time

import uvicorn

__all__ = ["GatewayServer", "free_port", "settle"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GatewayServer:
    def __init__(self, app: str = "gateway.asgi:application"):
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, lifespan="on", log_level="warning",
                                loop="asyncio", http="h11")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="gateway-under-test", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the gateway under test did not start")
            time.sleep(0.02)
        return self

    def stop(self):
        self.server.should_exit = True
        self.thread.join(10)


def settle(timeout: float = 5.0):
    """Wait until the gateway has no request in flight, then write its request log."""
    from gateway.asgi import application
    from stats.recording import recorder

    edge = application.application_mapping["http"]
    deadline = time.monotonic() + timeout
    while edge.active and time.monotonic() < deadline:
        time.sleep(0.01)
    recorder.flush(timeout)
