"""The keys a test run leaves in the shared Redis."""

from django.conf import settings

__all__ = ["forget"]


def forget(prefix: str):
    """Delete every key under ``prefix`` (nothing to do without Redis)."""
    if settings.REDIS_URL:
        import redis

        with redis.Redis.from_url(settings.REDIS_URL) as client:
            for keys in _batches(client.scan_iter(match=prefix + "*", count=500), 500):
                client.delete(*keys)


def _batches(items, size):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
