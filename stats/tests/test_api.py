import datetime
import math
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.models import Account
from gateway.models import AuditEntry
from providers.models import ModelPrice
from stats.aggregation import aggregate_day
from stats.models import DailyUsage, RequestLog
from stats.tests.data import CANARIES, add_log, as_expected, at, expected, in_days, model_of

STATS = ["summary", "daily", "models", "providers", "accounts", "keys", "proxies", "unpriced"]
STAFF_URLS = [f"/api/v1/stats/{name}" for name in STATS] + [
    "/api/v1/logs", "/api/v1/providers", "/api/v1/accounts", "/api/v1/proxies",
]


@pytest.fixture
def rolled(logged, days):
    """Day d2 rolled up into DailyUsage; d1 and today are read from the log."""
    aggregate_day(days.d2)
    return logged


def get(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    return response.json()


def nearest_rank(values, share):
    values = sorted(values)
    return values[max(math.ceil(share * len(values)) - 1, 0)]


# Who may call what


@pytest.mark.parametrize("url", STAFF_URLS + ["/api/v1/usage"])
def test_anonymous_callers_are_refused(client, db, url):
    assert client.get(url).status_code == 401


@pytest.mark.parametrize("url", STAFF_URLS)
def test_users_who_are_not_staff_are_refused(db, url):
    client = APIClient()
    client.force_authenticate(User.objects.create_user("plain"))
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
@pytest.mark.parametrize("url", STAFF_URLS)
def test_a_gateway_key_opens_no_staff_endpoint(key_api, url, header):
    assert key_api("ci", header).get(url).status_code in (401, 403)


def test_a_gateway_key_cannot_write_configuration(key_api):
    response = key_api("ci").post("/api/v1/providers", {"name": "x", "type": "openai"}, format="json")
    assert response.status_code in (401, 403)


def test_staff_sessions_and_tokens_are_accepted(client, staff_api, db):
    client.force_login(User.objects.create_user("admin", is_staff=True))
    for url in STAFF_URLS:
        assert client.get(url).status_code == 200
        assert staff_api.get(url).status_code == 200


def test_staff_credentials_do_not_open_usage(staff_api):
    assert staff_api.get("/api/v1/usage").status_code == 401


# Stats numbers against the log


def test_summary_totals_rates_and_percentiles(staff_api, rolled, days):
    data = get(staff_api, "/api/v1/stats/summary")
    assert as_expected(data) == expected(rolled)
    assert (data["start"], data["end"]) == ((days.d0 - datetime.timedelta(days=6)).isoformat(), days.d0.isoformat())
    assert data["success_rate"] == round(5 / 8, 4)
    latencies = [r.latency_ms for r in rolled]
    assert data["latency_p50_ms"] == nearest_rank(latencies, 0.5) == 100
    assert data["latency_p95_ms"] == nearest_rank(latencies, 0.95) == 2000


def test_summary_of_an_empty_range(staff_api, rolled, days):
    data = get(staff_api, "/api/v1/stats/summary", start="2001-01-01", end="2001-01-31")
    assert data["requests"] == 0 and data["cost"] == 0
    assert data["success_rate"] is None and data["latency_p50_ms"] is None and data["latency_avg_ms"] is None


@pytest.mark.parametrize("params, keep", [
    ({"provider": "openai"}, lambda r, w: r.provider_id == w.openai.id),
    ({"provider": "OpenAI,anthropic"}, lambda r, w: r.provider_id is not None),
    ({"model": "gpt-4o"}, lambda r, w: model_of(r) == "gpt-4o"),
    ({"model": "claude-x,gpt-4o-mini"}, lambda r, w: model_of(r) in ("claude-x", "gpt-4o-mini")),
    ({"account": "openai/team-a"}, lambda r, w: r.account_id == w.team_a.id),
    ({"account": "team-b"}, lambda r, w: r.account_id == w.team_b.id),
    ({"key": "web"}, lambda r, w: r.api_key_id == w.web.id),
    ({"key": "ci", "provider": "anthropic"}, lambda r, w: r.api_key_id == w.ci.id and r.provider_id == w.anthropic.id),
])
def test_filters(staff_api, rolled, world, params, keep):
    want = [r for r in rolled if keep(r, world)]
    assert as_expected(get(staff_api, "/api/v1/stats/summary", **params)) == expected(want)
    days = get(staff_api, "/api/v1/stats/daily", **params)
    assert sum(day["requests"] for day in days) == len(want)
    assert sum(Decimal(str(day["cost"])) for day in days) == expected(want)["cost"]


def test_filters_take_ids(staff_api, rolled, world):
    data = get(staff_api, "/api/v1/stats/summary", provider=world.anthropic.id, key=world.web.id)
    assert data["requests"] == 1


def test_the_date_range_bounds_by_utc_day(staff_api, rolled, days):
    data = get(staff_api, "/api/v1/stats/summary", start=days.d1.isoformat(), end=days.d1.isoformat())
    assert as_expected(data) == expected(in_days(rolled, days.d1))


@pytest.mark.parametrize("params", [
    {"provider": "nobody"}, {"account": "openai/team-b"}, {"key": "nokey"}, {"start": "yesterday"},
    {"start": "2025-02-01", "end": "2025-01-01"}, {"start": "2020-01-01", "end": "2025-01-01"},
])
def test_bad_parameters_are_a_400(staff_api, rolled, params):
    response = staff_api.get("/api/v1/stats/summary", params)
    assert response.status_code == 400
    assert set(response.json()) <= {"provider", "account", "key", "start", "end"}


def test_daily_uses_the_rollup_where_there_is_one_and_the_log_elsewhere(staff_api, rolled, days):
    data = get(staff_api, "/api/v1/stats/daily")
    week = [(days.d0 - datetime.timedelta(days=n)).isoformat() for n in range(6, -1, -1)]
    assert [day["date"] for day in data] == week
    by_date = {day["date"]: day for day in data}
    assert by_date[days.d2.isoformat()]["source"] == "rollup"
    assert by_date[days.d1.isoformat()]["source"] == "log"
    assert by_date[days.d0.isoformat()]["source"] == "log"
    for day in (days.d0, days.d1, days.d2):
        assert as_expected(by_date[day.isoformat()]) == expected(in_days(rolled, day))
    empty = by_date[(days.d0 - datetime.timedelta(days=5)).isoformat()]
    assert empty["requests"] == 0 and empty["latency_avg_ms"] is None


def test_daily_reads_rolled_days_from_daily_usage(staff_api, rolled, days):
    DailyUsage.objects.filter(date=days.d2, model="claude-3-5-sonnet").update(requests=100)
    by_date = {day["date"]: day for day in get(staff_api, "/api/v1/stats/daily")}
    assert by_date[days.d2.isoformat()]["requests"] == 102


def test_today_is_read_live_even_when_rolled_up(staff_api, rolled, world, days):
    aggregate_day(days.d0)
    add_log(at(days.d0, 5), api_key=world.ci, upstream_model="gpt-4o")
    by_date = {day["date"]: day for day in get(staff_api, "/api/v1/stats/daily")}
    assert by_date[days.d0.isoformat()]["requests"] == 4


@pytest.mark.parametrize("by, group", [
    ("providers", lambda r: r.provider_id),
    ("accounts", lambda r: r.account_id),
    ("keys", lambda r: r.api_key_id),
    ("proxies", lambda r: r.proxy_id),
])
def test_grouped_totals_agree_with_the_log(staff_api, rolled, world, by, group):
    data = get(staff_api, f"/api/v1/stats/{by}")
    want = {}
    for row in rolled:
        want.setdefault(group(row), []).append(row)
    assert {entry["id"]: as_expected(entry) for entry in data} == {pk: expected(rows) for pk, rows in want.items()}
    assert [entry["requests"] for entry in data] == sorted((len(rows) for rows in want.values()), reverse=True)
    names = {entry["id"]: entry["name"] for entry in data}
    named = {"providers": (world.openai.id, "openai"), "accounts": (world.team_a.id, "openai/team-a"),
             "keys": (world.ci.id, "ci"), "proxies": (world.px1.id, "px1")}[by]
    assert names[named[0]] == named[1]


def test_model_totals_agree_with_the_log(staff_api, rolled):
    data = get(staff_api, "/api/v1/stats/models")
    want = {}
    for row in rolled:
        want.setdefault(model_of(row), []).append(row)
    assert {entry["model"]: as_expected(entry) for entry in data} == {m: expected(rows) for m, rows in want.items()}
    assert data[0]["model"] == "gpt-4o"


def test_a_deleted_provider_keeps_its_numbers_without_a_name(staff_api, rolled, world):
    gone = world.anthropic.id
    world.anthropic.delete()
    entry = next(e for e in get(staff_api, "/api/v1/stats/providers") if e["id"] == gone)
    assert entry["name"] is None and entry["requests"] == 2


def test_unpriced_lists_upstream_models_without_cost(staff_api, rolled):
    data = get(staff_api, "/api/v1/stats/unpriced")
    assert [(e["model"], e["requests"], e["priced_now"]) for e in data] == [
        ("claude-3-5-sonnet", 1, False), ("gpt-4o-mini", 1, False),
    ]
    ModelPrice.objects.create(model="gpt-4o-*", input_per_million=1, output_per_million=2)
    data = get(staff_api, "/api/v1/stats/unpriced")
    assert {e["model"]: e["priced_now"] for e in data} == {"claude-3-5-sonnet": False, "gpt-4o-mini": True}


# The request log


def test_logs_are_newest_first_with_names(staff_api, rolled, world):
    data = get(staff_api, "/api/v1/logs")
    assert [e["request_id"] for e in data["results"]] == [
        r.request_id for r in sorted(rolled, key=lambda r: r.created_at, reverse=True)
    ]
    first = data["results"][0]
    assert (first["provider_name"], first["account_name"], first["key_name"], first["proxy_name"]) == (
        "openai", "team-a", "ci", "px1")
    assert data["results"][1]["provider_name"] is None


def test_logs_walk_by_cursor(staff_api, rolled):
    seen, url, params = [], "/api/v1/logs", {"page_size": 3}
    while url:
        data = get(staff_api, url, **params)
        assert len(data["results"]) <= 3
        seen += [e["request_id"] for e in data["results"]]
        url, params = data["next"], {}
    assert seen == [r.request_id for r in sorted(rolled, key=lambda r: r.created_at, reverse=True)]


def test_the_page_size_is_capped_at_500(staff_api, world, days):
    RequestLog.objects.bulk_create(
        RequestLog(request_id=f"bulk-{n}", created_at=at(days.d0, 1, 0, n // 60, n % 60 * 1000))
        for n in range(501)
    )
    data = get(staff_api, "/api/v1/logs", page_size=1000)
    assert len(data["results"]) == 500 and data["next"]


@pytest.mark.parametrize("params, want", [
    ({"status": "error"}, lambda r: r.status_code >= 400),
    ({"status": "ok"}, lambda r: r.status_code < 400),
    ({"status": "4xx"}, lambda r: 400 <= r.status_code < 500),
    ({"status": "502"}, lambda r: r.status_code == 502),
    ({"error_type": "rate_limit"}, lambda r: r.error_type == "rate_limit"),
    ({"provider": "anthropic", "status": "ok"}, lambda r: r.provider_id and r.provider.name == "anthropic"
     and r.status_code < 400),
])
def test_log_filters(staff_api, rolled, params, want):
    data = get(staff_api, "/api/v1/logs", **params)
    assert {e["request_id"] for e in data["results"]} == {r.request_id for r in rolled if want(r)}


@pytest.mark.parametrize("status", ["bad", "²", "²xx"])
def test_a_bad_status_filter_is_a_400(staff_api, rolled, status):
    assert staff_api.get("/api/v1/logs", {"status": status}).status_code == 400


@pytest.mark.parametrize("name", ["key", "provider", "account"])
def test_a_digit_that_is_not_a_number_names_nothing(staff_api, rolled, name):
    # "²".isdigit() is true, and int("²") raises: it was a 500
    assert staff_api.get("/api/v1/stats/keys", {name: "²"}).status_code == 400


# A key holder's own usage


def test_usage_shows_only_the_calling_keys_numbers(key_api, rolled, world, days):
    data = get(key_api("ci"), "/api/v1/usage")
    mine = [r for r in rolled if r.api_key_id == world.ci.id]
    assert as_expected(data) == expected(mine)
    assert (data["key"], data["prefix"]) == ("ci", world.ci.prefix)
    assert data["limits"] == {"rpm": 60, "tpm": 100000, "budget_usd": 25.5, "budget_period": "monthly",
                              "expires_at": None, "allowed_models": ["gpt-*"]}
    assert {e["model"]: e["requests"] for e in data["by_model"]} == {"gpt-4o": 3, "claude-x": 1, "gpt-4o-mini": 1}
    by_day = {e["date"]: e["requests"] for e in data["by_day"]}
    assert (by_day[days.d2.isoformat()], by_day[days.d1.isoformat()], by_day[days.d0.isoformat()]) == (2, 1, 2)


def test_usage_by_x_api_key_and_range(key_api, rolled, days):
    data = get(key_api("web", "x-api-key"), "/api/v1/usage", start=days.d0.isoformat())
    assert data["requests"] == 1 and len(data["by_day"]) == 1


def test_usage_ignores_filters_naming_other_keys(key_api, rolled, world):
    data = get(key_api("web"), "/api/v1/usage", key="ci", provider="nobody")
    assert data["requests"] == 3


@pytest.mark.parametrize("change", [
    {"revoked": True},
    {"expires_at": datetime.datetime(2001, 1, 1, tzinfo=datetime.timezone.utc)},
])
def test_revoked_and_expired_keys_are_refused(key_api, world, change):
    for name, value in change.items():
        setattr(world.ci, name, value)
    world.ci.save()
    response = key_api("ci").get("/api/v1/usage")
    assert response.status_code == 401
    assert "gateway key" in response.json()["detail"]


def test_an_unknown_key_is_refused(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer sk-gw-not-a-key")
    assert client.get("/api/v1/usage").status_code == 401


# Configuration CRUD and secrets


def assert_no_canary(response):
    text = response.content.decode()
    for name, canary in CANARIES.items():
        assert canary not in text, f"{name} leaked"


def test_secrets_are_never_in_a_response(staff_api, rolled, world):
    urls = STAFF_URLS + ["/api/v1/stats/summary", "/api/schema/", f"/api/v1/providers/{world.openai.id}",
                         f"/api/v1/accounts/{world.team_a.id}", f"/api/v1/proxies/{world.px1.id}"]
    for url in urls:
        response = staff_api.get(url)
        assert response.status_code == 200, url
        assert_no_canary(response)


def test_responses_say_whether_a_secret_is_set(staff_api, world):
    account = get(staff_api, f"/api/v1/accounts/{world.team_a.id}")
    assert account["has_api_key"] and account["has_refresh_token"] and account["has_access_token"]
    assert not {"api_key", "refresh_token", "access_token"} & set(account)
    assert get(staff_api, f"/api/v1/providers/{world.openai.id}")["has_oauth_client_secret"] is True
    assert get(staff_api, f"/api/v1/providers/{world.anthropic.id}")["has_oauth_client_secret"] is False
    proxy = get(staff_api, f"/api/v1/proxies/{world.px1.id}")
    assert proxy["has_password"] is True and "password" not in proxy and proxy["username"] == "bob"


def test_secrets_are_written_kept_and_cleared(superuser_api, world):
    response = superuser_api.post("/api/v1/accounts", {
        "provider": world.openai.id, "name": "team-c", "api_key": CANARIES["api_key"], "proxy": world.px2.id,
    }, format="json")
    assert response.status_code == 201, response.content
    assert_no_canary(response)
    assert response.json()["has_api_key"] is True
    account = Account.objects.get(name="team-c")
    assert account.api_key == CANARIES["api_key"]
    response = superuser_api.patch(f"/api/v1/accounts/{account.id}", {"weight": 3}, format="json")
    assert response.status_code == 200 and response.json()["has_api_key"] is True
    account.refresh_from_db()
    assert (account.weight, account.api_key) == (3, CANARIES["api_key"])
    response = superuser_api.patch(f"/api/v1/accounts/{account.id}", {"api_key": ""}, format="json")
    assert response.json()["has_api_key"] is False
    account.refresh_from_db()
    assert account.api_key == ""


def test_crud_for_providers_and_proxies(superuser_api, world):
    response = superuser_api.post("/api/v1/providers", {"name": "glm", "type": "openai",
                                                        "base_url": "https://glm.example/v1"}, format="json")
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    assert superuser_api.patch(f"/api/v1/providers/{pk}", {"enabled": False}, format="json").json()["enabled"] is False
    assert superuser_api.delete(f"/api/v1/providers/{pk}").status_code == 204
    response = superuser_api.post("/api/v1/proxies", {"name": "px3", "url": "http://u:p@10.0.0.7:3128"}, format="json")
    assert response.status_code == 400 and "url" in response.json()
    response = superuser_api.post("/api/v1/proxies", {"name": "px3", "url": "http://10.0.0.7:3128",
                                                      "password": CANARIES["proxy_password"]}, format="json")
    assert response.status_code == 201 and response.json()["has_password"] is True
    assert_no_canary(response)
    assert len(get(superuser_api, "/api/v1/proxies")) == 3


def test_api_changes_are_audited_under_the_token_user(superuser_api, world):
    superuser_api.patch(f"/api/v1/proxies/{world.px2.id}", {"capacity": 4}, format="json")
    superuser_api.patch(f"/api/v1/proxies/{world.px1.id}", {"password": ""}, format="json")
    entries = AuditEntry.objects.filter(model="proxies.ProxyServer", action="update").order_by("at", "id")
    assert [(e.actor, e.source, e.changes) for e in entries] == [
        ("root", "api", {"capacity": [10, 4]}),
        ("root", "api", {"password": ["set", ""]}),
    ]


# OpenAPI


def test_the_openapi_schema_renders(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ["/api/v1/stats/summary", "/api/v1/logs", "/api/v1/usage", "/api/v1/providers/{id}"]:
        assert path in paths


def test_the_schema_generates_without_warnings(db):
    call_command("spectacular", "--fail-on-warn", stdout=StringIO())


def test_the_docs_page_needs_no_cdn(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "cdn.jsdelivr.net" not in page
    asset = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert asset in page
    assert client.get(asset).status_code == 200
