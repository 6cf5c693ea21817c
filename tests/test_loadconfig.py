import textwrap
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account
from gateway.configfile import ConfigError, apply_config, export_config, parse_config
from gateway.models import ApiKey, hash_key
from providers.models import ModelPrice, ModelRoute, Provider, RouteTarget
from proxies.models import ProxyServer

ROOT = Path(__file__).resolve().parent.parent
MODELS = [Provider, ProxyServer, Account, ModelRoute, RouteTarget, ApiKey, ModelPrice]

PRODUCTION_ENV = {
    "AG_CLIENT_ID": "ag-client", "AG_CLIENT_SECRET": "ag-secret", "PX1_USER": "bob", "PX1_PASSWORD": "p@ss:word",
    "OPENAI_API_KEY": "sk-openai-a", "OPENAI_API_KEY_B": "sk-openai-b", "ANTHROPIC_API_KEY": "sk-ant",
    "GEMINI_API_KEY": "gem-key", "GLM_API_KEY": "glm-key", "AG_REFRESH": "ag-refresh",
    "CI_GATEWAY_KEY": "sk-gw-ci-key-0123456789",
}
# What exportconfig names the same secrets.
EXPORTED_ENV = {
    "PROVIDER_ANTIGRAVITY_OAUTH_CLIENT_SECRET": "ag-secret", "PROXY_PX1_PASSWORD": "p@ss:word",
    "ACCOUNT_OPENAI_TEAM_A_API_KEY": "sk-openai-a", "ACCOUNT_OPENAI_TEAM_B_API_KEY": "sk-openai-b",
    "ACCOUNT_ANTHROPIC_MAIN_API_KEY": "sk-ant", "ACCOUNT_GEMINI_MAIN_API_KEY": "gem-key",
    "ACCOUNT_GLM_MAIN_API_KEY": "glm-key", "ACCOUNT_ANTIGRAVITY_ALICE_REFRESH_TOKEN": "ag-refresh",
}


def dump() -> dict:
    """Every configuration row, secrets decrypted, updated_at included: equal dumps mean nothing changed."""
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in MODELS}


def load(text: str, environ=None, **options):
    config = parse_config(textwrap.dedent(text), "test.yaml", environ or {})
    return apply_config(config, **options)


def run(*args) -> str:
    out = StringIO()
    call_command("loadconfig", *args, stdout=out)
    return out.getvalue()


BASE = """
    providers:
      - {name: openai, type: openai, base_url: "https://api.openai.com/v1"}
      - {name: anthropic, type: anthropic, base_url: "https://api.anthropic.com"}
    proxies:
      - {name: px1, url: "http://10.0.0.5:3128"}
    accounts:
      - {provider: openai, name: team-a, api_key: sk-a, proxy: px1}
    routes:
      - {model: "claude-*", providers: [anthropic, openai]}
    keys:
      - {name: ci, key: sk-gw-ci-key-0123456789}
    prices:
      - {model: gpt-4o, input_per_million: 2.5, output_per_million: 10}
"""


def test_it_loads_the_example(db):
    output = run(str(ROOT / "config/example.yaml"))
    assert "7 created" in output
    mock = Provider.objects.get(name="mock")
    assert mock.is_default and mock.type == "mock"
    assert set(ModelRoute.objects.values_list("model", flat=True)) >= {"mock-*", "gpt-4o-mini", "gemini-2.0-flash"}
    assert ApiKey.objects.get(name="demo").matches_key("sk-gw-demo-key-change-me")


def test_it_loads_the_production_example(db, monkeypatch):
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    output = run(str(ROOT / "config/production.example.yaml"))
    assert output.count("generated key for") == 2
    alice = Account.objects.get(name="alice")
    assert (alice.refresh_token, alice.proxy.name, alice.proxy_pinned) == ("ag-refresh", "px1", True)
    assert ProxyServer.objects.get(name="px1").connect_url() == "http://bob:p%40ss%3Aword@10.0.0.5:3128"
    route = ModelRoute.objects.get(model="claude-sonnet-4-5")
    assert [t.provider.name for t in route.targets.all()] == ["antigravity", "anthropic"]


