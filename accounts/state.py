"""What the hot path learns about an account, written to the database off it; and the live state
the pool keeps in the shared store.

The pool learns that an account is no good; ``save_failure`` writes that down in a worker thread
(``later``), as ``save_project`` does for a discovered Cloud Code project. A probe or an operator
brings an account back with ``restore``. ``live_state`` reads what the pool holds now (cool-downs,
failure counts) for the admin and the tests.
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from django.db import OperationalError, close_old_connections
from django.utils import timezone as dj_timezone

from accounts.models import Account, Health
from gateway.shared import sync_state
from gateway.snapshot import bump_config_version

__all__ = ["later", "retry_busy", "save_failure", "save_project", "restore", "live_state", "LiveState"]

log = logging.getLogger(__name__)


def later(func, *args):
    """Run the blocking ``func(*args)`` in a worker thread; the caller goes on at once."""
    asyncio.get_running_loop().run_in_executor(None, _quietly, func, args)


def _quietly(func, args):
    try:
        return retry_busy(func, *args)
    except OperationalError:
        log.exception("background work %s failed %d times", func.__name__, BUSY_ATTEMPTS)
    except Exception:
        log.exception("background work %s failed", func.__name__)
    return None


def retry_busy(func, *args, **kwargs):
    """``func(*args, **kwargs)``, tried again shortly while the database is busy or briefly unreachable (SQLite's
    lock held by another writer, a MySQL deadlock); the error of the last try is raised. The thread's
    connection is checked after each try."""
    for attempt in range(1, BUSY_ATTEMPTS + 1):
        try:
            return func(*args, **kwargs)
        except OperationalError:
            if attempt == BUSY_ATTEMPTS:
                raise
            time.sleep(0.1 * attempt)
        finally:
            close_old_connections()


BUSY_ATTEMPTS = 4


def save_failure(account_id: int, health: str, message: str):
    """Take the account out of rotation in every process's next snapshot."""
    Account.objects.filter(id=account_id).update(health=health, last_error=message[:2000],
                                                 updated_at=dj_timezone.now())
    bump_config_version()


def save_project(account_id: int, project: str):
    """Keep a discovered project id; an operator's own value is never overwritten."""
    if Account.objects.filter(id=account_id, project_id="").update(project_id=project):
        bump_config_version()


def restore(account_ids: list) -> int:
    """Healthy again: the saved state, the shared cool-downs and failure counts all cleared."""
    from accounts.pool import state_keys

    count = Account.objects.filter(id__in=account_ids).update(
        health=Health.HEALTHY, cooldown_until=None, last_error="", updated_at=dj_timezone.now())
    keys = [key for account_id in account_ids for key in state_keys(account_id)]
    sync_state().delete(*keys)
    bump_config_version()
    return count


@dataclass(frozen=True, slots=True)
class LiveState:
    cooling_until: datetime | None
    failures: int  # transient failures in a row


def live_state(account_ids: list) -> dict:
    """account id -> LiveState, one round trip for all of them."""
    from accounts.pool import state_keys

    keys = [key for account_id in account_ids for key in state_keys(account_id)]
    values = sync_state().get_many(keys) if keys else []
    now = datetime.now(timezone.utc).timestamp()
    states = {}
    for index, account_id in enumerate(account_ids):
        until, fails = values[2 * index], values[2 * index + 1]
        cooling = datetime.fromtimestamp(float(until), timezone.utc) if until and float(until) > now else None
        states[account_id] = LiveState(cooling, int(fails or 0))
    return states
