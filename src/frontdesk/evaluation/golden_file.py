"""Golden files (YAML checked by a pydantic model), with errors that point into the file:
`cases[3] (refund-time).facts: ...` rather than `cases.3.facts`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from frontdesk.errors import ConfigError

Golden = TypeVar("Golden", bound=BaseModel)


def load_golden_file(path: Path, model: type[Golden], what: str) -> Golden:
    """`what` names the file in the not-found message ("golden answers file")."""
    data: Any = None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return model.model_validate(data)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: {what} not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{path}: {where(data, first['loc'])}: {first['msg']}") from exc


def where(data: Any, loc: Sequence[str | int]) -> str:
    """A validation error's location, with list positions and the item's `id` when it has one."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int):
            label = f"[{key}]"
            try:
                node = node[key]
                if isinstance(node, dict) and node.get("id"):
                    label += f" ({node['id']})"
            except (IndexError, KeyError, TypeError):
                node = None
            parts.append(label)
        else:
            parts.append(("." if parts else "") + key)
            node = node.get(key) if isinstance(node, dict) else None
    return "".join(parts) or "file"
