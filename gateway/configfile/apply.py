"""Writes a Config to the database in one transaction, saving only rows that differ from the file.

An unchanged row is not saved at all, so its ``updated_at`` stays: loading the same file twice
changes nothing. With ``prune`` the rows the file does not name are deleted; references (an
account's provider, a route's providers) must then name entries of the file itself.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import Account
from gateway.configfile.schema import Config, Entry
from gateway.configfile.source import ConfigError
from gateway.crypto import Unreadable
from gateway.models import ApiKey, generate_key
from providers.models import ModelPrice, ModelRoute, Provider, RouteTarget
from proxies.models import ProxyServer

__all__ = ["Summary", "apply"]


@dataclass
class Summary:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    generated: list = field(default_factory=list)  # [(key name, raw key)]: printed once, never stored
    dry_run: bool = False

    def line(self, source: str) -> str:
        counts = f"{self.created} created, {self.updated} updated, {self.deleted} deleted, {self.unchanged} unchanged"
        return f"{source}: {counts}" + (" (dry run: nothing saved)" if self.dry_run else "")


class Rows:
    """One model's rows by identity: all those in the database, and those the file names."""

    def __init__(self, queryset, ident):
        self.model = queryset.model
        self.existing = {ident(row): row for row in queryset}
        self.named = {}

    def get(self, entry: Entry):
        return self.existing.get(entry.ident) or self.model()

    def keep(self, entry: Entry, row):
        self.named[entry.ident] = row

    def resolve(self, name: str, prune: bool):
        """The row a reference names; with prune, only rows the file names count."""
        ident = (name.casefold(),)
        return self.named.get(ident) or (None if prune else self.existing.get(ident))


def apply(config: Config, prune: bool = False, dry_run: bool = False) -> Summary:
    summary = Summary(dry_run=dry_run)
    try:
        with transaction.atomic():
            proxies = _sync_plain(ProxyServer.objects.all(), config.proxies, summary)
            providers = _sync_providers(config, summary, prune)
            tables = [
                proxies,
                providers,
                _sync_accounts(config.accounts, providers, proxies, summary, prune),
                _sync_routes(config.routes, providers, summary, prune),
                _sync_keys(config.keys, summary),
                _sync_plain(ModelPrice.objects.all(), config.prices, summary, _price_ident),
            ]
            if prune:
                _prune(reversed(tables), summary)
            if dry_run:
                transaction.set_rollback(True)
    except ConfigError as exc:
        exc.source = config.source
        raise
    return summary


def _name_ident(row) -> tuple:
    return (row.name.casefold(),)


def _price_ident(row) -> tuple:
    return (row.model.casefold(), row.valid_from)


def _account_ident(row) -> tuple:
    return (row.provider.name.casefold(), row.name.casefold())


def _sync_plain(queryset, entries, summary, ident=_name_ident) -> Rows:
    rows = Rows(queryset, ident)
    for entry in entries:
        rows.keep(entry, _save(rows.get(entry), entry, entry.values, summary))
    return rows


def _sync_providers(config: Config, summary: Summary, prune: bool) -> Rows:
    rows = Rows(Provider.objects.all(), _name_ident)
    default = _default_ident(config, rows, prune)
    for entry in config.providers:
        values = entry.values if default is None else {**entry.values, "is_default": entry.ident == default}
        rows.keep(entry, _save(rows.get(entry), entry, values, summary))
    if default is not None and not prune:
        for ident, row in rows.existing.items():
            if ident not in rows.named and row.is_default != (ident == default):
                row.is_default = ident == default
                row.save(update_fields=["is_default", "updated_at"])
                summary.updated += 1
    return rows


def _default_ident(config: Config, rows: Rows, prune: bool):
    if config.default_provider is None:
        return None
    name, line = config.default_provider
    ident = (name.casefold(),)
    if any(entry.ident == ident for entry in config.providers) or (not prune and ident in rows.existing):
        return ident
    raise ConfigError(line, f"default_provider names an unknown provider '{name}'")


