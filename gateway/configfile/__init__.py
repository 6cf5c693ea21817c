"""Configuration as code: a YAML file describing providers, proxies, accounts, routes, keys and
prices, loaded idempotently (``manage.py loadconfig``) and written back (``manage.py exportconfig``).

    config = read_config("config/example.yaml")      # ConfigError names the file and line
    summary = apply_config(config, prune=False, dry_run=False)
    print(summary.line(config.source))
    text = export_config()
"""

import os
from pathlib import Path

from gateway.configfile.apply import Summary, apply
from gateway.configfile.export import export, placeholder
from gateway.configfile.schema import Config, build
from gateway.configfile.source import ConfigError, parse

__all__ = ["ConfigError", "Config", "Summary", "read_config", "parse_config", "apply_config", "export_config",
           "placeholder"]


def parse_config(text: str, source: str = "<config>", environ=None) -> Config:
    """Reads and checks a config's text without touching the database."""
    try:
        return build(parse(text, os.environ if environ is None else environ), source)
    except ConfigError as exc:
        exc.source = source
        raise


def read_config(path, environ=None) -> Config:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(0, f"cannot read the file: {exc.strerror}", str(path)) from None
    return parse_config(text, str(path), environ)


def apply_config(config: Config, prune: bool = False, dry_run: bool = False) -> Summary:
    """Upserts everything in one transaction; on any error nothing is applied."""
    return apply(config, prune=prune, dry_run=dry_run)


def export_config() -> str:
    return export()
