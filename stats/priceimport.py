"""Prices from a JSON or YAML file: a list of {model, input_per_million, output_per_million,
cached_input_per_million?, valid_from?}, upserted by (model, valid_from).

The entries are the config file's ``prices:`` section (a file holding just that section works too),
so they are checked and saved by the same code as ``loadconfig``: errors name the entry and its line,
valid_from defaults to 2000-01-01T00:00:00Z, and an unchanged price is not saved again.
"""

import os
from pathlib import Path

import yaml
from yaml.constructor import SafeConstructor

from gateway.configfile import Config, ConfigError, Summary, apply_config
from gateway.configfile.schema import build
from gateway.configfile.source import Mapping, _value  # the line-aware reader; parse() wants a mapping

__all__ = ["read_prices", "import_prices"]

OTHER_SECTIONS = ("providers", "proxies", "accounts", "routes", "keys")


def read_prices(path) -> Config:
    """The file's prices as a Config holding nothing else; ConfigError names the file, line and entry."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(0, f"cannot read the file: {exc.strerror}", source) from None
    try:
        config = build(_document(text), source)
    except ConfigError as exc:
        exc.source = source
        raise
    if any(getattr(config, name) for name in OTHER_SECTIONS) or config.default_provider:
        raise ConfigError(1, "this file has more than prices: load it with loadconfig", source)
    return config


def _document(text: str) -> Mapping:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)  # JSON is YAML too
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(mark.line + 1 if mark else 1, f"neither JSON nor YAML: {exc}") from None
    if node is None:
        raise ConfigError(1, "the file is empty")
    value = _value(node, os.environ, SafeConstructor())
    if isinstance(value, list):
        document = Mapping(value.line)
        document["prices"], document.lines["prices"] = value, value.line
        return document
    if isinstance(value, Mapping):
        return value
    raise ConfigError(node.start_mark.line + 1, "the file must be a list of prices")


def import_prices(config: Config, dry_run: bool = False) -> Summary:
    """Upserts the prices in one transaction; on any error none is saved."""
    return apply_config(config, prune=False, dry_run=dry_run)