def test_it_changes_nothing_on_a_second_load(db):
    load(BASE)
    before = dump()
    summary = load(BASE)
    assert (summary.created, summary.updated, summary.deleted) == (0, 0, 0)
    assert dump() == before


def test_it_round_trips_through_export(db, monkeypatch, tmp_path):
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    run(str(ROOT / "config/production.example.yaml"))
    before = dump()
    exported = tmp_path / "exported.yaml"
    call_command("exportconfig", "-o", str(exported), stderr=StringIO())
    for name in EXPORTED_ENV:
        assert name in exported.read_text()
    for name in PRODUCTION_ENV:
        monkeypatch.delenv(name)
    for name, value in EXPORTED_ENV.items():
        monkeypatch.setenv(name, value)
    assert "0 created, 0 updated, 0 deleted" in run(str(exported), "--prune")
    assert dump() == before


def test_it_exports_no_secret(db, monkeypatch):
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    run(str(ROOT / "config/production.example.yaml"))
    text = export_config()
    for value in PRODUCTION_ENV.values():
        if value not in ("ag-client", "bob"):  # a client id and a user name are not secrets
            assert value not in text
    assert "key:" not in text.replace("api_key:", "")


def test_it_updates_only_what_changed(db):
    load(BASE)
    untouched = Provider.objects.get(name="anthropic").updated_at
    summary = load(BASE.replace('"https://api.openai.com/v1"}', '"https://api.openai.com/v1", timeout: 30}'))
    assert (summary.created, summary.updated, summary.deleted) == (0, 1, 0)
    assert Provider.objects.get(name="openai").timeout == 30
    assert Provider.objects.get(name="anthropic").updated_at == untouched


def test_it_reorders_a_route_chain(db):
    load(BASE)
    summary = load(BASE.replace("[anthropic, openai]", "[openai, anthropic]"))
    assert summary.updated == 1
    route = ModelRoute.objects.get()
    assert [t.provider.name for t in route.targets.all()] == ["openai", "anthropic"]
    assert list(route.targets.values_list("position", flat=True)) == [0, 1]


def test_it_leaves_unnamed_rows_without_prune(db):
    load(BASE)
    load("providers:\n  - {name: mock, type: mock}\n")
    assert Provider.objects.count() == 3 and Account.objects.count() == 1


def test_it_prunes_what_the_file_no_longer_names(db):
    load(BASE)
    summary = load("""
        providers:
          - {name: openai, type: openai, base_url: "https://api.openai.com/v1"}
        accounts:
          - {provider: openai, name: team-a, api_key: sk-a}
    """, prune=True)
    assert (summary.deleted, summary.updated) == (5, 1)  # anthropic, px1, the route, key and price; team-a's proxy
    assert list(Provider.objects.values_list("name", flat=True)) == ["openai"]
    assert Account.objects.get().proxy is None
    for model in (ProxyServer, ModelRoute, ApiKey, ModelPrice):
        assert not model.objects.exists()


def test_it_counts_a_pruned_row_once(db):
    load(BASE)
    summary = load("providers:\n  - {name: mock, type: mock}\n", prune=True)
    assert (summary.deleted, summary.created) == (7, 1)  # the account and the route counted once, not again by cascade


def test_it_saves_nothing_on_a_dry_run(db):
    output = run(str(ROOT / "config/example.yaml"), "--dry-run")
    assert "7 created" in output and "dry run" in output and "sk-gw-" not in output
    assert not Provider.objects.exists()


