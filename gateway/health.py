"""/health: liveness and readiness in one answer, with the state of each dependency."""

import asyncio
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections, connection

from gateway.http import Exchange
from gateway.snapshot import holder

__all__ = ["health", "draining"]

CHECK_TIMEOUT = 2.0


class _Draining:
    """Set on SIGTERM: readiness turns to 503 while in-flight work finishes."""

    active = False


draining = _Draining()


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    finally:
        close_old_connections()


def _cache() -> str:
    try:
        cache.set("health:probe", "1", 10)
        return "ok" if cache.get("health:probe") == "1" else "error: read back failed"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


def _broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager"
    from gateway.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT)
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


async def _check(fn) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            return await sync_to_async(fn, thread_sensitive=False)()
    except TimeoutError:
        return "error: timeout"


async def health(exchange: Exchange):
    database, shared_cache, broker = await asyncio.gather(_check(_database), _check(_cache), _check(_broker))
    snapshot = holder.current
    if snapshot is None:
        try:
            snapshot = await holder.get()
        except Exception:
            snapshot = None
    ok = database == "ok" and not shared_cache.startswith("error") and snapshot is not None
    status = "draining" if draining.active else ("healthy" if ok else "degraded")
    body = {
        "status": status,
        "models": len(snapshot.exact_routes) + len(snapshot.glob_routes) if snapshot else 0,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "checks": {"database": database, "cache": shared_cache, "broker": broker},
    }
    # Degraded still answers 200: the relay serves from its snapshot while the database is away.
    await exchange.respond_json(503 if draining.active or snapshot is None else 200, body)
