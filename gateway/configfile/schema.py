"""What a config file may say: one table of keys per section, and a builder that turns each entry
into an ``Entry`` (the row's identity and the model field values the file wants)."""

import datetime
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

from accounts.models import Account
from gateway.configfile.checks import (
    Invalid, boolean, choice, decimal, integer, labels, moment, names, networks, number, optional, text,
)
from gateway.configfile.source import ConfigError, Mapping
from gateway.models import ApiKey, BudgetPeriod, hash_key
from providers.models import ModelPrice, ModelRoute, Provider
from providers.registry import ADAPTERS
from proxies.models import ProxyServer

__all__ = ["Config", "Entry", "build", "PRICE_EPOCH", "MIN_KEY_LENGTH"]

# Prices without valid_from apply since this moment, so reloading a file finds the same row.
PRICE_EPOCH = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
MIN_KEY_LENGTH = 16


@dataclass(frozen=True)
class Key:
    field: str | None  # the model field it sets; None: the section's builder reads it
    check: object
    required: bool = False


PROVIDER_KEYS = {
    "name": Key("name", text, required=True),
    "type": Key("type", choice(list(ADAPTERS)), required=True),
    "base_url": Key("base_url", text),
    "timeout": Key("timeout", number),
    "connect_timeout": Key("connect_timeout", number),
    "idle_timeout": Key("idle_timeout", number),
    "enabled": Key("enabled", boolean),
    "oauth": Key(None, lambda value: value),
}
OAUTH_KEYS = {
    "token_url": Key("oauth_token_url", text),
    "client_id": Key("oauth_client_id", text),
    "client_secret": Key("oauth_client_secret", text),
}
PROXY_KEYS = {
    "name": Key("name", text, required=True),
    "url": Key("url", text, required=True),
    "username": Key("username", text),
    "password": Key("password", text),
    "capacity": Key("capacity", integer),
    "priority": Key("priority", integer),
    "enabled": Key("enabled", boolean),
}
ACCOUNT_KEYS = {
    "provider": Key(None, text, required=True),
    "name": Key("name", text, required=True),
    "api_key": Key("api_key", text),
    "refresh_token": Key("refresh_token", text),
    "access_token": Key("access_token", text),
    "project_id": Key("project_id", text),
    "models": Key("allowed_models", names),
    "weight": Key("weight", integer),
    "enabled": Key("enabled", boolean),
    "tags": Key("tags", labels),
    "proxy": Key(None, optional(text)),
}
ROUTE_KEYS = {
    "model": Key("model", text, required=True),
    "provider": Key(None, text),
    "providers": Key(None, names),
    "upstream_model": Key("upstream_model", text),
    "priority": Key("priority", integer),
    "enabled": Key("enabled", boolean),
}
KEY_KEYS = {
    "name": Key("name", text, required=True),
    "key": Key(None, text),
    "models": Key("allowed_models", names),
    "rpm": Key("rpm", optional(integer)),
    "tpm": Key("tpm", optional(integer)),
    "budget_usd": Key("budget_usd", optional(decimal)),
    "budget_period": Key("budget_period", choice(BudgetPeriod.values)),
    "expires_at": Key("expires_at", optional(moment)),
    "allowed_ips": Key("allowed_ips", networks),
    "tags": Key("tags", labels),
    "revoked": Key("revoked", boolean),
}
PRICE_KEYS = {
    "model": Key("model", text, required=True),
    "input_per_million": Key("input_per_million", decimal, required=True),
    "output_per_million": Key("output_per_million", decimal, required=True),
    "cached_input_per_million": Key("cached_input_per_million", optional(decimal)),
    "per_image": Key("per_image", optional(decimal)),
    "valid_from": Key("valid_from", moment),
}

# Runtime state the file may set but does not reset when it says nothing (OAuth refreshes it).
KEEP_WHEN_ABSENT = {"access_token"}


