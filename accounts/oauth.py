"""OAuth access tokens for accounts signed in with a refresh token.

A token is looked up in this process, then in the shared store (``auth:{provider}:{account_id}``),
then in the snapshot (the database copy). When less than five minutes remain, exactly one process
refreshes it (a lock in the shared store); the others wait for its result, or give up at once
when the provider refused the refresh token (``invalid_grant``: NeedsReauth, and the pool takes
the account out of rotation). The refreshed token is also written, encrypted, to the database,
off the request path.
"""

import asyncio
import logging
import time
from datetime import datetime, timezone

import httpx
import orjson
from asgiref.sync import sync_to_async

from accounts.state import retry_busy
from gateway.errors import GatewayError, NetworkError, UpstreamError
from gateway.shared import prefixed, shared_state
from gateway.snapshot import AccountConf, ProviderConf
from proxies.clients import client_for

__all__ = ["OAuthTokens", "NeedsReauth", "REFRESH_MARGIN", "refresh_grant"]

log = logging.getLogger(__name__)

REFRESH_MARGIN = 300.0
LOCK_TTL = 30.0
WAIT_FOR_PEER = 15.0


class NeedsReauth(GatewayError):
    """The refresh token was refused (invalid_grant): a person must sign the account in again."""

    status = 503
    error_type = "auth"


async def refresh_grant(provider: ProviderConf, account: AccountConf) -> tuple:
    """POST the refresh-token grant; returns (access_token, expires_at epoch seconds)."""
    if not provider.oauth_token_url:
        raise UpstreamError(f"provider {provider.name} has no OAuth token_url", error_type="auth")
    form = {
        "grant_type": "refresh_token",
        "refresh_token": account.refresh_token,
        "client_id": provider.oauth_client_id,
        "client_secret": provider.oauth_client_secret,
    }
    try:
        async with asyncio.timeout(provider.connect_timeout + 20):
            response = await client_for(account.proxy_url).post(provider.oauth_token_url, data=form)
    except (TimeoutError, httpx.TransportError) as exc:
        raise NetworkError(f"the OAuth token endpoint could not be reached: {type(exc).__name__}") from None
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = {}
    if response.status_code >= 400 or "access_token" not in body:
        error = body.get("error") if isinstance(body, dict) else None
        if error == "invalid_grant":
            raise NeedsReauth(f"account {account.name}: the refresh token was refused (invalid_grant)")
        raise UpstreamError(f"the OAuth token endpoint answered {response.status_code}", error_type="auth",
                            upstream_status=response.status_code)
    return body["access_token"], time.time() + float(body.get("expires_in", 3600))


def _persist(account_id: int, token: str, expires_at: float):
    from accounts.models import Account

    # update() skips signals on purpose: a token refresh is not a configuration change. The field
    # encrypts the value itself. The request log's writer may hold SQLite for a moment: retry_busy.
    retry_busy(Account.objects.filter(id=account_id).update,
               access_token=token, token_expires_at=datetime.fromtimestamp(expires_at, timezone.utc))


class OAuthTokens:
    """Fresh access tokens for OAuth accounts; one instance per process."""

    def __init__(self):
        self._local: dict = {}  # account id -> (token, expires_at)
        self._background: set = set()

    async def token_for(self, provider: ProviderConf, account: AccountConf, rejected: str = "") -> str:
        """A token with more than REFRESH_MARGIN left; never ``rejected`` (one the upstream just refused)."""
        known = self._known(account)
        if _fresh(known, rejected):
            return known[0]
        shared = await self._shared(provider, account)
        if _fresh(shared, rejected):
            self._local[account.id] = shared
            return shared[0]
        stale = rejected or (known or shared or ("", 0))[0]
        return await self._refresh_once(provider, account, stale)

    async def refresh_ahead(self, provider: ProviderConf, account: AccountConf, within: float) -> bool:
        """Refresh when less than ``within`` seconds remain (ahead of traffic); True when it did."""
        entry = await self._shared(provider, account) or self._known(account)
        if entry is not None and entry[0] and entry[1] - time.time() > within:
            return False
        await self._refresh_once(provider, account, entry[0] if entry else "")
        return True

    async def drain(self):
        """Wait for the database writes started in the background (before a short-lived loop ends)."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    def _known(self, account: AccountConf):
        local = self._local.get(account.id)
        if local:
            return local
        if account.access_token and account.token_expires_at:
            return account.access_token, account.token_expires_at.timestamp()
        return None

    async def _shared(self, provider: ProviderConf, account: AccountConf):
        return _entry((await shared_state().get_many([_token_key(provider, account)]))[0])

    async def _refresh_once(self, provider: ProviderConf, account: AccountConf, stale: str) -> str:
        state = shared_state()
        lock = prefixed(f"auth:lock:{provider.name}:{account.id}")
        if await state.set(lock, "1", LOCK_TTL, only_if_absent=True):
            try:
                # A peer may have refreshed and let go of the lock since this process last looked.
                shared = await self._shared(provider, account)
                if _fresh(shared, stale):
                    self._local[account.id] = shared
                    return shared[0]
                return await self._refresh(provider, account)
            finally:
                await state.delete(lock)
        return await self._wait_for_peer(provider, account, stale)

    async def _refresh(self, provider: ProviderConf, account: AccountConf) -> str:
        try:
            token, expires_at = await refresh_grant(provider, account)
        except NeedsReauth as error:
            # Peers waiting for this refresh give up at once; the caller takes the account out of rotation.
            await shared_state().set(_refused_key(provider, account), error.message, LOCK_TTL)
            raise
        self._local[account.id] = (token, expires_at)
        value = orjson.dumps({"access_token": token, "expires_at": expires_at}).decode()
        await shared_state().set(_token_key(provider, account), value, max(expires_at - time.time(), 1))
        self._in_background(sync_to_async(_persist, thread_sensitive=False)(account.id, token, expires_at))
        return token

    async def _wait_for_peer(self, provider: ProviderConf, account: AccountConf, stale: str) -> str:
        deadline = time.monotonic() + WAIT_FOR_PEER
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            keys = [_token_key(provider, account), _refused_key(provider, account)]
            raw, refused = await shared_state().get_many(keys)
            if refused:
                raise NeedsReauth(refused)
            shared = _entry(raw)
            if _fresh(shared, stale):
                self._local[account.id] = shared
                return shared[0]
        raise NetworkError(f"account {account.name}: waited too long for another process to refresh its token")

    def _in_background(self, coroutine):
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_finished)


def _finished(task: asyncio.Task):
    if not task.cancelled() and task.exception() is not None:
        log.warning("saving an OAuth token to the database failed: %s", type(task.exception()).__name__)


def _fresh(entry, rejected: str) -> bool:
    return entry is not None and bool(entry[0]) and entry[0] != rejected and entry[1] - time.time() > REFRESH_MARGIN


def _entry(raw):
    if not raw:
        return None
    data = orjson.loads(raw)
    return data["access_token"], data["expires_at"]


def _token_key(provider: ProviderConf, account: AccountConf) -> str:
    return prefixed(f"auth:{provider.name}:{account.id}")


def _refused_key(provider: ProviderConf, account: AccountConf) -> str:
    return prefixed(f"auth:refused:{provider.name}:{account.id}")
