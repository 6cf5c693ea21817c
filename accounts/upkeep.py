"""Work on accounts away from the request path: OAuth tokens refreshed ahead of traffic, failed
accounts probed back into rotation. Celery beat, the management commands and the admin's
"refresh now" and "test now" all call these plain functions.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from accounts.models import Account, Health
from accounts.oauth import NeedsReauth, OAuthTokens
from accounts.pool import classify
from accounts.state import restore, save_failure
from gateway.errors import GatewayError, UpstreamError
from gateway.shared import close_shared_state
from gateway.snapshot import build_snapshot
from providers.adapters.base import Upstream
from providers.models import ModelRoute
from providers.registry import adapter_for
from providers.types import ChatRequest, Message, Text
from proxies.clients import close_all

__all__ = ["Outcome", "refresh_expiring_tokens", "refresh_now", "probe_failed_accounts", "probe", "probe_model",
           "REFRESH_AHEAD"]

log = logging.getLogger(__name__)

REFRESH_AHEAD = 900.0  # seconds: beat refreshes tokens that expire sooner than this


@dataclass
class Outcome:
    """What a run did: account names by result."""

    done: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)  # name -> message

    def __str__(self):
        failed = "".join(f"; {name}: {message}" for name, message in self.failed.items())
        return f"{len(self.done)} done, {len(self.skipped)} skipped, {len(self.failed)} failed{failed}"


def _run(work):
    """Run ``work`` (a coroutine function) on a loop of its own, closing its connections after."""
    async def main():
        try:
            return await work()
        finally:
            await close_all()
            await close_shared_state()

    return asyncio.run(main())


def _confs(accounts: list) -> list:
    """(ProviderConf, AccountConf, Account) for each account, as the relay would see them."""
    snapshot = build_snapshot()
    by_id = {conf.id: conf for confs in snapshot.accounts.values() for conf in confs}
    return [(snapshot.providers[a.provider_id], by_id[a.id], a) for a in accounts if a.id in by_id]


# --- OAuth ---------------------------------------------------------------------------------------

def _oauth_accounts():
    return Account.objects.filter(enabled=True).exclude(refresh_token="").exclude(health=Health.NEEDS_REAUTH)


def refresh_expiring_tokens(within: float = REFRESH_AHEAD) -> Outcome:
    """Refresh every OAuth token that expires within ``within`` seconds (or has no known expiry)."""
    soon = timezone.now() + timedelta(seconds=within)
    due = _oauth_accounts().filter(Q(token_expires_at__isnull=True) | Q(token_expires_at__lt=soon))
    return _refresh(list(due.select_related("provider")), within)


def refresh_now(account_ids: list) -> Outcome:
    """Refresh these accounts' tokens whatever their expiry (the admin's "refresh now")."""
    accounts = Account.objects.filter(id__in=account_ids).exclude(refresh_token="").select_related("provider")
    return _refresh(list(accounts), float("inf"))


def _refresh(accounts: list, within: float) -> Outcome:
    outcome = Outcome()
    confs = _confs(accounts)
    refused = {}

    async def work():
        tokens = OAuthTokens()
        for provider, conf, account in confs:
            try:
                done = await tokens.refresh_ahead(provider, conf, within)
            except NeedsReauth as error:
                refused[account.id] = error.message
                outcome.failed[str(account)] = error.message
            except GatewayError as error:
                outcome.failed[str(account)] = error.message
            else:
                (outcome.done if done else outcome.skipped).append(str(account))
        await tokens.drain()

    _run(work)
    for account_id, message in refused.items():
        save_failure(account_id, Health.NEEDS_REAUTH, message)
    return outcome


# --- probes --------------------------------------------------------------------------------------

def probe_model(account: Account) -> str:
    """A model the account serves: one it names, else one an exact route sends to its provider."""
    named = [m for m in account.allowed_models or () if not any(ch in m for ch in "*?[")]
    if named:
        return named[0]
    routes = ModelRoute.objects.filter(enabled=True, targets__provider=account.provider_id).order_by("id")
    for route in routes:
        model = route.upstream_model or route.model
        if not route.is_glob and account.serves(model):
            return model
    return ""


def probe_failed_accounts() -> Outcome:
    """Probe every enabled account marked failed; those that answer are healthy again."""
    return probe(list(Account.objects.filter(enabled=True, health=Health.FAILED).values_list("id", flat=True)))


def probe(account_ids: list) -> Outcome:
    """Send each account a one-token request; restore those that answer, note why the others did not."""
    outcome = Outcome()
    accounts = list(Account.objects.filter(id__in=account_ids).select_related("provider"))
    models = {account.id: probe_model(account) for account in accounts}
    confs = [entry for entry in _confs(accounts) if models[entry[2].id]]
    outcome.skipped = [str(a) for a in accounts if not models[a.id]]
    errors = {}

    async def work():
        tokens = OAuthTokens()
        for provider, conf, account in confs:
            try:
                await _ping(tokens, Upstream(provider, conf, models[account.id]))
            except GatewayError as error:
                errors[account.id] = error
            else:
                outcome.done.append(str(account))
        await tokens.drain()

    _run(work)
    restore([account.id for _, _, account in confs if account.id not in errors])
    for _, _, account in confs:
        if account.id in errors:
            _note_probe_failure(account, errors[account.id])
            outcome.failed[str(account)] = errors[account.id].message
    return outcome


async def _ping(tokens: OAuthTokens, up: Upstream):
    adapter = adapter_for(up.provider.type).adapter
    request = ChatRequest(model=up.model, messages=[Message("user", [Text("ping")])], max_tokens=1)
    account = up.account
    if not account.refresh_token:
        up.credential = account.api_key or account.access_token
        return await adapter.complete(up, request)
    up.credential = await tokens.token_for(up.provider, account)
    try:
        return await adapter.complete(up, request)
    except UpstreamError as error:
        if error.upstream_status != 401:
            raise
    up.credential = await tokens.token_for(up.provider, account, rejected=up.credential)
    return await adapter.complete(up, request)


def _note_probe_failure(account: Account, error: GatewayError):
    verdict = classify(error)
    if verdict.failed:
        save_failure(account.id, verdict.health, error.message)
    else:
        Account.objects.filter(id=account.id).update(last_error=f"probe: {error.message}"[:2000])