@dataclass
class Entry:
    section: str
    line: int
    ident: tuple  # what names the row; compared case-insensitively, as MySQL's collation does
    label: str
    values: dict  # model field -> the value the file wants
    lines: dict  # model field -> its line, for error messages
    refs: dict = field(default_factory=dict)  # "provider" / "proxy" -> (name, line)
    targets: list = field(default_factory=list)  # a route's providers in order: [(name, line)]
    raw_key: str | None = None

    def error(self, message: str, field_name: str = "") -> ConfigError:
        return ConfigError(self.lines.get(field_name, self.line), f"{self.section} '{self.label}': {message}")


@dataclass
class Config:
    source: str
    providers: list
    proxies: list
    accounts: list
    routes: list
    keys: list
    prices: list
    default_provider: tuple | None  # (name, line)


def build(document: Mapping, source: str) -> Config:
    for name in document:
        if name not in BUILDERS and name != "default_provider":
            known = ", ".join([*BUILDERS, "default_provider"])
            raise ConfigError(document.line_of(name), f"unknown section '{name}' (known: {known})")
    sections = {name: _section(document, name, builder) for name, builder in BUILDERS.items()}
    check_key_values(sections["keys"])
    default = None
    if "default_provider" in document:
        line = document.line_of("default_provider")
        default = (_checked(text, document["default_provider"], line, "default_provider"), line)
    return Config(source=source, default_provider=default, **sections)


def _section(document: Mapping, name: str, builder) -> list:
    items = document.get(name) or []
    if not isinstance(items, list):
        raise ConfigError(document.line_of(name), f"'{name}' must be a list of entries")
    entries, seen = [], {}
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ConfigError(items.line, f"{name}[{index}] must be a mapping of keys to values")
        entry = builder(item, f"{name}[{index}]")
        if entry.ident in seen:
            raise ConfigError(entry.line, f"duplicate {name} entry '{entry.label}' (first on line {seen[entry.ident]})")
        seen[entry.ident] = entry.line
        entries.append(entry)
    return entries


def _fields(item: Mapping, keys: dict, where: str, model) -> tuple[dict, dict, dict]:
    """Checks an entry against its table: (model values incl. defaults, their lines, builder-read keys)."""
    for name in item:
        if name not in keys:
            raise ConfigError(item.line_of(name), f"{where}: unknown key '{name}' (known: {', '.join(keys)})")
    values, lines, extra = {}, {}, {}
    for name, key in keys.items():
        if name not in item:
            if key.required:
                raise ConfigError(item.line, f"{where}: '{name}' is required")
            if key.field and key.field not in KEEP_WHEN_ABSENT:
                values[key.field] = model._meta.get_field(key.field).get_default()
            continue
        value = _checked(key.check, item[name], item.line_of(name), f"{where}: '{name}'")
        if key.field:
            values[key.field], lines[key.field] = value, item.line_of(name)
        else:
            extra[name] = value
    return values, lines, extra


def _checked(check, value, line: int, what: str):
    try:
        return check(value)
    except Invalid as exc:
        raise ConfigError(line, f"{what} {exc}") from None


def provider_entry(item: Mapping, where: str) -> Entry:
    values, lines, extra = _fields(item, PROVIDER_KEYS, where, Provider)
    where = f"providers '{values['name']}'"
    oauth = extra.get("oauth") or Mapping(item.line_of("oauth"))
    if not isinstance(oauth, Mapping):
        message = f"{where}: 'oauth' must be a mapping (token_url, client_id, client_secret)"
        raise ConfigError(item.line_of("oauth"), message)
    oauth_values, oauth_lines, _ = _fields(oauth, OAUTH_KEYS, f"{where}: oauth", Provider)
    values.update(oauth_values)
    lines.update(oauth_lines)
    if not values["base_url"] and values["type"] != "mock":
        raise ConfigError(item.line, f"{where}: 'base_url' is required for type {values['type']}")
    return Entry("providers", item.line, (values["name"].casefold(),), values["name"], values, lines)