def test_it_expands_variables_with_defaults(db):
    load("""
        providers:
          - {name: openai, type: openai, base_url: "${BASE:-https://api.openai.com/v1}", timeout: "${TIMEOUT:-30}"}
          - name: mock
            type: mock
            enabled: ${MOCK_ON}
        accounts:
          - {provider: openai, name: a, api_key: "${KEY}", weight: "${WEIGHT:-2}"}
    """, {"KEY": "sk-from-env", "MOCK_ON": "false", "TIMEOUT": ""})
    openai = Provider.objects.get(name="openai")
    assert (openai.base_url, openai.timeout) == ("https://api.openai.com/v1", 30)
    assert Provider.objects.get(name="mock").enabled is False
    account = Account.objects.get()
    assert (account.api_key, account.weight) == ("sk-from-env", 2)


def test_it_expands_variables_from_the_process_environment(db, monkeypatch, tmp_path):
    monkeypatch.setenv("DEMO", "sk-gw-from-the-environment-1")
    path = tmp_path / "c.yaml"
    path.write_text('keys:\n  - {name: demo, key: "${DEMO}"}\n')
    run(str(path))
    assert ApiKey.objects.get().matches_key("sk-gw-from-the-environment-1")


def test_it_generates_a_key_once(db):
    summary = load("keys:\n  - {name: ops}\n")
    [(name, raw)] = summary.generated
    assert name == "ops" and ApiKey.objects.get().key_hash == hash_key(raw)
    again = load("keys:\n  - {name: ops, rpm: 10}\n")
    assert again.generated == [] and ApiKey.objects.get().matches_key(raw)


def test_it_replaces_a_key_the_file_changes(db):
    load("keys:\n  - {name: ci, key: sk-gw-first-key-000000}\n")
    summary = load("keys:\n  - {name: ci, key: sk-gw-second-key-00000}\n")
    assert summary.updated == 1 and ApiKey.objects.get().matches_key("sk-gw-second-key-00000")


