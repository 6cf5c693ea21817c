"""YAML that remembers line numbers, with ``${VAR}`` and ``${VAR:-default}`` taken from the environment.

The document is composed (not loaded) so every mapping knows the line it starts on and the line of
each of its keys; variables are expanded in scalar values only, never in comments or keys.
"""

import re

import yaml
from yaml.constructor import SafeConstructor

__all__ = ["ConfigError", "Mapping", "Sequence", "Expanded", "parse"]

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """Something wrong in a config file, at a line of it."""

    def __init__(self, line: int, message: str, source: str = ""):
        super().__init__(message)
        self.line = line
        self.message = message
        self.source = source

    def __str__(self):
        return f"{self.source or '<config>'}:{self.line}: {self.message}"


class Mapping(dict):
    """A YAML mapping: ``line`` is where it starts, ``lines[key]`` where each key is."""

    def __init__(self, line: int):
        super().__init__()
        self.line = line
        self.lines = {}

    def line_of(self, key) -> int:
        return self.lines.get(key, self.line)


class Sequence(list):
    def __init__(self, line: int):
        super().__init__()
        self.line = line


class Expanded(str):
    """A value that came (at least partly) from the environment; typed fields parse it as text."""


def parse(text: str, environ) -> Mapping:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ConfigError(mark.line + 1 if mark else 1, f"not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(1, f"not valid YAML: {exc}") from None
    if node is None:
        raise ConfigError(1, "the file is empty")
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(node.start_mark.line + 1, "the file must be a mapping (providers:, routes:, ...)")
    return _value(node, environ, SafeConstructor())


def _value(node, environ, constructor):
    if isinstance(node, yaml.MappingNode):
        return _mapping(node, environ, constructor)
    if isinstance(node, yaml.SequenceNode):
        result = Sequence(node.start_mark.line + 1)
        result.extend(_value(item, environ, constructor) for item in node.value)
        return result
    if node.tag == "tag:yaml.org,2002:str" and "$" in node.value:
        return expand(node.value, node.start_mark.line + 1, environ)
    try:
        return constructor.construct_object(node)
    except yaml.YAMLError as exc:
        raise ConfigError(node.start_mark.line + 1, f"cannot read this value: {exc}") from None


def _mapping(node, environ, constructor) -> Mapping:
    result = Mapping(node.start_mark.line + 1)
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode):
            raise ConfigError(line, "a key must be a plain name")
        key = key_node.value
        if key in result:
            raise ConfigError(line, f"duplicate key '{key}' (first on line {result.lines[key]})")
        result.lines[key] = line
        result[key] = _value(value_node, environ, constructor)
    return result


def expand(text: str, line: int, environ) -> str:
    """Replaces ``${VAR}`` and ``${VAR:-default}`` (the default also when VAR is empty, as in sh)."""
    if "${" in _VARIABLE.sub("", text):
        raise ConfigError(line, f"malformed variable in {text!r} (write ${{NAME}} or ${{NAME:-default}})")

    def one(match):
        name, default = match.group(1), match.group(2)
        value = environ.get(name)
        if value:
            return value
        if default is not None:
            return default
        if value is None:
            raise ConfigError(line, f"${{{name}}} is not set (set it, or give a default: ${{{name}:-value}})")
        return value

    expanded = _VARIABLE.sub(one, text)
    return Expanded(expanded) if expanded != text else expanded
