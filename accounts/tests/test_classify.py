"""What a failed attempt says about the account that made it."""

import pytest

from accounts.models import Health
from accounts.oauth import NeedsReauth
from accounts.pool import DEFAULT_RATE_LIMIT_COOLDOWN, MAX_COOLDOWN, Verdict, classify
from gateway.errors import GatewayError, InvalidRequest, NetworkError, UpstreamTimeout
from providers.adapters.base import classify_status


def upstream(status, message="", retry_after=None):
    return classify_status(status, message, retry_after)


@pytest.mark.parametrize("error, verdict", [
    (upstream(429, retry_after=7), Verdict(cool=7)),
    (upstream(429), Verdict(cool=DEFAULT_RATE_LIMIT_COOLDOWN)),
    (upstream(429, retry_after=86400), Verdict(cool=MAX_COOLDOWN)),
    (upstream(401), Verdict(failed=True)),
    (upstream(403), Verdict(failed=True)),
    (upstream(402), Verdict(failed=True)),
    (upstream(400, "API key not valid. Please pass a valid API key."), Verdict(failed=True)),
    (upstream(429, "You exceeded your current quota, please check your plan"), Verdict(failed=True)),
    (NeedsReauth("invalid_grant"), Verdict(failed=True, health=Health.NEEDS_REAUTH)),
    (upstream(500), Verdict(transient=True)),
    (upstream(503, retry_after=2), Verdict(transient=True)),
    (upstream(504), Verdict(transient=True)),
    (UpstreamTimeout("slow"), Verdict(transient=True)),
    (NetworkError("reset"), Verdict(transient=True)),
    (upstream(400, "messages: too long"), Verdict()),
    (upstream(404, "no such model"), Verdict()),
    (upstream(422), Verdict()),
    (InvalidRequest("bad"), Verdict()),
    (GatewayError("this provider does not serve embeddings", status=400), Verdict()),
], ids=lambda value: getattr(value, "message", None) and f"{type(value).__name__}:{value.message[:30]}")
def test_it_classifies_failures(error, verdict):
    assert classify(error) == verdict


def test_only_a_verdict_with_a_penalty_blames_the_account():
    assert not Verdict().blames_account
    assert all(v.blames_account for v in (Verdict(cool=1), Verdict(failed=True), Verdict(transient=True)))
