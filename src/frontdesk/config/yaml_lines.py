"""YAML loading that remembers the line of every value, so errors can say file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from frontdesk.errors import ConfigError

Loc = tuple[str | int, ...]


class LocatedYaml:
    """Parsed YAML data plus a map from a value's path (keys and indexes) to its line."""

    def __init__(self, path: Path, data: Any, lines: dict[Loc, int]) -> None:
        self.path = path
        self.data = data
        self.lines = lines

    def line_of(self, loc: Loc) -> int | None:
        # Pydantic error locations can run deeper than the YAML (or name a missing key):
        # fall back to the nearest enclosing value that the file has.
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), None)

    def where(self, loc: Loc) -> str:
        line = self.line_of(loc)
        return f"{self.path}:{line}" if line else str(self.path)


def load_located_yaml(path: Path) -> LocatedYaml:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read file ({exc})") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}{line}: invalid YAML: {problem}") from exc
    lines: dict[Loc, int] = {}
    if node is None:
        return LocatedYaml(path, None, lines)
    data = _convert(node, (), lines, path)
    return LocatedYaml(path, data, lines)


def _convert(node: yaml.Node, loc: Loc, lines: dict[Loc, int], path: Path) -> Any:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, path)
            result[key] = _convert(value_node, (*loc, key), lines, path)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*loc, i), lines, path) for i, item in enumerate(node.value)]
    return _scalar(node, path)


def _scalar(node: yaml.Node, path: Path) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise ConfigError(f"{path}:{node.start_mark.line + 1}: a key must be a plain value")
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}:{node.start_mark.line + 1}: {exc}") from exc
    finally:
        loader.dispose()
