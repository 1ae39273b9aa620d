"""Validating a target's configuration set: each element against its kind's JSON Schema
(jsonschema, Draft 2020-12), its `id` against the element's, and references between elements
(`"x-ref-kind": "sorter"` on a property: the value must name an element of that kind)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from frontdesk.errors import ConfigError


def check_schema(kind: str, schema: dict[str, Any]) -> None:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ConfigError(f"the JSON Schema of kind {kind!r} is not valid: {exc.message}") from exc


def _path(parts: Any) -> str:
    return "/" + "/".join(str(p) for p in parts) if parts else "/"


def _references(schema: Mapping[str, Any]) -> dict[str, str]:
    """Top-level properties (and arrays of them) that name another element: field -> kind."""
    refs: dict[str, str] = {}
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, Mapping):
            continue
        kind = prop.get("x-ref-kind") or (prop.get("items") or {}).get("x-ref-kind")
        if isinstance(kind, str):
            refs[name] = kind
    return refs


def validate_configs(
    schemas: Mapping[str, dict[str, Any]],
    kinds: Mapping[str, str],
    configs: Mapping[str, dict[str, Any]],
    ids_by_kind: Mapping[str, set[str]],
) -> dict[str, list[str]]:
    """Errors per element id (an empty list: valid). `kinds` gives each id's kind;
    `ids_by_kind` the elements that exist, for references."""
    errors: dict[str, list[str]] = {}
    validators: dict[str, Draft202012Validator] = {}
    for element_id, config in configs.items():
        kind = kinds.get(element_id)
        found: list[str] = []
        if kind is None or kind not in schemas:
            errors[element_id] = [f"no schema for the kind of {element_id!r}"]
            continue
        validator = validators.get(kind)
        if validator is None:
            validator = validators[kind] = Draft202012Validator(schemas[kind])
        for error in sorted(validator.iter_errors(config), key=lambda e: list(e.path)):
            found.append(f"{_path(error.path)}: {error.message}")
        if config.get("id") != element_id:
            found.append(f"/id: must be {element_id!r}, the element's id")
        for field, ref_kind in _references(schemas[kind]).items():
            value = config.get(field)
            values = value if isinstance(value, list) else [value]
            for v in values:
                if isinstance(v, str) and v not in ids_by_kind.get(ref_kind, set()):
                    found.append(f"/{field}: {v!r} is not a {ref_kind}")
        errors[element_id] = found
    return errors
