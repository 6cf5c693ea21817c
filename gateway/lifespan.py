"""ASGI lifespan: load the snapshot before traffic, drain on SIGTERM, flush the request log on exit.

The server (uvicorn) owns SIGTERM: it stops accepting and waits for requests in flight. The
handler installed here runs first and only turns readiness (/health) to 503, so a load balancer
stops sending new work during the drain window.
"""

import asyncio
import logging
import signal
import threading

from gateway import heap
from gateway.health import draining
from gateway.snapshot import holder
from providers.tokens import warm_up
from proxies.clients import close_all
from stats.recording import recorder

log = logging.getLogger(__name__)


def _chain_drain_signal():
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum, frame):
        draining.active = True
        if callable(previous):
            previous(signum, frame)

    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread (tests serve from a thread): nothing to chain
        pass


def _warm_up(owns_process: bool):
    warm_up()
    if owns_process:
        heap.settle()  # after the vocabulary, which stays loaded


async def lifespan(scope, receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await holder.get()
            except Exception:  # start anyway: the database may come back, and /health says so
                log.exception("configuration could not be loaded at start-up")
            _chain_drain_signal()
            # A server embedded in another program's thread (the tests') leaves that program's collector alone.
            owns_process = threading.current_thread() is threading.main_thread()
            asyncio.get_running_loop().run_in_executor(None, _warm_up, owns_process)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            draining.active = True
            await close_all()
            await asyncio.to_thread(recorder.flush, 30.0)
            await send({"type": "lifespan.shutdown.complete"})
            return
