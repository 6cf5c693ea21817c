"""The canary sweep: secrets seeded into the configuration never come out anywhere.

Every kind of secret the gateway holds gets a unique canary value: upstream API keys, OAuth access
and refresh tokens, an OAuth client secret, a proxy password (sent as ``user:pass@``), and a client's
gateway key. Then traffic runs through the real server, successes and failures alike (an upstream
401 and 500 that quote the key back, a timeout, a dead proxy, a stream), and everything the gateway
shows or keeps is searched: response bodies and headers, admin pages, the API, /metrics, exportconfig,
Celery task results, log output, and the RequestLog, AuditEntry and DailyUsage tables.
"""

import base64
import importlib
import io
import logging
import uuid
from datetime import timedelta
from urllib.parse import quote

import httpx
import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, Health
from gateway.celery import app as celery_app
from gateway.models import ApiKey, AuditEntry
from providers.models import Provider
from proxies.models import ProxyServer
from stats.aggregation import roll_up, today
from stats.models import DailyUsage, RequestLog
from tests.fakes import Reply
from tests.fakes.forward_proxy import forward_proxy  # noqa: F401
from tests.security.conftest import MODEL, chat
from tests.support.server import free_port, settle

pytestmark = pytest.mark.django_db(transaction=True)  # Django's admin and API need every app installed

TAG = uuid.uuid4().hex[:8]
CANARIES = {
    **{f"api_key_{name}": f"canary-{name}-key-{TAG}" for name in ("openai", "anthropic", "gemini", "glm", "compat")},
    "access_token": f"canary-access-token-{TAG}",
    "refresh_token": f"canary-refresh-token-{TAG}",
    "oauth_client_secret": f"canary-client-secret-{TAG}",
    "proxy_password": f"canary-proxy-pass-{TAG}",
    "dead_proxy_password": f"canary-dead-proxy-pass-{TAG}",
    "gateway_key": f"sk-gw-canary-{TAG}-client-key-0123456789",
}


def forms(secret: str) -> set:
    """The secret as it could leak: itself, URL-quoted, and inside HTTP Basic credentials."""
    return {secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()[:-4],
            base64.b64encode(f"bob:{secret}".encode()).decode()[:-4]}


def found_in(text: str) -> list:
    return [name for name, secret in CANARIES.items() if any(form in text for form in forms(secret))]


@pytest.fixture
def seeded(gw, forward_proxy):  # noqa: F811
    """The relay tests' configuration with a canary in every secret, every account behind a proxy."""
    good = ProxyServer.objects.create(name="px-good", url=forward_proxy.url, username="bob",
                                      password=CANARIES["proxy_password"])
    dead = ProxyServer.objects.create(name="px-dead", url=f"http://127.0.0.1:{free_port()}", username="carol",
                                      password=CANARIES["dead_proxy_password"])
    for account in Account.objects.select_related("provider"):
        name = account.provider.name
        if name == "antigravity":
            account.access_token, account.refresh_token = CANARIES["access_token"], CANARIES["refresh_token"]
            account.token_expires_at = timezone.now() + timedelta(hours=1)
        else:
            account.api_key = CANARIES[f"api_key_{name}"]
        account.proxy = dead if name == "compat" else good
        account.save()
    Provider.objects.filter(name="antigravity").update(
        oauth_client_secret=CANARIES["oauth_client_secret"], oauth_client_id="client-1",
        oauth_token_url=gw.upstream.url("/oauth/token"), timeout=1, idle_timeout=1)
    Provider.objects.filter(name="antigravity").first().save()  # bump the configuration version
    key = ApiKey(name="canary-client", rpm=1000, tpm=1_000_000)
    key.set_key(CANARIES["gateway_key"])
    key.save()
    return gw


def traffic(gw) -> list:
    """A mix of requests with the canary key; returns every response as text (status, headers, body)."""
    key = CANARIES["gateway_key"]
    upstream = gw.upstream
    upstream.script(Reply.status(401, message=f"API key not valid. Please pass a valid API key: "
                                              f"{CANARIES['api_key_gemini']}"), path="generateContent")
    upstream.script(Reply.status(500, message=f"internal error while using {CANARIES['api_key_glm']}"),
                    path="/api/paas/v4")
    upstream.script(Reply.hang(3), path="v1internal")
    responses = [
        chat(gw.url, key, MODEL["openai"]),  # served
        chat(gw.url, key, MODEL["gemini"], "gemini"),  # 401 quoting the key
        chat(gw.url, key, MODEL["glm"]),  # 500 quoting the key
        chat(gw.url, key, MODEL["antigravity"], "anthropic"),  # timeout
        chat(gw.url, key, MODEL["compat"]),  # the account's proxy is dead
        chat(gw.url, key, "no-such-model"),
        httpx.post(f"{gw.url}/v1/chat/completions", content=b"{not json", headers={"authorization": f"Bearer {key}"}),
        httpx.post(f"{gw.url}/v1/chat/completions", json={"model": "oa-model", "messages": [], "api_key": key},
                   headers={"authorization": f"Bearer {key}"}),
        httpx.get(f"{gw.url}/v1/models", headers={"authorization": f"Bearer {key}x"}),  # a wrong key
    ]
    with httpx.stream("POST", f"{gw.url}/v1/messages", timeout=20,
                      headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
                      json={"model": MODEL["anthropic"], "max_tokens": 50, "stream": True,
                            "messages": [{"role": "user", "content": "hi"}]}) as streamed:
        streamed.read()
        responses.append(streamed)
    statuses = [r.status_code for r in responses]
    assert statuses[0] == 200 and statuses[-1] == 200, statuses
    assert all(status >= 400 for status in statuses[1:-1]), statuses
    return [f"{r.status_code} {dict(r.headers)} {r.text}" for r in responses]


