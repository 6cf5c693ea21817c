"""The database as a config file. Secrets become ``${NAME}`` placeholders with predictable names;
gateway keys are written without ``key:`` (only their hash exists), which a load leaves alone."""

import datetime
import re

import yaml

from accounts.models import Account
from gateway.configfile.schema import PRICE_EPOCH
from gateway.models import ApiKey
from providers.models import ModelPrice, ModelRoute, Provider
from proxies.models import ProxyServer

__all__ = ["export", "placeholder"]


def placeholder(*parts: str) -> str:
    """``placeholder("account", "openai", "team-a", "api_key")`` -> ``ACCOUNT_OPENAI_TEAM_A_API_KEY``."""
    return re.sub(r"[^A-Z0-9]+", "_", "_".join(parts).upper()).strip("_")


def export() -> str:
    secrets = []
    document = {
        "providers": [_provider(row, secrets) for row in Provider.objects.order_by("name")],
        "proxies": [_proxy(row, secrets) for row in ProxyServer.objects.order_by("name")],
        "accounts": [_account(row, secrets) for row in Account.objects.select_related("provider", "proxy")],
        "routes": _routes(),
        "default_provider": Provider.objects.filter(is_default=True).values_list("name", flat=True).first(),
        "keys": [_key(row) for row in ApiKey.objects.order_by("name")],
        "prices": [_price(row) for row in ModelPrice.objects.order_by("model", "valid_from")],
    }
    document = {name: value for name, value in document.items() if value}
    body = yaml.safe_dump(document, sort_keys=False, default_flow_style=None, width=1000, allow_unicode=True)
    return _header(secrets) + body


def _header(secrets: list) -> str:
    lines = ["# Exported by `manage.py exportconfig`; load it with `manage.py loadconfig FILE`."]
    if secrets:
        lines.append("# Secrets are not exported. Set these variables before loading:")
        lines += [f"#   {name}" for name in secrets]
    return "\n".join(lines) + "\n"


def _secret(value, secrets: list, *parts: str):
    """A placeholder for a stored secret (also one that cannot be decrypted), else None."""
    if not (value or getattr(value, "ciphertext", "")):
        return None
    name = placeholder(*parts)
    secrets.append(name)
    return "${" + name + "}"


def _changed(row, pairs) -> dict:
    """The keys whose model field differs from its default, in order: exports stay short."""
    result = {}
    for key, name in pairs:
        value = getattr(row, name)
        if value != row._meta.get_field(name).get_default():
            result[key] = _plain(value)
    return result


def _plain(value):
    if hasattr(value, "as_tuple"):  # Decimal
        value = float(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    return value


def _without_none(entry: dict) -> dict:
    return {key: value for key, value in entry.items() if value is not None}


def _provider(row: Provider, secrets: list) -> dict:
    entry = {"name": row.name, "type": row.type}
    entry |= _changed(row, [("base_url", "base_url"), ("timeout", "timeout"), ("connect_timeout", "connect_timeout"),
                            ("idle_timeout", "idle_timeout"), ("enabled", "enabled")])
    oauth = _changed(row, [("token_url", "oauth_token_url"), ("client_id", "oauth_client_id")])
    oauth["client_secret"] = _secret(row.oauth_client_secret, secrets, "provider", row.name, "oauth_client_secret")
    oauth = _without_none(oauth)
    if oauth:
        entry["oauth"] = oauth
    return entry


def _proxy(row: ProxyServer, secrets: list) -> dict:
    entry = {"name": row.name, "url": row.url}
    entry |= _changed(row, [("username", "username")])
    entry["password"] = _secret(row.password, secrets, "proxy", row.name, "password")
    entry |= _changed(row, [("capacity", "capacity"), ("priority", "priority"), ("enabled", "enabled")])
    return _without_none(entry)


def _account(row: Account, secrets: list) -> dict:
    parts = ("account", row.provider.name, row.name)
    entry = {"provider": row.provider.name, "name": row.name}
    entry["api_key"] = _secret(row.api_key, secrets, *parts, "api_key")
    entry["refresh_token"] = _secret(row.refresh_token, secrets, *parts, "refresh_token")
    if not row.refresh_token:
        # an access token with no refresh token was given by the operator; otherwise OAuth keeps it
        entry["access_token"] = _secret(row.access_token, secrets, *parts, "access_token")
    entry |= _changed(row, [("project_id", "project_id"), ("models", "allowed_models"), ("weight", "weight"),
                            ("enabled", "enabled"), ("tags", "tags")])
    if row.proxy_pinned and row.proxy:
        entry["proxy"] = row.proxy.name
    return _without_none(entry)


def _routes() -> list:
    routes = []
    for row in ModelRoute.objects.prefetch_related("targets__provider").order_by("model"):
        chain = [target.provider.name for target in row.targets.all()]
        if not chain:
            continue  # a route with no provider cannot be written (nor served)
        entry = {"model": row.model}
        entry |= {"provider": chain[0]} if len(chain) == 1 else {"providers": chain}
        entry |= _changed(row, [("upstream_model", "upstream_model"), ("priority", "priority"), ("enabled", "enabled")])
        routes.append(entry)
    return routes


def _key(row: ApiKey) -> dict:
    entry = {"name": row.name}
    entry |= _changed(row, [("models", "allowed_models"), ("rpm", "rpm"), ("tpm", "tpm"), ("budget_usd", "budget_usd"),
                            ("budget_period", "budget_period"), ("expires_at", "expires_at"),
                            ("allowed_ips", "allowed_ips"), ("tags", "tags"), ("revoked", "revoked")])
    return entry


def _price(row: ModelPrice) -> dict:
    entry = {"model": row.model, "input_per_million": _plain(row.input_per_million),
             "output_per_million": _plain(row.output_per_million)}
    if row.cached_input_per_million is not None:
        entry["cached_input_per_million"] = _plain(row.cached_input_per_million)
    if row.per_image is not None:
        entry["per_image"] = _plain(row.per_image)
    if row.valid_from != PRICE_EPOCH:
        entry["valid_from"] = _plain(row.valid_from)
    return entry
