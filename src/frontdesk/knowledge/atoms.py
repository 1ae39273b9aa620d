"""Knowledge atoms: Markdown with YAML front matter and optional trailing Q:/A: FAQ pairs."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

AtomType = Literal[
    "error",
    "procedure",
    "playbook",
    "interface_input",
    "troubleshooting_tip",
    "config_template",
    "pitfall",
    "faq",
]

_FAQ_Q = re.compile(r"^Q:\s*(.+)$")
_FAQ_A = re.compile(r"^A:\s*(.*)$")


_STR_TAG = "tag:yaml.org,2002:str"
# Fields read as the text written in the file: `version: 1.10` is "1.10", not the float 1.1.
_AS_WRITTEN = {
    "version": {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"},
    "created": {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp"},
}
_REQUIRED = "title, author, type, created and version"
MAX_FRONT_MATTER_CHARS = 16_384
_YMD = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


class AtomMeta(BaseModel):
    model_config = ConfigDict(extra="allow")
    title: str = Field(min_length=1, max_length=300)
    author: str = Field(min_length=1)
    type: AtomType
    created: date
    version: str = Field(min_length=1, max_length=32)
    tags: list[str] = Field(default_factory=list)
    related: list[str] = Field(default_factory=list)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("empty; write the atom's version, e.g. version: 1.2")
        if isinstance(value, bool):
            raise ValueError("a version is a number or text such as 3, 1.2 or 2.0.1, not yes/no")
        if isinstance(value, int | float):  # built in code; a file's version is read as text
            return str(value)
        return value

    @field_validator("created", mode="before")
    @classmethod
    def _unambiguous_date(cls, value: Any) -> Any:
        return _as_date(value)


def _as_date(value: Any) -> date:
    """A date written year first (2024-03-05, 2024-3-5, 20240305, an ISO date and time);
    "03/05/2024" and the like are refused: day and month could be either way round."""
    if value is None:
        raise ValueError("empty; write the date the atom was written, e.g. created: 2024-03-05")
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2024-03-05")
    text = value.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        pass
    match = _YMD.match(text)
    if match:
        try:
            day = date(*(int(part) for part in match.groups()))
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a real date ({exc})") from None
        if match.end() == len(text):
            return day
    raise ValueError(f"{text!r} is not a date; write it as YYYY-MM-DD, e.g. 2024-03-05")


@dataclass(frozen=True)
class FaqPair:
    question: str
    answer: str
    line: int


@dataclass
class Atom:
    path: Path
    meta: AtomMeta
    body: str
    body_line: int  # line of the body's first line in the file, for messages
    faqs: list[FaqPair] = field(default_factory=list)


class AtomError(ValueError):
    """A file that is not a valid atom; the message starts with file:line.

    `code` is "invalid_front_matter" (no front matter, unclosed, not YAML, not a mapping) or
    "invalid_metadata" (a field missing or of the wrong kind)."""

    def __init__(self, path: Path, line: int, reason: str, *, code: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path, self.line, self.reason, self.code = path, line, reason, code


class _FrontMatterLoader(yaml.SafeLoader):
    """Safe YAML whose impossible dates (2024-13-45) are YAML errors with a line, not a bare
    ValueError from deep inside the constructor, and without aliases: nine nested `*a`
    references in a 1 KB file expand to hundreds of millions of values when the metadata is
    stored (the YAML "billion laughs")."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in front matter", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a real date ({exc})", node.start_mark
            ) from exc


_FrontMatterLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", _FrontMatterLoader.construct_yaml_timestamp
)


def load_front_matter(text: str) -> Any:
    """The front matter's YAML, with `version` and `created` kept as written when they are
    numbers or dates (so that `version: 1.10` stays "1.10")."""
    loader = _FrontMatterLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if (
                    isinstance(key, yaml.ScalarNode)
                    and isinstance(value, yaml.ScalarNode)
                    and value.tag in _AS_WRITTEN.get(key.value, ())
                ):
                    value.tag = _STR_TAG
        return loader.construct_document(node)
    finally:
        loader.dispose()


@dataclass(frozen=True)
class FrontMatter:
    """A file's front matter block: its fields, and where the block ends."""

    fields: dict[str, Any]
    lines: list[str]  # the whole file's lines
    end: int  # index of the closing --- (or +++) line
    style: str  # "yaml" (---) or "toml" (+++, Hugo)


ATOM_TYPES = frozenset(get_args(AtomType))
_ATOM_KEYS = ("author", "type", "created", "version", "related")


def looks_like_atom(fields: dict[str, Any]) -> bool:
    """Whether front matter is meant as a knowledge atom's (and is checked as one) rather
    than a publishing tool's (Hugo, Jekyll, Docusaurus, MkDocs, Obsidian...), whose file is
    indexed as a document. An atom names a `type` from the atom vocabulary, or has most of
    the atom's own keys with `created` or `related`, which publishing tools do not use
    together (their date is `date`): `type: recipe` beside author, created and version is
    an atom written wrong, and is reported."""
    kind = fields.get("type")
    if isinstance(kind, str) and kind.strip().lower() in ATOM_TYPES:
        return True
    keys = {key for key in _ATOM_KEYS if key in fields}
    return bool(keys & {"created", "related"}) and len(keys) >= 3


