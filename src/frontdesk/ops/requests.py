"""A bulk-change request in words -> which elements, and what to do to each (no LLM).

The grammar is small; its words come from the target's JSON Schemas (each kind's `x-aliases`,
each property's `title` and `x-aliases`, enum values and their `x-value-aliases`) and from the
elements' own values (regions, cities, firmware versions...):

    request   := [verb] change selector | selector [":"] change
    change    := "set"|"change"|"move"|"put"... FIELD ["to"|"at"] VALUE   (replace)
               | FIELD VALUE                                            (replace)
               | "increase"|"raise"... FIELD "by" NUMBER                (relative)
               | "decrease"|"lower"|"reduce"... FIELD "by" NUMBER
               | "add" VALUE ["to" FIELD]                                (to a list)
               | "remove"|"drop" VALUE ["from" FIELD]                     (from a list)
               | "enable"|"disable"                                      (the `enabled` field)
    selector  := [every|all|each] KIND [filter...] ["except" IDS]
               | IDS                      D03, D04 and D09 / D01 to D06 / S01-S05
    filter    := VALUE of a field of KIND ("in Leinster", "Cork depots", "running 4.1.2",
                 "run by Fastway"), or an element of another kind that KIND refers to
                 ("routes leaving D10": routes whose origin is D10)

VALUE is read by the field's type: HH:MM for times, whole numbers, x.y.z versions, an enum
value or one of its aliases, true/false. Several values of one field select either; filters
on different fields must all hold. Without ids, a filter or a quantifier (every, all, each)
the request is refused rather than guessed.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from frontdesk.errors import InvalidRequestError
from frontdesk.interfaces import TargetElement
from frontdesk.text import stem

Operation = Literal["replace", "increase", "decrease", "add", "remove"]

_TOKEN = re.compile(r"\d{1,2}:\d{2}|\d+(?:\.\d+)+|[^\W_]+(?:[-'][^\W_]+)*")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_VERSION = re.compile(r"^\d+(?:\.\d+){2,}$")
_RANGE = re.compile(r"^([A-Za-z]+-?)(\d+)-(?:[A-Za-z]+-?)?(\d+)$")
_EXCEPT = ("except", "excluding", "but not", "other than", "apart from", "not including")
_QUANTIFIERS = {"every", "all", "each", "any"}
_INCREASE = {"increase", "raise", "bump", "extend", "lengthen"}
_DECREASE = {"decrease", "lower", "reduce", "cut", "shorten", "drop"}
_ADD = {"add", "include", "append"}
_REMOVE = {"remove", "drop", "delete"}
_ON = {"enable", "activate", "reactivate"}
_OFF = {"disable", "deactivate"}
HELP = (
    "write the change as e.g. 'set the cut-off to 18:30 for every depot in Leinster except "
    "D07', 'D19, D20: capacity per hour 700', 'increase capacity by 200 for the Dublin "
    "depots', 'add DPD to the carriers of every depot in Connacht', 'disable depot D14'"
)


@dataclass
class _Tok:
    text: str
    low: str
    stem: str
    index: int
    used: bool = False


@dataclass
class FieldRef:
    path: tuple[str, ...]  # ("schedule", "open")
    schema: dict[str, Any]

    @property
    def pointer(self) -> str:
        return "/" + "/".join(self.path)


@dataclass
class ChangeRequest:
    """What a request asks for: the kind, the selector, the field, the operation and value."""

    kind: str
    field: FieldRef
    operation: Operation
    value: Any
    ids: list[str] = dataclasses.field(default_factory=list)  # named explicitly
    where: dict[str, list[Any]] = dataclasses.field(default_factory=dict)  # field -> any of
    except_ids: list[str] = dataclasses.field(default_factory=list)
    everything: bool = False  # "every depot": no filter needed

    def selector(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "ids": self.ids,
            "where": self.where,
            "except": self.except_ids,
            "all": self.everything,
        }


class ChangeSpec(BaseModel):
    """A change request as structured data: what a model is asked for when the grammar cannot
    read a request (`RequestParser.from_spec` checks it as strictly as the grammar's output)."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="The kind of element to change, e.g. depot")
    field: str = Field(description="The field, as a JSON pointer, e.g. /cutoff or /schedule/close")
    operation: Operation = "replace"
    value: Any = Field(description="The new value; for increase/decrease the amount")
    ids: list[str] = Field(default_factory=list, description="Element ids named explicitly")
    where: dict[str, list[Any]] = Field(
        default_factory=dict,
        description='Filters: field pointer -> accepted values, e.g. {"/region": ["Leinster"]}',
    )
    except_ids: list[str] = Field(default_factory=list, description="Ids left out")
    all: bool = Field(default=False, description="Every element of the kind (no filter)")


def _tokens(text: str) -> list[_Tok]:
    return [
        _Tok(m.group(0), m.group(0).lower(), stem(m.group(0).lower()), i)
        for i, m in enumerate(_TOKEN.finditer(text))
    ]


def _phrase(text: str) -> tuple[str, ...]:
    return tuple(stem(t.lower()) for t in _TOKEN.findall(text))


def _find(tokens: Sequence[_Tok], phrase: tuple[str, ...], *, free: bool = True) -> list[int]:
    """Start indexes where `phrase` (stems) occurs over tokens not used yet."""
    n = len(phrase)
    if not n:
        return []
    return [
        i
        for i in range(len(tokens) - n + 1)
        if all(tokens[i + k].stem == phrase[k] for k in range(n))
        and not (free and any(tokens[i + k].used for k in range(n)))
    ]


def _use(tokens: Sequence[_Tok], start: int, length: int) -> None:
    for k in range(length):
        tokens[start + k].used = True


def _fields(schema: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[FieldRef]:
    found: list[FieldRef] = []
    for name, prop in (schema.get("properties") or {}).items():
        if name == "id" or not isinstance(prop, dict):
            continue
        found.append(FieldRef((*prefix, name), prop))
        if prop.get("type") == "object":
            found.extend(_fields(prop, (*prefix, name)))
    return found


def _aliases(ref: FieldRef) -> list[tuple[str, ...]]:
    names = [*ref.schema.get("x-aliases", []), ref.path[-1].replace("_", " ")]
    if ref.schema.get("title"):
        names.append(ref.schema["title"])
    return sorted({_phrase(n) for n in names if n}, key=len, reverse=True)


def _kind_aliases(kind: str, schema: Mapping[str, Any]) -> list[tuple[str, ...]]:
    names = [kind, f"{kind}s", *schema.get("x-aliases", [])]
    return sorted({_phrase(n) for n in names}, key=len, reverse=True)


def _types(schema: Mapping[str, Any]) -> set[str]:
    """The JSON types a property admits (through anyOf), plus 'time' and 'version'."""
    found: set[str] = set()
    options = [schema, *schema.get("anyOf", [])]
    for option in options:
        kind = option.get("type")
        if isinstance(kind, str):
            found.add(kind)
        if "enum" in option:
            found.add("enum")
        pattern = option.get("pattern", "")
        if ":" in pattern and "[0-5]" in pattern:
            found.add("time")
        if pattern.startswith("^[0-9]+\\.") or pattern.startswith("^\\d+\\."):
            found.add("version")
    return found


def _enum_values(schema: Mapping[str, Any]) -> dict[str, list[tuple[str, ...]]]:
    """Enum values (of a property or of its list items) -> the phrases that name them."""
    values: dict[str, list[tuple[str, ...]]] = {}
    for option in [schema, schema.get("items") or {}, *schema.get("anyOf", [])]:
        aliases = option.get("x-value-aliases") or {}
        for value in option.get("enum") or []:
            if isinstance(value, str):
                names = [value, *aliases.get(value, [])]
                values[value] = sorted({_phrase(n) for n in names}, key=len, reverse=True)
    return values


def _ref_kind(schema: Mapping[str, Any]) -> str | None:
    kind = schema.get("x-ref-kind") or (schema.get("items") or {}).get("x-ref-kind")
    return kind if isinstance(kind, str) else None


def _get(config: Mapping[str, Any], path: Sequence[str]) -> Any:
    value: Any = config
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


class RequestParser:
    """Reads change requests against one target's elements and schemas."""

    def __init__(
        self, elements: Sequence[TargetElement], schemas: Mapping[str, dict[str, Any]]
    ) -> None:
        self.elements = list(elements)
        self.schemas = dict(schemas)
        self.kind_of = {e.id: e.kind for e in self.elements}
        self.by_upper = {e.id.upper(): e.id for e in self.elements}

    # Selectors -------------------------------------------------------------------------

    def _ids(self, tokens: list[_Tok]) -> list[str]:
        """Element ids written out, with ranges (D01 to D06, S01-S05); marks them used."""
        found: list[str] = []
        for tok in tokens:
            if tok.used:
                continue
            upper = tok.text.upper()
            if upper in self.by_upper:
                tok.used = True
                found.append(self.by_upper[upper])
                continue
            match = _RANGE.match(tok.text)
            if match:
                expanded = self._expand(match.group(1), match.group(2), match.group(3))
                if expanded:
                    tok.used = True
                    found.extend(expanded)
        # "D01 to D06" / "D01 through D06": the ids around the word are already found.
        for i in range(1, len(tokens) - 1):
            if tokens[i].low in ("to", "through", "thru") and tokens[i - 1].used:
                first, last = tokens[i - 1].text.upper(), tokens[i + 1].text.upper()
                if first in self.by_upper and last in self.by_upper:
                    a, b = re.match(r"(\D+)(\d+)$", first), re.match(r"(\D+)(\d+)$", last)
                    if a and b and a.group(1) == b.group(1):
                        tokens[i].used = True
                        found.extend(self._expand(a.group(1), a.group(2), b.group(2)))
        return list(dict.fromkeys(found))

    def _expand(self, prefix: str, first: str, last: str) -> list[str]:
        width = len(first)
        ids = [f"{prefix}{n:0{width}d}".upper() for n in range(int(first), int(last) + 1)]
        return [self.by_upper[i] for i in ids if i in self.by_upper]

    def _kind(self, tokens: list[_Tok], ids: list[str]) -> tuple[str | None, bool]:
        """The kind the request changes, and whether a quantifier stands before its noun."""
        mentions: list[tuple[int, str, int]] = []
        for name, schema in self.schemas.items():
            for alias in _kind_aliases(name, schema):
                for start in _find(tokens, alias):
                    mentions.append((start, name, len(alias)))
        kinds = {kind for _, kind, _ in mentions}
        if len(kinds) > 1:  # "the carriers of every depot": a field name of the other kind
            kinds = {
                k
                for k in kinds
                if not any(
                    other != k and self._field_at(tokens, other, start, length)
                    for start, kk, length in mentions
                    if kk == k
                    for other in kinds
                )
            }
        if len(kinds) > 1:
            quantified = {
                name
                for start, name, _ in mentions
                if any(t.low in _QUANTIFIERS for t in tokens[max(0, start - 2) : start])
            }
            kinds = quantified or kinds
        kind: str | None = None
        if len(kinds) == 1:
            kind = next(iter(kinds))
        elif not kinds and ids:
            id_kinds = {self.kind_of[i] for i in ids}
            kind = next(iter(id_kinds)) if len(id_kinds) == 1 else None
        if kind is None and not kinds:  # the field says it: "set retries to 5 for DPD"
            with_field = [k for k in self.schemas if self._match_field(tokens, k, use=False)]
            kind = with_field[0] if len(with_field) == 1 else None
        quantifier = False
        for start, k, length in mentions:
            if k == kind:
                if any(t.low in _QUANTIFIERS for t in tokens[max(0, start - 2) : start]):
                    quantifier = True
                if not self._field_at(tokens, k, start, length):
                    _use(tokens, start, length)
        if any(t.low in _QUANTIFIERS and not t.used for t in tokens):
            quantifier = quantifier or (kind is not None and not ids)
        return kind, quantifier

    def _field_at(self, tokens: list[_Tok], kind: str, start: int, length: int) -> bool:
        phrase = tuple(t.stem for t in tokens[start : start + length])
        return any(phrase in _aliases(ref) for ref in _fields(self.schemas[kind]))

    # The change ------------------------------------------------------------------------

    def _match_field(self, tokens: list[_Tok], kind: str, *, use: bool) -> FieldRef | None:
        best: tuple[int, int, FieldRef] | None = None  # (start, -length, field)
        for ref in _fields(self.schemas[kind]):
            if ref.schema.get("type") == "object":
                continue
            for alias in _aliases(ref):
                for start in _find(tokens, alias):
                    key = (start, -len(alias))
                    if best is None or key < best[:2]:
                        best = (start, -len(alias), ref)
        if best is None:
            return None
        if use:
            _use(tokens, best[0], -best[1])
        return best[2]

    def _array_field_for(self, kind: str, value: str) -> FieldRef | None:
        for ref in _fields(self.schemas[kind]):
            if ref.schema.get("type") == "array" and value in _enum_values(ref.schema):
                return ref
        return None

    def _enum_in(
        self, tokens: list[_Tok], values: Mapping[str, list[tuple[str, ...]]]
    ) -> tuple[str, int, int] | None:
        best: tuple[int, int, str] | None = None
        for value, phrases in values.items():
            for phrase in phrases:
                for start in _find(tokens, phrase):
                    if best is None or (start, -len(phrase)) < best[:2]:
                        best = (start, -len(phrase), value)
        return (best[2], best[0], -best[1]) if best else None

    def _value(self, tokens: list[_Tok], ref: FieldRef) -> Any:
        types = _types(ref.schema)
        if "time" in types:
            candidates = [t for t in tokens if not t.used and _TIME.match(t.text)]
            tok = self._pick(tokens, candidates)
            if tok is not None:
                tok.used = True
                hour, minute = _TIME.match(tok.text).groups()  # type: ignore[union-attr]
                return f"{int(hour):02d}:{minute}"
        if "version" in types:
            tok = self._pick(tokens, [t for t in tokens if not t.used and _VERSION.match(t.text)])
            if tok is not None:
                tok.used = True
                return tok.text
        if "enum" in types:
            found = self._enum_in(tokens, _enum_values(ref.schema))
            if found:
                _use(tokens, found[1], found[2])
                return found[0]
        if types & {"integer", "number"}:
            tok = self._pick(tokens, [t for t in tokens if not t.used and t.text.isdigit()])
            if tok is not None:
                tok.used = True
                return int(tok.text)
        if "boolean" in types:
            for tok in tokens:
                if not tok.used and tok.low in ("true", "false", "yes", "no", "on", "off"):
                    tok.used = True
                    return tok.low in ("true", "yes", "on")
        if "null" in types:
            for tok in tokens:
                if not tok.used and tok.low in ("none", "null", "nothing", "closed"):
                    tok.used = True
                    return None
        if "string" in types:
            tok = self._after(tokens, ("to",))
            if tok is not None:
                tok.used = True
                return tok.text
        raise InvalidRequestError(
            f"no new value for {ref.pointer} in the request; {HELP}", code="request_not_understood"
        )

    @staticmethod
    def _pick(tokens: list[_Tok], candidates: list[_Tok]) -> _Tok | None:
        """Of several values, the one written after 'to'/'at'/'by'; else the first."""
        for tok in candidates:
            if tok.index > 0 and tokens[tok.index - 1].low in ("to", "at", "by", "=", "is"):
                return tok
        return candidates[0] if candidates else None

    @staticmethod
    def _after(tokens: list[_Tok], words: Iterable[str]) -> _Tok | None:
        for i, tok in enumerate(tokens[:-1]):
            if tok.low in words and not tokens[i + 1].used:
                return tokens[i + 1]
        return None

    # Filters ---------------------------------------------------------------------------

    def _filters(self, tokens: list[_Tok], kind: str, other_ids: list[str]) -> dict[str, list[Any]]:
        where: dict[str, list[Any]] = {}
        refs = _fields(self.schemas[kind])
        for other in other_ids:  # "routes leaving D10": the field that refers to depots
            for ref in refs:
                if _ref_kind(ref.schema) == self.kind_of[other]:
                    where.setdefault(ref.pointer, []).append(other)
                    break
        mine = [e for e in self.elements if e.kind == kind]
        # Every (phrase, field, value) a word of the request may mean; the longest phrase
        # first, and a phrase that is a value of several fields ("Limerick": a depot's name
        # and two depots' city) selects by any of them.
        meanings: list[tuple[tuple[str, ...], str, Any]] = []
        for ref in refs:
            if ref.schema.get("type") == "object":
                continue
            values = _enum_values(ref.schema)
            for element in mine:
                current = _get(element.config, ref.path)
                for v in current if isinstance(current, list) else [current]:
                    if isinstance(v, str) and v not in values:
                        values[v] = [_phrase(v)]
            meanings += [(p, ref.pointer, v) for v, phrases in values.items() for p in phrases]
        meanings.sort(key=lambda m: -len(m[0]))
        for phrase, _pointer, _value in meanings:
            for start in _find(tokens, phrase):
                same = [(pt, v) for ph, pt, v in meanings if ph == phrase]
                _use(tokens, start, len(phrase))
                key = "|".join(sorted({pt for pt, _ in same}))
                chosen = where.setdefault(key, [])
                for _, v in same:
                    if v not in chosen:
                        chosen.append(v)
        return where

    # The whole request -----------------------------------------------------------------

    def parse(self, request: str) -> ChangeRequest:
        tokens = _tokens(request)
        if not tokens:
            raise InvalidRequestError(f"the request is empty; {HELP}",
                                      code="request_not_understood")  # fmt: skip
        low = " ".join(t.low for t in tokens)
        cut = len(tokens)
        for word in _EXCEPT:
            position = low.find(f" {word} ")
            if position >= 0:
                cut = min(cut, low[:position].count(" ") + 1)
        head, tail = tokens[:cut], tokens[cut:]
        except_ids = self._ids(tail)
        for tok in tail[:2]:
            tok.used = True
        ids = self._ids(head)
        kind, quantified = self._kind(head, ids)
        if kind is None:
            raise InvalidRequestError(
                f"which kind of element? name one ({', '.join(sorted(self.schemas))}) or "
                f"their ids; {HELP}",
                code="request_not_understood",
            )
        other_ids = [i for i in ids if self.kind_of[i] != kind]
        ids = [i for i in ids if self.kind_of[i] == kind]
        switch = self._switch(head)  # "disable", "switch off"...: the `enabled` field
        words = {t.low for t in head if not t.used}
        operation: Operation = "replace"
        value: Any = None
        ref: FieldRef | None = None
        if switch is not None:
            ref = next((r for r in _fields(self.schemas[kind]) if r.path == ("enabled",)), None)
            if ref is None:
                raise InvalidRequestError(f"a {kind} cannot be enabled or disabled",
                                          code="request_not_understood")  # fmt: skip
            value = switch
        elif words & (_ADD | _REMOVE) and not self._by_number(head):
            operation = "add" if words & _ADD else "remove"
            ref = self._match_field(head, kind, use=True)
            values: dict[str, list[tuple[str, ...]]] = {}
            for r in [ref] if ref else _fields(self.schemas[kind]):
                if r.schema.get("type") == "array":
                    values.update(_enum_values(r.schema))
            found = self._enum_in(head, values)
            if found is None:
                verb = "added" if operation == "add" else "removed"
                raise InvalidRequestError(f"what should be {verb}? {HELP}",
                                          code="request_not_understood")  # fmt: skip
            _use(head, found[1], found[2])
            value = found[0]
            ref = ref or self._array_field_for(kind, value)
            if ref is None or ref.schema.get("type") != "array":
                raise InvalidRequestError(f"no list of a {kind} holds {value!r}",
                                          code="request_not_understood")  # fmt: skip
        else:
            ref = self._match_field(head, kind, use=True)
            if ref is None:
                names = ", ".join(r.pointer[1:] for r in _fields(self.schemas[kind]))
                raise InvalidRequestError(
                    f"which field of the {kind}s? ({names}); {HELP}",
                    code="request_not_understood",
                )
            by = self._by_number(head)
            if by is not None and words & (_INCREASE | _DECREASE):
                operation = "increase" if words & _INCREASE else "decrease"
                by.used = True
                value = int(by.text)
            else:
                value = self._value(head, ref)
        # Ids of this kind that name a value alias ("for DPD": the carrier C-DPD).
        for element_id, phrases in self._id_aliases(kind).items():
            for phrase in phrases:
                for start in _find(head, phrase):
                    _use(head, start, len(phrase))
                    ids.append(element_id)
        where = self._filters(head, kind, other_ids)
        if not (ids or where or quantified):
            raise InvalidRequestError(
                f"which {kind}s? say 'every {kind}', a filter ('in Leinster') or their ids; {HELP}",
                code="request_not_understood",
            )
        return ChangeRequest(kind=kind, field=ref, operation=operation, value=value,
                             ids=list(dict.fromkeys(ids)), where=where,
                             except_ids=except_ids, everything=quantified)  # fmt: skip

    def describe(self) -> str:
        """Each kind's fields (pointer, types, enum values) and element ids, as text: what a
        model needs to fill a ChangeSpec."""
        out: list[str] = []
        for kind, schema in sorted(self.schemas.items()):
            fields = []
            for ref in _fields(schema):
                if ref.schema.get("type") == "object":
                    continue
                enum = ref.schema.get("enum") or (ref.schema.get("items") or {}).get("enum")
                types = _types(ref.schema)
                if not enum and "string" in types and not types & {"time", "version"}:
                    seen = {_get(e.config, ref.path) for e in self.elements if e.kind == kind}
                    enum = sorted(v for v in seen if isinstance(v, str))
                    enum = enum if len(enum) <= 40 else []  # filter values ("Galway")
                values = ": " + ", ".join(map(str, enum)) if enum else ""
                fields.append(f"{ref.pointer} ({'/'.join(sorted(_types(ref.schema)))}{values})")
            ids = ", ".join(e.id for e in self.elements if e.kind == kind)
            out.append(f"kind {kind}: fields {'; '.join(fields)}\n  ids: {ids}")
        return "\n".join(out)

    def from_spec(self, spec: ChangeSpec) -> ChangeRequest:
        """A structured change request checked against the schemas and elements: the kind,
        the field, the ids and the filters must exist, the operation must suit the field,
        and something must select (ids, a filter or `all`). Refused like the grammar:
        request_not_understood, naming what is wrong."""

        def refuse(problem: str) -> InvalidRequestError:
            return InvalidRequestError(problem, code="request_not_understood")

        if spec.kind not in self.schemas:
            raise refuse(f"no kind {spec.kind!r} (kinds: {', '.join(sorted(self.schemas))})")
        refs = {r.pointer: r for r in _fields(self.schemas[spec.kind])}
        pointer = "/" + spec.field.strip().strip("/").replace(".", "/")
        ref = refs.get(pointer)
        if ref is None or ref.schema.get("type") == "object":
            names = ", ".join(p for p, r in refs.items() if r.schema.get("type") != "object")
            raise refuse(f"no field {spec.field!r} of a {spec.kind} ({names})")
        is_array = ref.schema.get("type") == "array"
        if spec.operation in ("add", "remove") and not is_array:
            raise refuse(f"{pointer} is not a list: nothing can be added or removed")
        if spec.operation in ("increase", "decrease") and (
            not isinstance(spec.value, int | float) or isinstance(spec.value, bool)
            or not _types(ref.schema) & {"integer", "number"}
        ):  # fmt: skip
            raise refuse(f"{spec.operation} needs a number and a numeric field ({pointer})")
        for name, ids in (("ids", spec.ids), ("except_ids", spec.except_ids)):
            wrong = [i for i in ids if self.kind_of.get(i) != spec.kind]
            if wrong:
                raise refuse(f"{name}: no {spec.kind} {', '.join(wrong)}")
        for key, values in spec.where.items():
            pointers = ["/" + p.strip().strip("/").replace(".", "/") for p in key.split("|")]
            unknown = [p for p in pointers if p not in refs]
            if unknown or not values:
                raise refuse(f"where: {key!r} is not a field of a {spec.kind} with values")
        where = {
            "|".join("/" + p.strip().strip("/").replace(".", "/") for p in k.split("|")): v
            for k, v in spec.where.items()
        }
        if not (spec.ids or where or spec.all):
            raise refuse(f"which {spec.kind}s? give ids, a filter or all")
        value = spec.value
        if isinstance(value, str) and "time" in _types(ref.schema) and _TIME.match(value):
            hour, minute = _TIME.match(value).groups()  # type: ignore[union-attr]
            value = f"{int(hour):02d}:{minute}"
        return ChangeRequest(kind=spec.kind, field=ref, operation=spec.operation, value=value,
                             ids=list(dict.fromkeys(spec.ids)), where=where,
                             except_ids=list(spec.except_ids), everything=spec.all)  # fmt: skip

    def _id_aliases(self, kind: str) -> dict[str, list[tuple[str, ...]]]:
        """Elements of `kind` named by an enum value's alias anywhere in the schemas (the
        carrier C-DPD is "DPD" in the depots' carrier list)."""
        found: dict[str, list[tuple[str, ...]]] = {}
        for schema in self.schemas.values():
            for ref in _fields(schema):
                for value, phrases in _enum_values(ref.schema).items():
                    if self.kind_of.get(value) == kind:
                        found.setdefault(value, [])
                        found[value] += [p for p in phrases if p not in found[value]]
        return found

    @staticmethod
    def _switch(tokens: list[_Tok]) -> bool | None:
        """True for enable/activate/switch on/turn on, False for the opposites; marks them."""
        for i, tok in enumerate(tokens):
            if tok.used:
                continue
            if tok.low in _ON | _OFF:
                tok.used = True
                return tok.low in _ON
            after = tokens[i + 1].low if i + 1 < len(tokens) else ""
            if tok.low in ("switch", "turn") and after in ("on", "off"):
                _use(tokens, i, 2)
                return after == "on"
        return None

    @staticmethod
    def _by_number(tokens: list[_Tok]) -> _Tok | None:
        for i, tok in enumerate(tokens[:-1]):
            if tok.low == "by" and tokens[i + 1].text.isdigit():
                return tokens[i + 1]
        return None

    # Selecting -------------------------------------------------------------------------

    def select(self, request: ChangeRequest) -> list[TargetElement]:
        chosen = [e for e in self.elements if e.kind == request.kind]
        if request.ids:
            chosen = [e for e in chosen if e.id in request.ids]
        for pointers, wanted in request.where.items():
            paths = [tuple(p.strip("/").split("/")) for p in pointers.split("|")]

            def holds(element: TargetElement, paths: list[tuple[str, ...]] = paths,
                      wanted: list[Any] = wanted) -> bool:  # fmt: skip
                for path in paths:  # any of the fields ("name|city")
                    current = _get(element.config, path)
                    values = current if isinstance(current, list) else [current]
                    if any(v in wanted for v in values):
                        return True
                return False

            chosen = [e for e in chosen if holds(e)]
        return [e for e in chosen if e.id not in request.except_ids]


def patch_for(request: ChangeRequest, config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JSON Patch that makes the change on one element; empty when nothing would change."""
    ref = request.field
    current = _get(config, ref.path)
    pointer = ref.pointer
    if request.operation in ("increase", "decrease"):
        if not isinstance(current, int | float) or isinstance(current, bool):
            return []
        sign = 1 if request.operation == "increase" else -1
        return [{"op": "replace", "path": pointer, "value": current + sign * request.value}]
    if request.operation == "add":
        items = current if isinstance(current, list) else []
        if request.value in items:
            return []
        return [{"op": "add", "path": f"{pointer}/-", "value": request.value}]
    if request.operation == "remove":
        items = current if isinstance(current, list) else []
        if request.value not in items:
            return []
        return [{"op": "remove", "path": f"{pointer}/{items.index(request.value)}"}]
    parent = _get(config, ref.path[:-1]) if len(ref.path) > 1 else config
    exists = isinstance(parent, Mapping) and ref.path[-1] in parent
    if exists and current == request.value:
        return []
    return [{"op": "replace" if exists else "add", "path": pointer, "value": request.value}]