def _sync_accounts(entries, providers: Rows, proxies: Rows, summary: Summary, prune: bool) -> Rows:
    rows = Rows(Account.objects.select_related("provider"), _account_ident)
    for entry in entries:
        row = rows.get(entry)
        values = {**entry.values, "provider": _reference(providers, entry, entry.refs["provider"], "provider", prune)}
        if "proxy" in entry.refs:
            values.update(proxy=_reference(proxies, entry, entry.refs["proxy"], "proxy", prune), proxy_pinned=True)
        elif row.proxy_pinned:
            # the file pinned a proxy before and no longer does: hand the account back to the pool
            values.update(proxy=None, proxy_pinned=False)
        rows.keep(entry, _save(row, entry, values, summary))
    return rows


def _sync_routes(entries, providers: Rows, summary: Summary, prune: bool) -> Rows:
    rows = Rows(ModelRoute.objects.prefetch_related("targets"), lambda row: (row.model.casefold(),))
    for entry in entries:
        row = rows.get(entry)
        chain = [_reference(providers, entry, target, "provider", prune).pk for target in entry.targets]
        current = [target.provider_id for target in row.targets.all()] if row.pk else None
        row = _save(row, entry, entry.values, summary, force=current != chain)
        if current != chain:
            row.targets.all().delete()
            RouteTarget.objects.bulk_create(
                RouteTarget(route=row, provider_id=pk, position=position) for position, pk in enumerate(chain)
            )
        rows.keep(entry, row)
    return rows


def _sync_keys(entries, summary: Summary) -> Rows:
    rows = Rows(ApiKey.objects.all(), _name_ident)
    for entry in entries:
        row = rows.get(entry)
        raw = entry.raw_key if entry.raw_key is not None else (generate_key() if row.pk is None else None)
        new_key = raw is not None and (row.pk is None or not row.matches_key(raw))
        if new_key:
            row.set_key(raw)
            if ApiKey.objects.filter(key_hash=row.key_hash).exclude(pk=row.pk).exists():
                raise entry.error("this key is already used by another gateway key", "key_hash")
        row = _save(row, entry, entry.values, summary, force=new_key)
        if new_key and entry.raw_key is None:
            summary.generated.append((row.name, raw))
        rows.keep(entry, row)
    return rows


def _reference(rows: Rows, entry: Entry, ref: tuple, kind: str, prune: bool):
    name, line = ref
    row = rows.resolve(name, prune)
    if row is None:
        hint = " (with --prune it must be in the file)" if (name.casefold(),) in rows.existing else ""
        raise ConfigError(line, f"{entry.section} '{entry.label}': unknown {kind} '{name}'{hint}")
    return row


def _save(row, entry: Entry, values: dict, summary: Summary, force: bool = False):
    """Sets the values that differ and saves; a row that already matches is left untouched."""
    changed = [name for name, value in values.items() if not _same(row, name, value)]
    created = row.pk is None
    if not (created or changed or force):
        summary.unchanged += 1
        return row
    for name in changed:
        setattr(row, name, values[name])
    _validate(row, entry)
    try:
        row.save()
    except IntegrityError as exc:
        raise entry.error(f"cannot be saved: {exc}") from None
    if created:
        summary.created += 1
    else:
        summary.updated += 1
    return row


def _same(row, name: str, wanted) -> bool:
    model_field = row._meta.get_field(name)
    if model_field.is_relation:
        return getattr(row, model_field.attname) == (wanted.pk if wanted is not None else None)
    current = getattr(row, name)
    if isinstance(current, Unreadable):
        return False  # cannot compare with a secret we cannot read: write the file's value
    if isinstance(current, Decimal) and wanted is not None:
        return current == Decimal(str(wanted))
    return current == wanted


def _validate(row, entry: Entry):
    try:
        row.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        name, messages = next(iter(exc.message_dict.items()))
        raise entry.error(f"{name}: {' '.join(messages)}", name) from None


def _prune(tables, summary: Summary):
    for rows in tables:
        kept = [row.pk for row in rows.named.values()]
        _, counts = rows.model.objects.exclude(pk__in=kept).delete()
        summary.deleted += counts.get(rows.model._meta.label, 0)
