"""Shared fixtures: sample rows (with known secrets) and one sample object per admin-registered model."""

import datetime
import os
import uuid

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.utils import timezone

from accounts.models import Account
from gateway.models import ApiKey, AuditEntry
from providers.models import ModelPrice, ModelRoute, Provider, RouteTarget
from proxies.models import ProxyDailyStats, ProxyServer
from stats.models import DailyUsage, RequestLog
from tests.support.redis_keys import forget

SECRETS = {
    "oauth_client_secret": "oauth-client-secret-4f9a1c",
    "proxy_password": "proxy-password-8d2e7b",
    "api_key": "sk-upstream-api-key-3b7d9e",
    "refresh_token": "refresh-token-5c1f2a",
    "access_token": "access-token-9e4b6d",
}


@pytest.fixture(scope="session", autouse=True)
def redis_run_prefix():
    """This run's own key prefix in the shared Redis. Each run's test database numbers its rows from 1
    again: under a shared prefix, a run started within minutes of another found its accounts still
    cooling down from the last one's failure tests."""
    from django.conf import settings

    if not settings.REDIS_URL:
        yield ""
        return
    prefix = f"{settings.GATEWAY['REDIS_PREFIX']}run-{uuid.uuid4().hex[:10]}:"
    before = settings.GATEWAY, os.environ.get("GATEWAY_REDIS_PREFIX")
    settings.GATEWAY = {**settings.GATEWAY, "REDIS_PREFIX": prefix}
    os.environ["GATEWAY_REDIS_PREFIX"] = prefix  # for the processes tests start
    yield prefix
    settings.GATEWAY = before[0]
    if before[1] is None:
        os.environ.pop("GATEWAY_REDIS_PREFIX")
    else:
        os.environ["GATEWAY_REDIS_PREFIX"] = before[1]
    forget(prefix)


@pytest.fixture
def provider(db):
    return Provider.objects.create(
        name="openai", type="openai", base_url="https://api.openai.com/v1",
        oauth_token_url="https://auth.example/token", oauth_client_id="client-1",
        oauth_client_secret=SECRETS["oauth_client_secret"],
    )


@pytest.fixture
def proxy(db):
    return ProxyServer.objects.create(name="px1", url="http://10.0.0.5:3128", username="bob",
                                      password=SECRETS["proxy_password"])


@pytest.fixture
def account(provider, proxy):
    return Account.objects.create(
        provider=provider, name="team-a", api_key=SECRETS["api_key"], refresh_token=SECRETS["refresh_token"],
        access_token=SECRETS["access_token"], proxy=proxy,
    )


@pytest.fixture
def staff_client(client, db):
    """A logged-in staff user (not a superuser) with every permission on the gateway's own models."""
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    apps = ["gateway", "providers", "accounts", "proxies", "stats"]
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=apps))
    client.force_login(user)
    return client


def _route(provider):
    route = ModelRoute.objects.create(model="gpt-*")
    RouteTarget.objects.create(route=route, provider=provider, position=0)
    return route


def _token():
    from rest_framework.authtoken.models import Token, TokenProxy

    token = Token.objects.create(user=User.objects.create_user("token-owner"))
    return TokenProxy.objects.get(pk=token.pk)


def _celery_beat(name):
    from django_celery_beat import models as beat

    interval = beat.IntervalSchedule.objects.create(every=10, period=beat.IntervalSchedule.SECONDS)
    samples = {
        "IntervalSchedule": lambda: interval,
        "CrontabSchedule": lambda: beat.CrontabSchedule.objects.create(minute="5"),
        "SolarSchedule": lambda: beat.SolarSchedule.objects.create(event="sunrise", latitude=1, longitude=2),
        "ClockedSchedule": lambda: beat.ClockedSchedule.objects.create(clocked_time=timezone.now()),
        "PeriodicTask": lambda: beat.PeriodicTask.objects.create(name="t", task="x.y", interval=interval),
    }
    return samples[name]()


def _samples(request):
    """label -> a function making one saved object of that model. A newly registered model needs a line here."""
    today = datetime.date(2025, 1, 2)
    return {
        "auth.Group": lambda: Group.objects.create(name="operators"),
        "auth.User": lambda: User.objects.create_user("someone"),
        "authtoken.TokenProxy": _token,
        "django_celery_beat.PeriodicTask": lambda: _celery_beat("PeriodicTask"),
        "django_celery_beat.IntervalSchedule": lambda: _celery_beat("IntervalSchedule"),
        "django_celery_beat.CrontabSchedule": lambda: _celery_beat("CrontabSchedule"),
        "django_celery_beat.SolarSchedule": lambda: _celery_beat("SolarSchedule"),
        "django_celery_beat.ClockedSchedule": lambda: _celery_beat("ClockedSchedule"),
        "gateway.ApiKey": lambda: _key(),
        "gateway.AuditEntry": lambda: _key() and AuditEntry.objects.first(),
        "providers.Provider": lambda: request.getfixturevalue("provider"),
        "providers.ModelRoute": lambda: _route(request.getfixturevalue("provider")),
        "providers.ModelPrice": lambda: ModelPrice.objects.create(model="gpt-4o", input_per_million=2.5,
                                                                  output_per_million=10),
        "accounts.Account": lambda: request.getfixturevalue("account"),
        "proxies.ProxyServer": lambda: request.getfixturevalue("proxy"),
        "proxies.ProxyDailyStats": lambda: ProxyDailyStats.objects.create(
            proxy=request.getfixturevalue("proxy"), date=today, requests=3),
        "stats.RequestLog": lambda: RequestLog.objects.create(
            request_id="req-1", provider=request.getfixturevalue("provider"),
            account=request.getfixturevalue("account"), api_key=_key(), requested_model="gpt-4o"),
        "stats.DailyUsage": lambda: DailyUsage.objects.create(
            date=today, model="gpt-4o", provider=request.getfixturevalue("provider"), requests=2),
    }


def _key():
    key = ApiKey(name="ci")
    key.set_key("sk-gw-sample-key-for-admin-tests")
    key.save()
    return key


@pytest.fixture
def sample_object(db, request):
    """sample_object(model) -> a saved instance, for the admin pages of every registered model."""
    samples = _samples(request)

    def make(model):
        label = model._meta.label
        assert label in samples, f"{label} is registered in the admin: add a sample to tests/conftest.py"
        return samples[label]()

    return make