def test_it_prints_a_generated_key_once(db, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("keys:\n  - {name: ops}\n")
    first, second = run(str(path)), run(str(path))
    assert "generated key for 'ops'" in first and "sk-gw-" in first
    assert "sk-gw-" not in second


def test_it_splits_proxy_credentials(db):
    load('proxies:\n  - {name: px, url: "http://al%40ice:s3cret@10.0.0.9:8080"}\n')
    proxy = ProxyServer.objects.get()
    assert (proxy.url, proxy.username, proxy.password) == ("http://10.0.0.9:8080", "al@ice", "s3cret")


def test_it_keeps_one_default_provider(db):
    load(BASE + "    default_provider: openai\n")
    load(BASE + "    default_provider: anthropic\n")
    assert list(Provider.objects.filter(is_default=True).values_list("name", flat=True)) == ["anthropic"]


def test_it_hands_an_unpinned_account_back_to_the_pool(db):
    load(BASE)
    load(BASE.replace(", proxy: px1", ""))
    account = Account.objects.get()
    assert (account.proxy, account.proxy_pinned) == (None, False)


def test_it_keeps_a_refreshed_access_token(db):
    load(BASE)
    account = Account.objects.get()
    account.access_token = "refreshed-by-oauth"
    account.save()
    load(BASE)
    assert Account.objects.get().access_token == "refreshed-by-oauth"


def test_it_matches_names_case_insensitively(db):
    load(BASE)
    summary = load(BASE.replace("name: anthropic,", "name: Anthropic,").replace("[anthropic,", "[Anthropic,"))
    assert summary.created == 0 and Provider.objects.filter(name="Anthropic").exists()


def line_of(text: str, marker: str = "# <-") -> int:
    return next(n for n, line in enumerate(textwrap.dedent(text).splitlines(), 1) if marker in line)


INVALID = {
    "unknown key": ("""
        providers:
          - {name: mock, type: mock}
          - {name: x, type: openai, base_url: "https://x.example", colour: red}  # <-
    """, "unknown key 'colour'"),
    "wrong type": ("""
        providers:
          - name: mock
            type: mock
            timeout: fast  # <-
    """, "'timeout' must be a number"),
    "unknown provider type": ("""
        providers:
          - {name: mock, type: mock}
          - {name: x, type: telepathy, base_url: "https://x.example"}  # <-
    """, "must be one of"),
    "route naming an unknown provider": ("""
        providers:
          - {name: mock, type: mock}
        routes:
          - {model: "gpt-*", provider: mock}
          - {model: "claude-*", providers: [mock, nowhere]}  # <-
    """, "unknown provider 'nowhere'"),
    "account naming an unknown proxy": ("""
        providers:
          - {name: mock, type: mock}
        accounts:
          - {provider: mock, name: a, proxy: px9}  # <-
    """, "unknown proxy 'px9'"),
    "bad base URL": ("""
        providers:
          - name: x
            type: openai
            base_url: "not a url"  # <-
    """, "base_url"),
    "bad proxy URL": ("""
        providers:
          - {name: mock, type: mock}
        proxies:
          - {name: px, url: "ftp://10.0.0.1"}  # <-
    """, "url"),
    "duplicate names": ("""
        providers:
          - {name: mock, type: mock}
          - {name: Mock, type: mock}  # <-
    """, "duplicate providers entry 'Mock' (first on line 3)"),
    "duplicate keys in an entry": ("""
        providers:
          - name: mock
            type: mock
            type: openai  # <-
    """, "duplicate key 'type'"),
    "unset variable": ("""
        providers:
          - {name: mock, type: mock}
        accounts:
          - {provider: mock, name: a, api_key: "${NOT_SET_ANYWHERE}"}  # <-
    """, "${NOT_SET_ANYWHERE} is not set"),
    "unknown section": ("""
        providers:
          - {name: mock, type: mock}
        models:  # <-
          - gpt-4o
    """, "unknown section 'models'"),
    "not YAML": ("""
        providers:
          - {name: mock, type: mock}
          - {name: x, type: [mock}  # <-
    """, "not valid YAML"),
    "a bad slug": ("""
        providers:
          - {name: mock, type: mock}
        keys:
          - {name: "has spaces", key: sk-gw-0123456789abcdef}  # <-
    """, "name"),
    "a route with two kinds of target": ("""
        providers:
          - {name: mock, type: mock}
        routes:
          - {model: x, provider: mock, providers: [mock]}  # <-
    """, "either 'provider"),
    "the same key twice": ("""
        keys:
          - {name: a, key: sk-gw-0123456789abcdef}
          - {name: b, key: sk-gw-0123456789abcdef}  # <-
    """, "the same key as keys 'a'"),
    "a default that names nothing": ("""
        providers:
          - {name: mock, type: mock}
        default_provider: nothing  # <-
    """, "unknown provider 'nothing'"),
}


@pytest.mark.parametrize("text, fragment", INVALID.values(), ids=INVALID.keys())
def test_it_rejects_invalid_configs_naming_the_line(db, tmp_path, text, fragment):
    load(BASE)
    before = dump()
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(text))
    expected_line = line_of(path.read_text())
    with pytest.raises(CommandError) as raised:
        run(str(path))
    message = str(raised.value)
    assert f"{path}:{expected_line}:" in message, message
    assert fragment in message
    assert dump() == before


def test_it_treats_a_set_but_empty_variable_as_empty():
    config = parse_config('keys:\n  - {name: a, key: "sk-gw-${A}${B:-0123456789abcdef}"}\n', "c.yaml", {"A": ""})
    assert config.keys[0].raw_key == "sk-gw-0123456789abcdef"


def test_it_rejects_a_malformed_variable():
    with pytest.raises(ConfigError, match="c.yaml:2: malformed variable"):
        parse_config('keys:\n  - {name: a, key: "${A B}"}\n', "c.yaml", {})


def test_it_reports_a_missing_file(db):
    with pytest.raises(CommandError, match="cannot read"):
        run("/nonexistent/config.yaml")