def read_front_matter(path: Path, text: str) -> FrontMatter | None:
    """The front matter of a Markdown file: YAML between --- lines, or TOML between +++
    lines (Hugo); None when the file has none. A block that is not closed, does not parse or
    is not a mapping raises AtomError (invalid_front_matter) with its line."""
    lines = text.splitlines()
    bad_front = "invalid_front_matter"
    if not lines or lines[0].strip() not in ("---", "+++"):
        return None
    marker = lines[0].strip()
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == marker)
    except StopIteration:
        reason = f"front matter is not closed with a {marker} line"
        raise AtomError(path, 1, reason, code=bad_front) from None
    size = sum(len(line) + 1 for line in lines[1:end])
    if size > MAX_FRONT_MATTER_CHARS:  # PyYAML reads about 50 KB a second: keep it short
        reason = (f"front matter of {size} characters, over {MAX_FRONT_MATTER_CHARS}: keep the "
                  "fields short and put text in the body")  # fmt: skip
        raise AtomError(path, 1, reason, code=bad_front)
    if marker == "+++":
        try:
            raw: Any = tomllib.loads("\n".join(lines[1:end]))
        except tomllib.TOMLDecodeError as exc:
            found = re.search(r"at line (\d+)", str(exc))
            line = int(found.group(1)) + 1 if found else 1
            reason = f"invalid TOML front matter: {exc}"
            raise AtomError(path, line, reason, code=bad_front) from exc
        return FrontMatter(raw, lines, end, "toml")
    try:
        raw = load_front_matter("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        reason = f"invalid YAML front matter: {_one_line(exc)}"
        raise AtomError(path, line, reason, code=bad_front) from exc
    if not isinstance(raw, dict):
        raise AtomError(path, 2, "front matter must be a mapping of fields", code=bad_front)
    return FrontMatter(raw, lines, end, "yaml")


def parse_atom(path: Path, text: str | None = None, front: FrontMatter | None = None) -> Atom:
    """An atom from its file's text (or from its front matter, already read)."""
    if front is None:
        if text is None:
            text = path.read_text(encoding="utf-8")
        front = read_front_matter(path, text)
    if front is None:
        raise AtomError(path, 1, "missing YAML front matter (the file must start with ---)",
                        code="invalid_front_matter")  # fmt: skip
    lines, end = front.lines, front.end
    try:
        meta = AtomMeta.model_validate(front.fields)
    except ValidationError as exc:
        missing = [str(err["loc"][0]) for err in exc.errors() if err["type"] == "missing"]
        problems = "; ".join(
            [f"{'.'.join(str(p) for p in err['loc'])}: {_message(err['msg'])}"
             for err in exc.errors() if err["type"] != "missing"]
            + ([f"missing {', '.join(missing)} (every atom has {_REQUIRED})"] if missing else [])
        )  # fmt: skip
        line = _field_line(lines, end, exc)
        raise AtomError(path, line, problems, code="invalid_metadata") from exc
    body_lines, faqs = _split_faqs(lines[end + 1 :], first_line=end + 2)
    return Atom(path, meta, "\n".join(body_lines).strip(), end + 2, faqs)


def _one_line(exc: yaml.YAMLError) -> str:
    """PyYAML's message without its quoted-source excerpt (the line number says where)."""
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem:
        return f"{context}, {problem}" if context else str(problem)
    return " ".join(str(exc).split())


def _message(msg: str) -> str:
    return msg.removeprefix("Value error, ")


def _field_line(lines: list[str], end: int, exc: ValidationError) -> int:
    """The line of the first field written wrong; line 1 when only missing fields are."""
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else ""
        for i in range(1, end):
            if name and lines[i].startswith(f"{name}:"):
                return i + 1
    return 1


def _split_faqs(lines: list[str], first_line: int) -> tuple[list[str], list[FaqPair]]:
    """FAQ pairs sit at the bottom: from the first `Q:` line that starts the trailing block."""
    start = None
    for i, line in enumerate(lines):
        if _FAQ_Q.match(line.strip()):
            start = i
            break
    if start is None:
        return lines, []
    faqs: list[FaqPair] = []
    question: str | None = None
    q_line = 0
    answer: list[str] = []
    for i, raw in enumerate(lines[start:], start=start):
        line = raw.strip()
        q = _FAQ_Q.match(line)
        a = _FAQ_A.match(line)
        if q:
            if question is not None and answer:
                faqs.append(FaqPair(question, " ".join(answer).strip(), q_line))
            question, q_line, answer = q.group(1).strip(), first_line + i, []
        elif a and question is not None:
            answer = [a.group(1)]
        elif line and question is not None and answer:
            answer.append(line)
    if question is not None and answer:
        faqs.append(FaqPair(question, " ".join(answer).strip(), q_line))
    return lines[:start], faqs