def proxy_entry(item: Mapping, where: str) -> Entry:
    values, lines, _ = _fields(item, PROXY_KEYS, where, ProxyServer)
    url, username, password = split_credentials(values["url"])
    if username or password:
        if "username" in item or "password" in item:
            raise ConfigError(item.line_of("url"), f"{where}: credentials both in 'url' and in username/password")
        values.update(url=url, username=username, password=password)
        lines.update(username=lines["url"], password=lines["url"])
    return Entry("proxies", item.line, (values["name"].casefold(),), values["name"], values, lines)


def split_credentials(url: str) -> tuple[str, str, str]:
    """``http://user:pass@host:3128`` -> (``http://host:3128``, user, pass); the parts are URL-decoded."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at:
        return url, "", ""
    username, _, password = userinfo.partition(":")
    bare = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return bare, unquote(username), unquote(password)


def account_entry(item: Mapping, where: str) -> Entry:
    values, lines, extra = _fields(item, ACCOUNT_KEYS, where, Account)
    provider, proxy = extra["provider"], extra.get("proxy")
    refs = {"provider": (provider, item.line_of("provider"))}
    if proxy:
        refs["proxy"] = (proxy, item.line_of("proxy"))
    label = f"{provider}/{values['name']}"
    ident = (provider.casefold(), values["name"].casefold())
    return Entry("accounts", item.line, ident, label, values, lines, refs=refs)


def route_entry(item: Mapping, where: str) -> Entry:
    values, lines, extra = _fields(item, ROUTE_KEYS, where, ModelRoute)
    where = f"routes '{values['model']}'"
    if ("provider" in extra) == ("providers" in extra):
        raise ConfigError(item.line, f"{where}: give either 'provider: NAME' or 'providers: [NAME, ...]'")
    chain = [extra["provider"]] if "provider" in extra else extra["providers"]
    line = item.line_of("provider" if "provider" in extra else "providers")
    if not chain:
        raise ConfigError(line, f"{where}: 'providers' is empty")
    folded = [name.casefold() for name in chain]
    if len(set(folded)) != len(folded):
        raise ConfigError(line, f"{where}: a provider is named twice in the chain")
    targets = [(name, line) for name in chain]
    return Entry("routes", item.line, (values["model"].casefold(),), values["model"], values, lines, targets=targets)


def key_entry(item: Mapping, where: str) -> Entry:
    values, lines, extra = _fields(item, KEY_KEYS, where, ApiKey)
    raw = extra.get("key")
    if raw is not None and len(raw) < MIN_KEY_LENGTH:
        message = f"keys '{values['name']}': 'key' must be at least {MIN_KEY_LENGTH} characters"
        raise ConfigError(item.line_of("key"), message)
    lines["key_hash"] = item.line_of("key")
    return Entry("keys", item.line, (values["name"].casefold(),), values["name"], values, lines, raw_key=raw)


def price_entry(item: Mapping, where: str) -> Entry:
    values, lines, _ = _fields(item, PRICE_KEYS, where, ModelPrice)
    if "valid_from" not in item:
        values["valid_from"] = PRICE_EPOCH
    label = values["model"] if "valid_from" not in item else f"{values['model']} from {values['valid_from']:%Y-%m-%d}"
    ident = (values["model"].casefold(), values["valid_from"])
    return Entry("prices", item.line, ident, label, values, lines)


BUILDERS = {
    "providers": provider_entry,
    "proxies": proxy_entry,
    "accounts": account_entry,
    "routes": route_entry,
    "keys": key_entry,
    "prices": price_entry,
}


def check_key_values(keys: list):
    """Two entries may not carry the same key (the hash is unique)."""
    seen = {}
    for entry in keys:
        if entry.raw_key is None:
            continue
        digest = hash_key(entry.raw_key)
        if digest in seen:
            raise entry.error(f"the same key as keys '{seen[digest]}'", "key_hash")
        seen[digest] = entry.label
