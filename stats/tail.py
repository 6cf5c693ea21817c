"""The live tail: each batch the request-log writer has written goes to the dashboard's WebSocket group.

``publish`` runs on the writer thread after a successful insert, never on the request path: one
``group_send`` per batch, bounded in time, on an event loop the thread keeps (async_to_sync started a
thread and a loop for each batch, and a Redis layer a connection), and a channel layer that is down is
logged, never raised into the writer. With the in-memory layer (embedded runs) the writer and the server share one process
and the message reaches the server's loop on its next wake-up (uvicorn wakes every 0.1 s).
"""

import asyncio
import logging
import threading

from channels.layers import get_channel_layer

from gateway.snapshot import holder

__all__ = ["GROUP", "MAX_ROWS", "publish", "rows_of", "send_rows"]

log = logging.getLogger(__name__)

GROUP = "request-tail"
MAX_ROWS = 100  # per message: the newest of a batch; the page keeps no more than that
SEND_TIMEOUT = 2.0
_local = threading.local()


def _names() -> tuple:
    snapshot = holder.current
    if snapshot is None:
        return {}, {}
    keys = {key.id: key.name for key in snapshot.keys.values()}
    return {pid: p.name for pid, p in snapshot.providers.items()}, keys


def rows_of(batch: list) -> list:
    """What an operator reads in the tail, for each log entry (plain JSON values)."""
    providers, keys = _names()
    return [{
        "time": values["created_at"].isoformat(),
        "request_id": values["request_id"],
        "format": values["client_format"],
        "endpoint": values["endpoint"],
        "model": values["upstream_model"] or values["requested_model"],
        "provider": providers.get(values["provider_id"]),
        "key": keys.get(values["api_key_id"]),
        "stream": values["stream"],
        "status": values["status_code"],
        "error_type": values["error_type"],
        "latency_ms": values["latency_ms"],
        "ttft_ms": values["ttft_ms"],
        "prompt_tokens": values["prompt_tokens"],
        "completion_tokens": values["completion_tokens"],
        "cost": float(values["cost"]) if values.get("cost") is not None else None,
    } for values in batch[-MAX_ROWS:]]


async def send_rows(rows: list):
    layer = get_channel_layer()
    if layer is not None:
        await asyncio.wait_for(layer.group_send(GROUP, {"type": "tail.rows", "rows": rows}), SEND_TIMEOUT)


def _thread_loop() -> asyncio.AbstractEventLoop:
    loop = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = _local.loop = asyncio.new_event_loop()
    return loop


def publish(batch: list):
    """Send a written batch to the tail's group; log and go on when the channel layer is unreachable."""
    try:
        _thread_loop().run_until_complete(send_rows(rows_of(batch)))
    except Exception as exc:  # the tail is a convenience: nothing it does may stop the log writer
        log.warning("live tail not published (%d rows): %r", len(batch), exc)
