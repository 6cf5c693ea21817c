"""Choosing the account for an attempt: weighted round-robin over the usable accounts."""

import itertools
from collections import defaultdict

from gateway.snapshot import AccountConf, Snapshot

__all__ = ["Rotation", "candidates"]


def candidates(snapshot: Snapshot, provider_id: int, model: str) -> list:
    return [a for a in snapshot.accounts.get(provider_id, ()) if a.usable and a.weight > 0 and a.serves(model)]


class Rotation:
    """A per-process rotation; the account pool replaces the counter with Redis's INCR."""

    def __init__(self):
        self._counters = defaultdict(itertools.count)

    def next_value(self, key: str) -> int:
        return next(self._counters[key])

    def pick(self, accounts: list, provider_name: str, model: str, exclude: set) -> AccountConf | None:
        pool = [a for a in accounts if a.id not in exclude]
        if not pool:
            return None
        total = sum(a.weight for a in pool)
        slot = self.next_value(f"account:rr:{provider_name}:{model}") % total
        for account in pool:
            slot -= account.weight
            if slot < 0:
                return account
        return pool[-1]
