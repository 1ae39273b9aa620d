"""Documents that are not knowledge atoms: Markdown with a publishing tool's front matter
(Hugo, Jekyll, Docusaurus, MkDocs, Obsidian...), plain Markdown and text, converted HTML,
PDF and DOCX. Their front matter's known keys are mapped (title, aliases, tags, description,
date); the others are kept as metadata."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

# Where each known key is found, first match wins.
_TITLE_KEYS = ("title", "name", "sidebar_label", "linkTitle")
_DESCRIPTION_KEYS = ("description", "summary", "excerpt", "subtitle")
_DATE_KEYS = ("date", "created", "publishDate", "pubDate", "lastmod", "updated")
_KNOWN = {"title", "aliases", "alias", "tags", "description", "date"}
_MAX_TAGS = 50


@dataclass
class DocumentMeta:
    """What a document's front matter says, mapped: `extra` holds every other key."""

    title: str = ""
    aliases: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    description: str = ""
    date: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        if self.aliases:
            meta["aliases"] = self.aliases
        if self.description:
            meta["description"] = self.description
        if self.date:
            meta["date"] = self.date
        if self.extra:
            meta["front_matter"] = self.extra
        return meta


def map_front_matter(fields: dict[str, Any]) -> DocumentMeta:
    """The known keys of a publishing tool's front matter, and the rest as JSON values.
    Raises ValueError for a value that cannot be stored (YAML's !!binary)."""
    meta = DocumentMeta()
    meta.title = _first_text(fields, _TITLE_KEYS)
    meta.description = _first_text(fields, _DESCRIPTION_KEYS)
    for key in _DATE_KEYS:
        if fields.get(key) not in (None, ""):
            meta.date = _as_text(json_value(fields[key]))
            break
    meta.aliases = _text_list(fields.get("aliases", fields.get("alias")))
    meta.tags = _text_list(fields.get("tags"))[:_MAX_TAGS]
    meta.extra = {
        str(key): json_value(value)
        for key, value in fields.items()
        if str(key) not in _KNOWN and not (key in _TITLE_KEYS and _as_text(value) == meta.title)
    }
    return meta


def json_value(value: Any) -> Any:
    """A front matter value as JSON can hold it: dates and times as ISO text, mappings with
    text keys. Bytes (YAML's !!binary) are refused with ValueError."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_value(v) for v in value]
    if isinstance(value, bytes):
        shown = base64.b64encode(value[:12]).decode()
        raise ValueError(f"binary data ({shown}...) cannot be stored as metadata")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_as_text(v) for v in value)
    return " ".join(str(value).split())


def _first_text(fields: dict[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        text = _as_text(json_value(fields.get(key)))
        if text:
            return text
    return ""


def _text_list(value: Any) -> list[str]:
    """Tags or aliases written as a list, or as one text separated by commas (Jekyll also
    writes them separated by spaces, which cannot be told apart from a tag with spaces)."""
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else re.split(r",", str(value))
    seen: list[str] = []
    for item in items:
        text = _as_text(json_value(item)).strip().lstrip("#")
        if text and text not in seen:
            seen.append(text)
    return seen