def admin_pages(client) -> list:
    pages = []
    for model, model_admin in admin.site._registry.items():
        info = model._meta.app_label, model._meta.model_name
        pages.append(reverse("admin:%s_%s_changelist" % info))
        for pk in model_admin.get_queryset(_request(client)).values_list("pk", flat=True)[:5]:
            pages.append(reverse("admin:%s_%s_change" % info, args=[pk]))
    return pages


def _request(client):
    from django.contrib.auth.models import User
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = User.objects.get(username="admin")
    return request


API = ["/api/v1/stats/summary", "/api/v1/stats/daily", "/api/v1/stats/models", "/api/v1/stats/providers",
       "/api/v1/stats/accounts", "/api/v1/stats/keys", "/api/v1/stats/proxies", "/api/v1/stats/unpriced",
       "/api/v1/logs", "/api/v1/providers", "/api/v1/accounts", "/api/v1/proxies", "/api/schema/", "/api/docs/"]


def api_pages() -> list:
    details = [f"/api/v1/providers/{pk}" for pk in Provider.objects.values_list("pk", flat=True)]
    details += [f"/api/v1/accounts/{pk}" for pk in Account.objects.values_list("pk", flat=True)]
    details += [f"/api/v1/proxies/{pk}" for pk in ProxyServer.objects.values_list("pk", flat=True)]
    return API + details


def task_results() -> list:
    for app_name in ("accounts", "stats", "proxies", "gateway"):
        importlib.import_module(f"{app_name}.tasks")
    results = []
    for name, task in sorted(celery_app.tasks.items()):
        if name.split(".")[0] in ("accounts", "stats", "proxies", "gateway"):
            outcome = task.apply()
            results.append(f"{name}: {outcome.status} {outcome.result!r} {outcome.traceback or ''}")
    return results


def table_rows() -> list:
    rows = []
    for model in (RequestLog, AuditEntry, DailyUsage):
        rows += [f"{model.__name__} {values}" for values in model.objects.values()]
    rows += [f"Account.last_error {text}" for text in Account.objects.values_list("last_error", flat=True)]
    return rows


def test_no_canary_comes_out_anywhere(seeded, admin_client, caplog, capfd, settings):
    gw = seeded
    settings.GATEWAY = {**settings.GATEWAY, "METRICS_TOKEN": ""}
    with caplog.at_level(logging.INFO):
        seen = {"responses": traffic(gw)}
        settle()
        assert gw.upstream.wait_for(lambda: Account.objects.filter(health=Health.FAILED).exists(), timeout=5)
        usage = httpx.get(f"{gw.url}/api/v1/usage", headers={"authorization": f"Bearer {CANARIES['gateway_key']}"})
        assert usage.status_code == 200
        seen["usage"] = [usage.text]
        roll_up(today())
        seen["tables"] = table_rows()
        seen["admin"] = []
        for page in admin_pages(admin_client):
            response = admin_client.get(page)
            assert response.status_code == 200, page
            seen["admin"].append(f"{page} {response.content.decode()}")
        seen["api"] = []
        for page in api_pages():
            response = admin_client.get(page)
            assert response.status_code == 200, page
            seen["api"].append(f"{page} {response.content.decode()}")
        seen["metrics"] = [httpx.get(f"{gw.url}/metrics").text]
        out = io.StringIO()
        call_command("exportconfig", stdout=out)
        seen["exportconfig"] = [out.getvalue()]
        seen["tasks"] = task_results()
        settle()
    captured = capfd.readouterr()
    seen["logs"] = [caplog.text, "\n".join(r.getMessage() for r in caplog.records), captured.out, captured.err]

    assert len(seen["tasks"]) >= 7, seen["tasks"]
    assert len(seen["admin"]) > 20 and any("canary-client" in page for page in seen["admin"])
    assert "failed" in str(seen["tables"]) or "401" in str(seen["tables"])  # the failures were logged
    leaks = {where: sorted({name for text in texts for name in found_in(text)}) for where, texts in seen.items()}
    assert {where: names for where, names in leaks.items() if names} == {}


def test_the_canaries_did_reach_the_upstreams_they_belong_to(seeded, forward_proxy):  # noqa: F811
    """The sweep means something only if the secrets were really in use."""
    traffic(seeded)
    settle()
    credentials = {req.credential for req in seeded.upstream.find()}
    assert CANARIES["api_key_openai"] in credentials and CANARIES["api_key_anthropic"] in credentials
    assert CANARIES["api_key_gemini"] in credentials and CANARIES["access_token"] in credentials
    assert forward_proxy.passed  # through the account's proxy, with its password


def test_the_sweep_would_see_a_leak_in_any_of_its_forms():
    secret = CANARIES["proxy_password"]
    for text in (f"x{secret}x", quote(f"p={secret}"), base64.b64encode(f"bob:{secret}".encode()).decode()):
        assert found_in(text) == ["proxy_password"], text
    assert found_in("sk-gw-canary") == []  # a key's displayed prefix is not the key
