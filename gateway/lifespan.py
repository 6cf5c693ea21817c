"""ASGI lifespan: load the snapshot before traffic, flush the request log and close clients on exit."""

import asyncio
import logging

from gateway.snapshot import holder
from proxies.clients import close_all
from stats.recording import recorder

log = logging.getLogger(__name__)


async def lifespan(scope, receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await holder.get()
            except Exception:  # start anyway: the database may come back, and /health says so
                log.exception("configuration could not be loaded at start-up")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await close_all()
            await asyncio.to_thread(recorder.flush, 30.0)
            await send({"type": "lifespan.shutdown.complete"})
            return
