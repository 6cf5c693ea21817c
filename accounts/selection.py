"""Which accounts may serve a request, from the snapshot alone."""

from gateway.snapshot import Snapshot

__all__ = ["candidates"]


def candidates(snapshot: Snapshot, provider_id: int, model: str) -> list:
    return [a for a in snapshot.accounts.get(provider_id, ()) if a.usable and a.weight > 0 and a.serves(model)]
