"""A starter configuration from a description in words (no LLM): slots read by a small grammar,
defaults and structure from the `config_template` knowledge atoms, every file checked against
its kind's JSON Schema before it is shown, and every default used named as an assumption.

Templates. A `config_template` atom tagged with a kind's name (`depot`, `sorter`, `route`,
`carrier`) holds, in its first ```yaml block, a new element of that kind: its values are the
defaults, a value in angle brackets (`<town>`) has none and must be said, and its `id` shows
the id's form (new ids are the next free numbers after the target's own). A second block may
derive a field from another: `derive: {region: {from: city, table: {Munster: [Cork, ...]}}}`;
the target's own elements add to the table (its depots' towns and regions).

The description is read in segments, one per mention of a kind (its schema's `x-aliases`:
"depots", "sorter", "linehaul", "carriers"...), each running from the word that joins it
("with", "and", a comma) to the next. What a segment holds is said of its kind:

    element   := [COUNT] [TOWN] KIND [("in"|"at") PLACES] | TOWN KIND
    PLACES    := TOWN {"," TOWN} ["and" TOWN] | REGION ["(" TOWN, ... ")"]
                 | TOWN "and" COUNT "in" TOWN     ("two depots in Limerick and one in Ennis")
    COUNT     := a | an | one | single | two ... twelve | a number
    value     := FIELD [of|at|to|is|from|":"] VALUE | VALUE [unit] FIELD
                 ("weekday cut-off 17:00", "a 16:45 cut-off", "20 second API timeout",
                  "48 lanes", "firmware 4.1.3", "capacity 500/h", "maximum rate of 3000")

FIELD is a property's `title`, its `x-aliases` or its name, plus a few phrases of this module
(PHRASES: "closes its manifest" is the cut-off, "leaving" the departure...); a field names
its kind even in another kind's segment. VALUE is read by the field's type: HH:MM or words
("half past five", "quarter to six", "5pm"; an hour before 8 without am/pm is read as the
afternoon's, but an opening time as the morning's), numbers, x.y.z versions, enum values and
their `x-value-aliases` (a model is named by its last word too: "CB-600"). Without a field:
N "parcels per hour" / "an hour" / "/h" is a depot's capacity, a sorter's maximum rate; a time
in a route's segment is its departure; "X hub" its destination; a carrier named in a route's
segment is its carrier, in a carrier's segment one to configure, elsewhere the depots'
carriers. Days: "Monday to Friday", "weekdays", "six days a week", "daily", "Monday,
Wednesday and Friday"; "open A to B" / "from A until B" sets opening and closing; "T on
Saturday(s)" is the Saturday cut-off; "no Saturdays" / "closed on Saturdays" has none.

Sorters and routes are one per depot the description makes (a route needs its hub said);
the carriers every depot and route names are in the set, a carrier the target already has
starting from its own settings. A description that names nothing to make, a depot without a
town, a count that does not match the towns, or a template value left unsaid is refused
(`description_not_understood`, naming what is missing); a generated element that fails its
schema (a bad template) is refused as `setup_invalid` with the errors, and nothing is shown.
"""

from __future__ import annotations

import copy
import io
import json
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from frontdesk.errors import FrontdeskError, InvalidRequestError
from frontdesk.interfaces import TargetElement, TargetSystem
from frontdesk.ops.folder import dump_element
from frontdesk.ops.troubleshoot import OpsAtom
from frontdesk.ops.validation import validate_configs
from frontdesk.text import stem

CONFIG_TEMPLATE = "config_template"
UNDERSTOOD = "description_not_understood"
HELP = (
    "describe what to set up, e.g. 'three depots in Cork, Galway and Limerick, weekday "
    "cut-off 17:00, one carrier' or 'a depot in Athlone with a CrossBelt CB-600 sorter of 48 "
    "lanes'"
)
_TOKEN = re.compile(
    r"\d{1,2}:\d{2}|\d+(?:\.\d+){2,}|\d+|[^\W\d_]+(?:[-'][^\W_]+)*(?:-\d+)?|[,;:()/.&-]"
)
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_VERSION = re.compile(r"^\d+(?:\.\d+){2,}$")
_PLACEHOLDER = re.compile(r"<[^<>]*>")
_BLOCK = re.compile(r"```ya?ml\s*\n(.*?)```", re.S)
MAX_ELEMENTS = 50  # depots one description may make (and so sorters and routes)
NUMBERS = {"a": 1, "an": 1, "one": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5,
           "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11,
           "twelve": 12}  # fmt: skip
HOURS = {w: n for w, n in NUMBERS.items() if w not in ("a", "an", "single")}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = {"monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu",
             "friday": "fri", "saturday": "sat", "sunday": "sun"}  # fmt: skip
# Phrases of descriptions that the schemas' aliases lack: phrase -> (kind, field pointer).
PHRASES: dict[str, tuple[str, str]] = {
    "closes its manifest": ("depot", "cutoff"),
    "closes the manifest": ("depot", "cutoff"),
    "manifest closes": ("depot", "cutoff"),
    "manifest": ("depot", "cutoff"),
    "last collection": ("depot", "cutoff"),
    "opening at": ("depot", "schedule/open"),
    "closing at": ("depot", "schedule/close"),
    "maximum rate": ("sorter", "max_rate"),
    "sort rate": ("sorter", "max_rate"),
    "timeouts": ("carrier", "timeout_s"),
    "retry": ("carrier", "retries"),
    "leaving": ("route", "departure"),
    "leaving at": ("route", "departure"),
    "departing": ("route", "departure"),
}
_FILLER = {"of", "at", "to", "is", "be", "=", ":", "a", "an", "the", "set", "with", "from",
           "each", "every", "its", "their", "has", "have", "that", "per"}  # fmt: skip
_UNITS = {"second", "seconds", "s", "sec", "secs", "parcels", "parcel", "per", "hour", "an",
          "h", "/", "lane", "lanes", "minute", "minutes", "a"}  # fmt: skip
_ADJECTIVES = {"new", "small", "big", "large", "main", "single", "more", "further"}
_JOINS = {",", ";", "(", ".", ":", "with", "and", "plus", "&"}
_RATE = (("parcels", "per", "hour"), ("parcels", "an", "hour"), ("parcels", "a", "hour"),
         ("per", "hour"), ("an", "hour"), ("a", "hour"), ("/", "h"), ("/", "hour"),
         ("parcels", "/", "h"), ("parcels", "per", "h"))  # fmt: skip


class DescriptionNotUnderstood(InvalidRequestError):
    code = UNDERSTOOD


class SetupInvalidError(FrontdeskError):
    code = "setup_invalid"
    status_code = 422


def _not_understood(what: str) -> DescriptionNotUnderstood:
    return DescriptionNotUnderstood(f"{what}; {HELP}", code=UNDERSTOOD)


@dataclass
class _Tok:
    text: str
    low: str
    stem: str
    index: int
    used: bool = False


def _tokens(text: str) -> list[_Tok]:
    found = [m.group(0) for m in _TOKEN.finditer(text)]
    return [_Tok(t, t.lower(), stem(t.lower()), i) for i, t in enumerate(found)]


def _phrase(text: str) -> tuple[str, ...]:
    return tuple(stem(m.group(0).lower()) for m in _TOKEN.finditer(text))


def _find(tokens: Sequence[_Tok], phrase: tuple[str, ...], lo: int = 0, hi: int | None = None,
          *, free: bool = True) -> list[int]:  # fmt: skip
    hi = len(tokens) if hi is None else hi
    n = len(phrase)
    return [
        i
        for i in range(lo, hi - n + 1)
        if n
        and all(tokens[i + k].stem == phrase[k] for k in range(n))
        and not (free and any(tokens[i + k].used for k in range(n)))
    ]


def _use(tokens: Sequence[_Tok], start: int, length: int) -> None:
    for k in range(length):
        tokens[start + k].used = True


# Templates -----------------------------------------------------------------------------


@dataclass
class Template:
    """A kind's new element from its config_template atom."""

    kind: str
    title: str
    defaults: dict[str, Any]
    derive: dict[str, tuple[str, dict[str, str]]]  # field -> (from field, value -> derived)


def read_templates(atoms: Sequence[OpsAtom], kinds: Sequence[str]) -> dict[str, Template]:
    """The first config_template atom tagged with each kind (sorted by title)."""
    found: dict[str, Template] = {}
    for atom in sorted(atoms, key=lambda a: a.title):
        if atom.type != CONFIG_TEMPLATE:
            continue
        kind = next((k for k in kinds if k in atom.tags), None)
        if kind is None or kind in found:
            continue
        blocks = []
        for block in _BLOCK.findall(atom.body):
            try:
                blocks.append(yaml.safe_load(block))
            except yaml.YAMLError as exc:
                raise SetupInvalidError(f"the template {atom.title!r} has a YAML block that "
                                        f"does not read ({exc})") from exc  # fmt: skip
        mappings = [b for b in blocks if isinstance(b, dict)]
        defaults = next((b for b in mappings if "derive" not in b), None)
        if defaults is None:
            continue
        derive: dict[str, tuple[str, dict[str, str]]] = {}
        for b in mappings:
            for name, rule in (b.get("derive") or {}).items():
                table = {str(v).lower(): str(key) for key, values in rule["table"].items()
                         for v in values}  # fmt: skip
                derive[name] = (rule["from"], table)
        found[kind] = Template(kind, atom.title, defaults, derive)
    return found


# The generated set ---------------------------------------------------------------------


@dataclass
class Assumption:
    element: str
    field: str
    value: Any
    why: str


@dataclass
class GeneratedElement:
    id: str
    kind: str
    config: dict[str, Any]
    path: str
    text: str
    from_target: bool = False  # started from the target's own element of that id


@dataclass
class StarterConfig:
    description: str
    elements: dict[str, GeneratedElement]
    assumed: list[Assumption]
    read: list[str]  # what was read, in words
    errors: dict[str, list[str]] = field(default_factory=dict)  # element id -> errors

    @property
    def files(self) -> dict[str, str]:
        return {e.path: e.text for e in self.elements.values()}

    def assumed_lines(self) -> list[str]:
        """One line per default used: the field, its value, the elements, why."""
        grouped: dict[tuple[str, str, str], list[str]] = {}
        kept: dict[str, list[str]] = {}  # element -> fields kept as the target has them
        for a in self.assumed:
            if self.elements[a.element].from_target:
                kept.setdefault(a.element, []).append(a.field)
                continue
            value = json.dumps(a.value, ensure_ascii=False)
            grouped.setdefault((a.field, value, a.why), []).append(a.element)
        lines = [f"- {f} = {v} ({', '.join(ids)}): {why}" for (f, v, why), ids in grouped.items()]
        return lines + [f"- {element}: {', '.join(fields)} as the target has them"
                        for element, fields in kept.items()]  # fmt: skip

    def answer(self) -> str:
        counts: dict[str, int] = {}
        for e in self.elements.values():
            counts[e.kind] = counts.get(e.kind, 0) + 1
        made = ", ".join(f"{n} {k}{'s' if n > 1 else ''}" for k, n in counts.items())
        lines = [f"Starter configuration: {made}; {len(self.elements)} file(s), each valid "
                 "against its kind's schema.", "read: " + "; ".join(self.read), ""]  # fmt: skip
        for e in self.elements.values():
            lines.append(f"--- {e.path}")
            lines.extend(e.text.rstrip("\n").split("\n"))
        lines += ["", "assumed:" if self.assumed else "assumed: nothing", *self.assumed_lines()]
        return "\n".join(lines)

    def view(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "answer": self.answer(),
            "read": self.read,
            "elements": [{"id": e.id, "kind": e.kind, "path": e.path, "config": e.config,
                          "from_target": e.from_target} for e in self.elements.values()],
            "files": self.files,
            "assumed": [{"element": a.element, "field": a.field, "value": a.value,
                         "why": a.why} for a in self.assumed],
        }  # fmt: skip

    def zip(self) -> bytes:
        """The files at their paths in the target, and SETUP.md: the description, what was
        read and what was assumed."""
        notes = ["# Starter configuration", "", f"Described as: {self.description}", "",
                 "Read: " + "; ".join(self.read), "", "Assumed (defaults of the templates):",
                 "", *(self.assumed_lines() or ["- nothing"]), ""]  # fmt: skip
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, text in self.files.items():
                archive.writestr(path, text)
            archive.writestr("SETUP.md", "\n".join(notes))
        return buffer.getvalue()


# Reading a description -----------------------------------------------------------------


@dataclass
class _Segment:
    kind: str
    start: int  # first token
    mention: int  # the kind's word
    length: int  # of the kind's word(s)
    end: int = 0
    count: int | None = None


@dataclass
class _Slots:
    """What the description says, per kind: group index -> field pointer -> value."""

    depots: list[tuple[str, str | None]] = field(default_factory=list)  # (town, region said)
    depot_fields: dict[str, Any] = field(default_factory=dict)
    sorter_fields: dict[str, Any] = field(default_factory=dict)
    route_fields: dict[str, Any] = field(default_factory=dict)
    carrier_fields: dict[str, Any] = field(default_factory=dict)
    sorters: bool = False
    routes: bool = False
    depot_carriers: list[str] = field(default_factory=list)
    route_carriers: list[str] = field(default_factory=list)
    carriers: list[str] = field(default_factory=list)  # carriers to configure
    carrier_count: int | None = None
    carrier_names: dict[str, str] = field(default_factory=dict)  # id -> as written
    field_carriers: list[str] = field(default_factory=list)  # carriers a carrier field names


def _types(schema: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    for option in [schema, *schema.get("anyOf", [])]:
        if isinstance(option.get("type"), str):
            found.add(option["type"])
        if "enum" in option:
            found.add("enum")
        pattern = option.get("pattern", "")
        if ":" in pattern and "[0-5]" in pattern:
            found.add("time")
        if pattern.startswith(("^[0-9]+\\.", "^\\d+\\.")):
            found.add("version")
    return found


def _props(schema: Mapping[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        if prop.get("type") == "object":
            found.update(_props(prop, f"{prefix}{name}/"))
        else:
            found[f"{prefix}{name}"] = prop
    return found


def _enum_of(prop: Mapping[str, Any]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for option in [prop, prop.get("items") or {}, *prop.get("anyOf", [])]:
        aliases = option.get("x-value-aliases") or {}
        for v in option.get("enum") or []:
            if isinstance(v, str):
                values[v] = [v, *aliases.get(v, [])]
    return values


def _word_times(text: str) -> str:
    """'half past five', 'quarter to six', '5pm', 'noon' -> HH:MM (see the docstring)."""
    hour = r"(\d{1,2}|" + "|".join(HOURS) + r")"

    def to_int(word: str) -> int:
        return int(word) if word.isdigit() else HOURS[word.lower()]

    def clock(h: int, m: int, match: re.Match[str], ampm: str | None = None) -> str:
        before = text[max(0, match.start() - 25) : match.start()].lower()
        if ampm:
            h = h % 12 + (12 if ampm.lower() == "pm" else 0)
        elif h < 8 and not re.search(r"\b(open|opens|opening|from)\b", before):
            h += 12
        return f"{h % 24:02d}:{m:02d}"

    text = re.sub(rf"\bhalf past {hour}\b",
                  lambda m: clock(to_int(m.group(1)), 30, m), text, flags=re.I)  # fmt: skip
    text = re.sub(rf"\bquarter past {hour}\b",
                  lambda m: clock(to_int(m.group(1)), 15, m), text, flags=re.I)  # fmt: skip
    text = re.sub(rf"\bquarter to {hour}\b",
                  lambda m: clock(to_int(m.group(1)) - 1, 45, m), text, flags=re.I)  # fmt: skip
    text = re.sub(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm)\b",
                  lambda m: clock(int(m.group(1)), int(m.group(2) or 0), m, m.group(3)), text,
                  flags=re.I)  # fmt: skip
    text = re.sub(rf"\b{hour} o'?clock\b",
                  lambda m: clock(to_int(m.group(1)), 0, m), text, flags=re.I)  # fmt: skip
    text = re.sub(r"\b(noon|midday)\b", "12:00", text, flags=re.I)
    return text


class SetupGenerator:
    """Reads descriptions against one target's schemas, templates and elements."""

    def __init__(
        self,
        schemas: Mapping[str, dict[str, Any]],
        atoms: Sequence[OpsAtom],
        elements: Sequence[TargetElement] = (),
    ) -> None:
        self.schemas = dict(schemas)
        self.templates = read_templates(atoms, sorted(self.schemas))
        self.elements = {e.id: e for e in elements}
        self.props = {kind: _props(schema) for kind, schema in self.schemas.items()}
        self._kind_words = sorted(
            ((_phrase(w), kind) for kind, schema in self.schemas.items()
             for w in {kind, f"{kind}s", *schema.get("x-aliases", [])}),
            key=lambda p: -len(p[0]),
        )  # fmt: skip
        aliases: list[tuple[tuple[str, ...], str, str]] = []
        for kind, props in self.props.items():
            for pointer, prop in props.items():
                if pointer in ("id", "name", "enabled", "timezone") or "x-ref-kind" in prop:
                    continue
                names = {*prop.get("x-aliases", []), pointer.split("/")[-1].replace("_", " ")}
                if prop.get("title"):
                    names.add(prop["title"])
                aliases += [(_phrase(n), kind, pointer) for n in names if n]
        aliases += [(_phrase(p), k, f) for p, (k, f) in PHRASES.items() if k in self.props]
        # a kind's own word is its mention, not a field ("carrier", "sorter")
        kind_phrases = {p for p, _ in self._kind_words}
        self._aliases = sorted({a for a in aliases if a[0] not in kind_phrases},
                               key=lambda a: (-len(a[0]), a[1], a[2]))  # fmt: skip
        self.towns = self._towns()
        self.regions = {v.lower(): v for v in _enum_of(self.props.get("depot", {}).get(
            "region", {}))}  # fmt: skip

    def _towns(self) -> dict[str, str]:
        """town (lower case) -> region, from the depot template's table and the target."""
        towns: dict[str, str] = {}
        template = self.templates.get("depot")
        if template and "region" in template.derive:
            towns.update(template.derive["region"][1])
        for e in self.elements.values():
            city, region = e.config.get("city"), e.config.get("region")
            if e.kind == "depot" and isinstance(city, str) and isinstance(region, str):
                towns.setdefault(city.lower(), region)
        return towns

    # Segments ---------------------------------------------------------------------------

    def _segments(self, tokens: list[_Tok]) -> list[_Segment]:
        mentions: list[_Segment] = []
        for phrase, kind in self._kind_words:
            for start in _find(tokens, phrase):
                _use(tokens, start, len(phrase))
                mentions.append(_Segment(kind, 0, start, len(phrase)))
        mentions.sort(key=lambda s: s.mention)
        previous = 0
        for i, seg in enumerate(mentions):
            if i:
                lo = mentions[i - 1].mention + mentions[i - 1].length
                joins = [k for k in range(lo, seg.mention) if tokens[k].low in _JOINS]
                seg.start = joins[-1] + 1 if joins else lo
                mentions[i - 1].end = seg.start
            seg.start = min(seg.start, seg.mention) if i else previous
            seg.count = self._count(tokens, seg)
        if mentions:
            mentions[-1].end = len(tokens)
        return mentions

    def _count(self, tokens: list[_Tok], seg: _Segment) -> int | None:
        """A number word up to three words before the kind's word, past names and a few
        adjectives only ("two Dublin depots", "a CrossBelt CB-600 sorter"; not "48 lanes
        sorter")."""
        for k in range(seg.mention - 1, max(seg.start, seg.mention - 4) - 1, -1):
            tok = tokens[k]
            if tok.low in NUMBERS or tok.text.isdigit():
                tok.used = True
                return NUMBERS.get(tok.low) or int(tok.text)
            if not (tok.text[:1].isupper() or tok.low in _ADJECTIVES):
                return None
        return None

    @staticmethod
    def _segment_of(segments: Sequence[_Segment], index: int) -> _Segment | None:
        for seg in segments:
            if seg.start <= index < seg.end:
                return seg
        return None

    # Values -----------------------------------------------------------------------------

    def _read_value(self, tokens: list[_Tok], at: int, length: int, prop: dict[str, Any],
                    hi: int) -> Any:  # fmt: skip
        """The value of a field named at tokens[at:at+length]: directly before it (past unit
        words) for numbers and times, else after it (past filler words)."""
        types = _types(prop)

        def fits(tok: _Tok) -> Any:
            if tok.used:
                return None
            if "time" in types and _TIME.match(tok.text):
                h, m = (int(x) for x in tok.text.split(":"))
                return f"{h:02d}:{m:02d}" if h < 24 and m < 60 else None
            if "version" in types and _VERSION.match(tok.text):
                return tok.text
            if types & {"integer", "number"} and tok.text.isdigit():
                return int(tok.text)
            return None

        k = at - 1
        while k >= 0 and tokens[k].low in _UNITS and not tokens[k].used:
            k -= 1
        if k >= 0 and (value := fits(tokens[k])) is not None:
            tokens[k].used = True
            return value
        k = at + length
        skipped = 0
        while k < min(hi, len(tokens)) and skipped <= 4:
            tok = tokens[k]
            if (value := fits(tok)) is not None:
                tok.used = True
                return value
            if "enum" in types:
                found = self._enum_at(tokens, k, _enum_of(prop))
                if found is not None:
                    return found
            if tok.low not in _FILLER and not tok.low.isdigit():
                break
            k += 1
            skipped += 1
        return None

    def _enum_at(self, tokens: list[_Tok], k: int, values: Mapping[str, list[str]]) -> Any:
        for value, names in values.items():
            for name in sorted(names, key=len, reverse=True):
                phrase = _phrase(name)
                if _find(tokens, phrase, k, k + len(phrase)):
                    _use(tokens, k, len(phrase))
                    return value
        return None

    def _days(self, tokens: list[_Tok], lo: int, hi: int) -> list[str] | None:
        """A days phrase in tokens[lo:hi] (not yet used); marks it."""
        lows = [t.low if not t.used else "\0" for t in tokens]

        def day(word: str) -> str | None:
            word = word.rstrip("s") if word.endswith("days") else word
            return DAY_NAMES.get(word) or (word[:3] if word[:3] in WEEKDAYS and len(word) <= 4
                                            and word.isalpha() else None)  # fmt: skip

        for i in range(lo, hi):
            word = lows[i]
            two = " ".join(lows[i : i + 2])
            four = " ".join(lows[i : i + 4])
            if four in ("six days a week", "6 days a week"):
                _use(tokens, i, 4)
                return list(WEEKDAYS[:6])
            if four in ("seven days a week", "7 days a week", "five days a week",
                        "5 days a week"):  # fmt: skip
                _use(tokens, i, 4)
                return list(WEEKDAYS if four[0] in "s7" else WEEKDAYS[:5])
            if two in ("every day",) or word == "daily":
                _use(tokens, i, 2 if two == "every day" else 1)
                return list(WEEKDAYS)
            if word in ("weekdays", "weekday") and not (
                i + 1 < len(tokens) and stem(lows[i + 1]) in ("cut-off", "cutoff", "cut")
            ):
                _use(tokens, i, 1)
                if i and lows[i - 1] in ("every", "on"):
                    tokens[i - 1].used = True
                return list(WEEKDAYS[:5])
            first = day(word)
            if first is None:
                continue
            if i + 2 < hi and lows[i + 1] in ("to", "-", "through", "till", "until"):
                last = day(lows[i + 2])
                if last:
                    _use(tokens, i, 3)
                    return list(WEEKDAYS[WEEKDAYS.index(first) : WEEKDAYS.index(last) + 1])
            days = [first]
            _use(tokens, i, 1)
            k = i + 1
            while k + 1 < hi and lows[k] in (",", "and", "&"):
                nxt = day(lows[k + 1])
                if nxt is None:
                    break
                _use(tokens, k, 2)
                days.append(nxt)
                k += 2
            return [d for d in WEEKDAYS if d in days]
        return None

    def _carriers_in(self, tokens: list[_Tok], lo: int, hi: int,
                     names: dict[str, str]) -> list[str]:  # fmt: skip
        values = _enum_of(self.props.get("depot", {}).get("carriers", {}))
        if not values:
            values = _enum_of(self.props.get("route", {}).get("carrier", {}))
        found: list[tuple[int, str]] = []
        for value, aliases in values.items():
            for alias in sorted(aliases, key=len, reverse=True):
                for start in _find(tokens, _phrase(alias), lo, hi):
                    n = len(_phrase(alias))
                    _use(tokens, start, n)
                    found.append((start, value))
                    names.setdefault(value, " ".join(t.text for t in tokens[start : start + n]))
        return list(dict.fromkeys(v for _, v in sorted(found)))

    # The whole description -------------------------------------------------------------

    def read(self, description: str) -> _Slots:
        text = _word_times(description)
        tokens = _tokens(text)
        for tok in tokens:
            if _TIME.match(tok.text) and (int(tok.text[:-3]) > 23 or int(tok.text[-2:]) > 59):
                raise _not_understood(f"{tok.text} is not a time of day (00:00 to 23:59)")
        if not tokens:
            raise _not_understood("the description is empty: name a depot, sorter, route or "
                                  "carrier to set up")  # fmt: skip
        segments = self._segments(tokens)
        if not segments:
            raise _not_understood(
                "nothing to set up was named: say which depots, sorters, routes or carriers "
                f"({', '.join(sorted(self.schemas))})"
            )
        slots = _Slots()
        kinds_of = {seg.kind for seg in segments}

        # Hubs first ("the Cork hub" is not a depot in Cork).
        hubs = _enum_of(self.props.get("route", {}).get("destination", {}))
        for value in hubs:
            place = value.split("-", 1)[-1].lower()
            for words in ((place, "hub"), ("hub", place), ("hub", "in", place),
                          ("hub", "at", place)):  # fmt: skip
                for start in _find(tokens, tuple(stem(w) for w in words)):
                    _use(tokens, start, len(words))
                    slots.route_fields["destination"] = value
        # Saturday qualifiers: "11:30 on Saturday" / "no Saturdays" / "closed on Saturdays".
        for i, tok in enumerate(tokens):
            nxt = [t.low for t in tokens[i + 1 : i + 3]]
            if _TIME.match(tok.text) and not tok.used and nxt and nxt[0] == "on" and \
                    len(nxt) > 1 and nxt[1] in ("saturday", "saturdays", "sat"):  # fmt: skip
                slots.depot_fields["saturday_cutoff"] = self._time(tok.text)
                _use(tokens, i, 3)
            if _TIME.match(tok.text) and nxt[:2] in (["on", "weekdays"], ["on", "weekday"]):
                _use(tokens, i + 1, 2)  # qualifies the time, not the schedule
        for i, tok in enumerate(tokens):
            if tok.low in ("saturday", "saturdays") and not tok.used:
                before = [t.low for t in tokens[max(0, i - 2) : i]]
                after = tokens[i + 1].low if i + 1 < len(tokens) else ""
                if "no" in before or before[-2:] in (["closed", "on"], ["not", "on"]) or \
                        after in ("closed", "off"):  # fmt: skip
                    slots.depot_fields["saturday_cutoff"] = None
                    slots.depot_fields["__no_saturday"] = True
                    tok.used = True
                    for t in tokens[max(0, i - 2) : i + 2]:
                        if t.low in ("no", "closed", "on", "not", "off", "work"):
                            t.used = True
        # Fields named by their aliases, the longest phrase first.
        for phrase, kind, pointer in self._aliases:
            if kind not in kinds_of and not (kind == "carrier" and self._names_carrier(tokens)):
                continue
            for start in _find(tokens, phrase):
                seg = self._segment_of(segments, start)
                owner = self._owner(kind, pointer, phrase, seg, kinds_of)
                if owner is None:
                    continue
                prop = self.props[owner[0]][owner[1]]
                hi = seg.end if seg else len(tokens)
                value = self._read_value(tokens, start, len(phrase), prop, hi)
                if value is None:
                    continue
                _use(tokens, start, len(phrase))
                self._fields_of(slots, owner[0])[owner[1]] = value
                if owner[0] == "carrier":
                    named = self._carriers_in(tokens, max(0, start - 6), start, {})
                    slots.field_carriers += named
                if owner[1] == "schedule/open":
                    self._range(tokens, start, slots)
        # Open/close ranges without "open": "07:00 to 21:00", "07:00-21:00".
        for i in range(len(tokens) - 2):
            a, mid, b = tokens[i : i + 3]
            if _TIME.match(a.text) and _TIME.match(b.text) and not (a.used or b.used) \
                    and mid.low in ("to", "-", "until", "till"):  # fmt: skip
                slots.depot_fields.setdefault("schedule/open", self._time(a.text))
                slots.depot_fields.setdefault("schedule/close", self._time(b.text))
                _use(tokens, i, 3)
        for seg in segments:
            self._read_segment(tokens, seg, slots)
        self._places(tokens, segments, slots)
        return slots

    def _names_carrier(self, tokens: list[_Tok]) -> bool:
        values = _enum_of(self.props.get("route", {}).get("carrier", {}))
        return any(_find(tokens, _phrase(a), free=False) for v in values.values() for a in v)

    def _owner(self, kind: str, pointer: str, phrase: tuple[str, ...], seg: _Segment | None,
               kinds_of: set[str]) -> tuple[str, str] | None:  # fmt: skip
        """Which kind's field a phrase names: the segment's kind when that kind has a field
        of that name, else the alias's own kind."""
        if seg is not None and seg.kind != kind:
            for p, k, f in self._aliases:
                if p == phrase and k == seg.kind:
                    return (k, f)
        if seg is not None and seg.kind == kind:
            return (kind, pointer)
        same = [(k, f) for p, k, f in self._aliases if p == phrase and k in kinds_of]
        if kind == "carrier":
            return (kind, pointer)
        return same[0] if same else (kind, pointer) if kind in kinds_of else None

    @staticmethod
    def _fields_of(slots: _Slots, kind: str) -> dict[str, Any]:
        return {"depot": slots.depot_fields, "sorter": slots.sorter_fields,
                "route": slots.route_fields, "carrier": slots.carrier_fields}.get(
                    kind, {})  # fmt: skip

    @staticmethod
    def _time(text: str) -> str:
        h, m = text.split(":")
        return f"{int(h):02d}:{m}"

    def _range(self, tokens: list[_Tok], start: int, slots: _Slots) -> None:
        """After an opening time: "to|until|till|-" and the closing time."""
        for k in range(start + 1, min(len(tokens) - 1, start + 6)):
            if tokens[k].low in ("to", "until", "till", "-") and _TIME.match(tokens[k + 1].text):
                if not tokens[k + 1].used:
                    slots.depot_fields.setdefault("schedule/close",
                                                  self._time(tokens[k + 1].text))  # fmt: skip
                    _use(tokens, k, 2)
                return

    def _read_segment(self, tokens: list[_Tok], seg: _Segment, slots: _Slots) -> None:
        lo, hi = seg.start, seg.end
        names = slots.carrier_names
        if seg.kind == "route":
            slots.routes = True
            slots.route_carriers += self._carriers_in(tokens, lo, hi, names)
            for k in range(lo, hi):
                if _TIME.match(tokens[k].text) and not tokens[k].used:
                    slots.route_fields.setdefault("departure", self._time(tokens[k].text))
                    tokens[k].used = True
            days = self._days(tokens, lo, hi)
            if days:
                slots.route_fields["days"] = days
            self._rates(tokens, lo, hi, "route", "max_parcels", slots)
        elif seg.kind == "carrier":
            slots.carriers += self._carriers_in(tokens, lo, hi, names)
            if seg.count is not None:
                slots.carrier_count = (slots.carrier_count or 0) + seg.count
        elif seg.kind == "sorter":
            slots.sorters = True
            model = self.props["sorter"].get("model", {})
            for value in _enum_of(model):
                words = _phrase(value)
                for phrase in (words, words[-1:]):
                    hit = _find(tokens, phrase, lo, hi)
                    if hit:
                        _use(tokens, hit[0], len(phrase))
                        slots.sorter_fields["model"] = value
                        break
            self._rates(tokens, lo, hi, "sorter", "max_rate", slots)
            slots.depot_carriers += self._carriers_in(tokens, lo, hi, names)
        elif seg.kind == "depot":
            self._rates(tokens, lo, hi, "depot", "capacity_per_hour", slots)
            slots.depot_carriers += self._carriers_in(tokens, lo, hi, names)
            days = self._days(tokens, lo, hi)
            if days:
                slots.depot_fields["schedule/days"] = days
        for pointer, prop in self.props.get(seg.kind, {}).items():  # any other enum value
            if "enum" in _types(prop) and pointer not in self._fields_of(slots, seg.kind) \
                    and pointer not in ("region", "carrier", "destination", "timezone") \
                    and not pointer.endswith("days"):  # fmt: skip
                for k in range(lo, hi):
                    value = self._enum_at(tokens, k, _enum_of(prop))
                    if value is not None:
                        self._fields_of(slots, seg.kind)[pointer] = value
                        break

    def _rates(self, tokens: list[_Tok], lo: int, hi: int, kind: str, pointer: str,
               slots: _Slots) -> None:  # fmt: skip
        """N parcels per hour / an hour / /h, without a field named."""
        for k in range(lo, hi):
            tok = tokens[k]
            if tok.used or not tok.text.isdigit():
                continue
            after = tuple(t.low for t in tokens[k + 1 : k + 4])
            if any(after[: len(unit)] == unit for unit in _RATE) or (
                kind == "route" and after[:1] == ("parcels",)
            ):
                self._fields_of(slots, kind).setdefault(pointer, int(tok.text))
                tok.used = True

    def _places(self, tokens: list[_Tok], segments: Sequence[_Segment], slots: _Slots) -> None:
        """Towns (and counts) in the depots' segments."""
        for seg in segments:
            if seg.kind != "depot":
                continue
            towns: list[tuple[str, int | None, int]] = []  # (town, count said, index)
            region_said: str | None = None
            k = seg.start
            while k < seg.end:
                tok = tokens[k]
                if tok.used:
                    k += 1
                    continue
                if tok.low in self.regions:
                    region_said = self.regions[tok.low]
                    tok.used = True
                    k += 1
                    continue
                town, length = self._town_at(tokens, k, seg.end)
                if town is None:
                    k += 1
                    continue
                count = None
                if k >= 2 and tokens[k - 1].low in ("in", "at") and (
                    tokens[k - 2].low in NUMBERS or tokens[k - 2].text.isdigit()
                ) and k - 2 > seg.mention:  # fmt: skip
                    count = NUMBERS.get(tokens[k - 2].low) or int(tokens[k - 2].text)
                _use(tokens, k, length)
                if k + length < len(tokens) and tokens[k + length].low == "town":
                    tokens[k + length].used = True
                towns.append((town, count, k))
                k += length
            counts = self._allot(seg, towns)
            for (town, _, _), n in zip(towns, counts, strict=True):
                slots.depots += [(town, region_said)] * n

    def _town_at(self, tokens: list[_Tok], k: int, hi: int) -> tuple[str | None, int]:
        for length in (3, 2, 1):
            if k + length > hi:
                continue
            words = tokens[k : k + length]
            if any(t.used for t in words):
                continue
            name = " ".join(t.low for t in words)
            if name in self.towns:
                return " ".join(t.text for t in words), length
        tok = tokens[k]
        # A town the tables lack: a capitalised word after "in" (or in its list).
        if tok.text[:1].isupper() and tok.low not in NUMBERS and tok.low.isalpha() and k > 0:
            prev = tokens[k - 1].low
            listed = prev in (",", "and") and k >= 2 and tokens[k - 2].used
            known = tok.low in DAY_NAMES or tok.low in self.regions or tok.low in (
                "saturday", "saturdays", "weekdays")  # fmt: skip
            if (prev in ("in", "at") or listed) and not known:
                return tok.text, 1
        return None, 0

    @staticmethod
    def _allot(seg: _Segment, towns: list[tuple[str, int | None, int]]) -> list[int]:
        counts = SetupGenerator._counts(seg, towns)
        if sum(counts) > MAX_ELEMENTS:
            raise _not_understood(f"{sum(counts)} depots is more than a starter configuration "
                                  f"makes (at most {MAX_ELEMENTS})")  # fmt: skip
        return counts

    @staticmethod
    def _counts(seg: _Segment, towns: list[tuple[str, int | None, int]]) -> list[int]:
        n = seg.count
        noun = "depot" if n == 1 else "depots"
        if not towns:
            raise _not_understood(
                f"which town is the {noun} in? say e.g. 'a depot in Ennis'"
                if n in (None, 1)
                else f"{n} depots, but no town: say which towns they are in"
            )
        said = [c for _, c, _ in towns]
        if any(c is not None for c in said):
            first_free = [i for i, c in enumerate(said) if c is None]
            counts = [c if c is not None else 1 for c in said]
            if n is not None and first_free == [0]:
                counts[0] = n
            return counts
        if n is None or n == len(towns):
            return [1] * len(towns)
        if len(towns) == 1:
            return [n]
        names = ", ".join(t for t, _, _ in towns)
        raise _not_understood(f"{n} depots but {len(towns)} towns ({names}): say how many in "
                              "each, e.g. 'two depots in Limerick and one in Ennis'")  # fmt: skip

    # Making the elements -----------------------------------------------------------------

    def generate(self, description: str) -> StarterConfig:
        slots = self.read(description)
        making = _Making(self, slots)
        return making.run(description)


def _set(config: dict[str, Any], pointer: str, value: Any) -> None:
    parts = pointer.split("/")
    node = config
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _get(config: Mapping[str, Any], pointer: str) -> Any:
    node: Any = config
    for part in pointer.split("/"):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _has_placeholder(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_PLACEHOLDER.search(value))
    if isinstance(value, dict):
        return any(_has_placeholder(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_placeholder(v) for v in value)
    return False


class _Making:
    """One description's elements, built from the templates and the slots."""

    def __init__(self, generator: SetupGenerator, slots: _Slots) -> None:
        self.g = generator
        self.slots = slots
        self.configs: dict[str, dict[str, Any]] = {}
        self.kinds: dict[str, str] = {}
        self.said: dict[str, set[str]] = {}  # element id -> pointers said or derived
        self.derived: dict[tuple[str, str], str] = {}  # (id, pointer) -> why
        self.from_target: set[str] = set()
        self.next_number: dict[str, int] = {}

    def template(self, kind: str) -> Template:
        template = self.g.templates.get(kind)
        if template is None:
            raise SetupInvalidError(
                f"no config_template atom for kind {kind!r}: add one to ops/knowledge "
                "(type: config_template, tagged with the kind)"
            )
        return template

    def new_id(self, kind: str) -> str:
        example = str(self.template(kind).defaults.get("id", ""))
        match = re.match(r"^(\D*)(\d+)$", example)
        if not match:
            raise SetupInvalidError(f"the {kind} template's id {example!r} shows no number")
        prefix, width = match.group(1), len(match.group(2))
        if kind not in self.next_number:
            taken = [int(m.group(1)) for i in self.g.elements
                     if (m := re.match(rf"^{re.escape(prefix)}(\d+)$", i))]  # fmt: skip
            self.next_number[kind] = max(taken, default=0) + 1
        number = self.next_number[kind]
        self.next_number[kind] += 1
        return f"{prefix}{number:0{width}d}"

    def add(self, kind: str, element_id: str, said: dict[str, Any]) -> dict[str, Any]:
        existing = self.g.elements.get(element_id)
        if existing is not None and existing.kind == kind:
            config = copy.deepcopy(existing.config)
            self.from_target.add(element_id)
        else:
            config = copy.deepcopy(self.template(kind).defaults)
        config["id"] = element_id
        for pointer, value in said.items():
            if not pointer.startswith("__"):
                _set(config, pointer, value)
        self.configs[element_id] = config
        self.kinds[element_id] = kind
        self.said[element_id] = {"id", *said}
        return config

    def derive(self, element_id: str, pointer: str, value: Any, why: str) -> None:
        _set(self.configs[element_id], pointer, value)
        self.said[element_id].add(pointer)
        self.derived[(element_id, pointer)] = why

    def run(self, description: str) -> StarterConfig:
        s = self.slots
        read: list[str] = []
        depot_ids: list[str] = []
        depot_fields = dict(s.depot_fields)
        if s.depots:
            towns = list(dict.fromkeys(t for t, _ in s.depots))
            read.append(f"{len(s.depots)} depot(s) in {', '.join(towns)}")
        elif s.sorters or s.routes:
            what = "sorter" if s.sorters else "route"
            raise _not_understood(f"a {what} needs its depot: say which depot to set up, e.g. "
                                  f"'a depot in Ennis with a {what}'")  # fmt: skip
        if s.routes and "destination" not in s.route_fields and \
                _has_placeholder(self.template("route").defaults.get("destination")):  # fmt: skip
            raise _not_understood("which hub does the route go to? say e.g. 'to the Athlone hub'")
        route_carriers = s.route_carriers[:1]
        depot_carriers = list(s.depot_carriers)
        carriers_said = list(dict.fromkeys(s.carriers + s.field_carriers))
        if s.carrier_count is not None and carriers_said and \
                s.carrier_count != len(carriers_said):  # fmt: skip
            raise _not_understood(f"{s.carrier_count} carrier(s) but {len(carriers_said)} "
                                  f"named ({', '.join(carriers_said)})")  # fmt: skip
        for pointer, value in depot_fields.items():
            if not pointer.startswith("__"):
                read.append(f"{pointer} {json.dumps(value)}")
        if depot_carriers:
            read.append(f"carriers {', '.join(depot_carriers)}")
        same_town: dict[str, int] = {}
        for town, region in s.depots:
            element_id = self.new_id("depot")
            depot_ids.append(element_id)
            said = dict(depot_fields)
            said["city"] = town
            config = self.add("depot", element_id, said)
            same_town[town] = same_town.get(town, 0) + 1
            self.derive(element_id, "name",
                        town if same_town[town] == 1 else f"{town} {same_town[town]}",
                        "named after its town")  # fmt: skip
            rule = self.template("depot").derive.get("region")
            found = rule[1].get(town.lower()) if rule else None
            found = found or self.g.towns.get(town.lower())
            if found:
                self.derive(element_id, "region", found, f"{town} is in {found}")
            elif region:
                self.derive(element_id, "region", region, "the region the description names")
            if depot_carriers:
                self.derive(element_id, "carriers", depot_carriers, "")
                self.said[element_id].add("carriers")
                del self.derived[(element_id, "carriers")]
            elif carriers_said:
                self.derive(element_id, "carriers", carriers_said,
                            "the carriers the description names")  # fmt: skip
            days = _get(config, "schedule/days")
            if "__no_saturday" in depot_fields and isinstance(days, list) and "sat" in days:
                self.derive(element_id, "schedule/days", [d for d in days if d != "sat"],
                            "no Saturday work")  # fmt: skip
            if depot_fields.get("saturday_cutoff") and "schedule/days" not in depot_fields \
                    and isinstance(days, list) and "sat" not in days:  # fmt: skip
                self.derive(element_id, "schedule/days",
                            [d for d in WEEKDAYS if d in days or d == "sat"],
                            "it has a Saturday cut-off")  # fmt: skip
        for depot_id in depot_ids:
            if s.sorters:
                sorter_id = self.new_id("sorter")
                self.add("sorter", sorter_id, {**s.sorter_fields, "depot": depot_id})
                self.derive(depot_id, "sorter", sorter_id, "the depot's sorter")
            if s.routes:
                route_id = self.new_id("route")
                said = dict(s.route_fields)
                said["origin"] = depot_id
                if route_carriers:
                    said["carrier"] = route_carriers[0]
                route = self.add("route", route_id, said)
                carriers = self.configs[depot_id].get("carriers")
                if isinstance(carriers, list) and route["carrier"] not in carriers:
                    self.derive(depot_id, "carriers", [*carriers, route["carrier"]],
                                f"its route {route_id} is run by {route['carrier']}")  # fmt: skip
        if s.sorters:
            read.append("a sorter for each depot" + "".join(
                f"; {p} {json.dumps(v)}" for p, v in s.sorter_fields.items()))  # fmt: skip
        if s.routes:
            read.append("a route from each depot" + "".join(
                f"; {p} {json.dumps(v)}" for p, v in s.route_fields.items()))  # fmt: skip
        # Carriers: those named to configure, then every one a depot or route names.
        wanted = list(carriers_said)
        if s.carrier_count and not wanted:
            default = list(self.template("depot").defaults.get("carriers") or [])
            if s.carrier_count > len(default):
                raise _not_understood(f"{s.carrier_count} carriers, but which? name them, "
                                      "e.g. 'three carriers (An Post, DPD, Fastway)'")  # fmt: skip
            wanted = default[: s.carrier_count]
        for element_id in list(self.configs):
            kind = self.kinds[element_id]
            refs = self.configs[element_id].get("carriers" if kind == "depot" else "carrier")
            for c in refs if isinstance(refs, list) else [refs] if kind == "route" else []:
                if isinstance(c, str) and c not in wanted:
                    wanted.append(c)
        if s.carrier_count:
            read.append(f"{s.carrier_count} carrier(s)")
        if route_carriers:
            read.append(f"route carrier {route_carriers[0]}")
        if s.carrier_fields:
            read.append("carrier " + ", ".join(f"{p} {json.dumps(v)}"
                                               for p, v in s.carrier_fields.items()))  # fmt: skip
        for carrier in wanted:
            fields_for = s.carrier_fields if (carrier in carriers_said or not carriers_said
                                              or not s.field_carriers
                                              or carrier in s.field_carriers) else {}  # fmt: skip
            if s.field_carriers and carrier not in s.field_carriers:
                fields_for = {}
            config = self.add("carrier", carrier, dict(fields_for))
            if carrier not in self.from_target:
                slug = carrier.split("-", 1)[-1].lower()
                written = s.carrier_names.get(carrier) or slug.title()
                for key, value in list(config.items()):
                    if isinstance(value, str) and _PLACEHOLDER.search(value):
                        filled = value.replace("<NAME>", slug.upper()).replace("<name>", slug)
                        if key == "name":
                            filled = written
                        self.derive(carrier, key, filled, "from the carrier's name")
        if not self.configs:
            raise _not_understood("nothing to set up was read: name the depots, sorters, "
                                  "routes or carriers")  # fmt: skip
        return self.finish(description, read)

    def finish(self, description: str, read: list[str]) -> StarterConfig:
        missing = []
        for element_id, config in self.configs.items():
            for key, value in config.items():
                if _has_placeholder(value):
                    missing.append(f"{self.kinds[element_id]} {element_id}'s {key} ({value})")
        if missing:
            raise _not_understood("not said and without a default: " + "; ".join(missing))
        kinds = dict(self.kinds)
        ids: dict[str, set[str]] = {}
        for i, k in kinds.items():
            ids.setdefault(k, set()).add(i)
        errors = validate_configs(self.g.schemas, kinds, self.configs, ids)
        bad = {i: e for i, e in errors.items() if e}
        if bad:
            detail = "; ".join(f"{i}: {', '.join(e)}" for i, e in bad.items())
            raise SetupInvalidError(
                f"the generated configuration would not be valid, so nothing is shown: {detail} "
                "(a value the description gives is out of its field's range, or a "
                "config_template atom's default is wrong)"
            )
        assumed: list[Assumption] = []
        elements: dict[str, GeneratedElement] = {}
        for element_id, config in self.configs.items():
            kind = self.kinds[element_id]
            said = self.said[element_id]
            title = self.template(kind).title
            if element_id in self.from_target:
                why = f"kept as the target has it ({element_id})"
            else:
                why = f"the default of {title}"
            for key, value in config.items():
                if key in said:
                    continue
                if isinstance(value, dict) and any(f"{key}/{k}" in said for k in value):
                    for sub, sub_value in value.items():
                        if f"{key}/{sub}" not in said:
                            assumed.append(Assumption(element_id, f"{key}/{sub}", sub_value, why))
                    continue
                assumed.append(Assumption(element_id, key, value, why))
            for (i, pointer), reason in self.derived.items():
                if i == element_id and reason and pointer in ("carriers", "schedule/days") \
                        and reason != "no Saturday work":  # fmt: skip
                    assumed.append(Assumption(element_id, pointer, _get(config, pointer), reason))
            suffix = self._suffix(kind)
            path = f"elements/{kind}s/{element_id}{suffix}"
            text = dump_element(path, config).decode()
            elements[element_id] = GeneratedElement(element_id, kind, config, path, text,
                                                    element_id in self.from_target)  # fmt: skip
        return StarterConfig(description, elements, assumed, read)

    def _suffix(self, kind: str) -> str:
        """As the target keeps that kind: JSON when its elements' text is JSON, else YAML."""
        for e in self.g.elements.values():
            if e.kind == kind:
                try:
                    json.loads(e.text)
                except ValueError:
                    return ".yaml"
                return ".json"
        return ".yaml"


async def generator_for(target: TargetSystem, atoms: Sequence[OpsAtom]) -> SetupGenerator:
    """A generator over the target's schemas and elements as they are now (new ids follow
    its own), with the config_template atoms among `atoms`."""
    elements = await target.elements()
    schemas = {kind: await target.schema(kind) for kind in await target.kinds()}
    return SetupGenerator(schemas, atoms, elements)


SETUP_START = re.compile(
    r"^\s*(please\s+|can you\s+|could you\s+)?(set\s*up|create|configure|generate|build|"
    r"add|we need|i need|we want|i want|give me)\b|\bstarter config",
    re.I,
)
_TROUBLE = re.compile(r"\b(fail\w*|error\w*|wrong|why|late|jam\w*|outage|down|broke\w*)\b", re.I)


def looks_like_setup(text: str) -> bool:
    """A chat message that asks for a configuration to be made, not a question about
    failures: it starts with a verb of making (or asks for a starter configuration), has no
    question mark and no word of trouble ("failed", "error", "why", "late"...)."""
    return bool(SETUP_START.search(text)) and "?" not in text and not _TROUBLE.search(text)


def chat_view(generator: SetupGenerator, text: str) -> dict[str, Any]:
    """A setup request met in the ops chat: the starter configuration shown (nothing is
    proposed or written), or why the description could not be read, as the chat's answer."""
    try:
        starter = generator.generate(text)
    except DescriptionNotUnderstood as exc:
        answer = f"I could not read that as a setup: {exc.message}"
        return {"kind": "setup", "description": text, "read": [], "elements": [], "files": {},
                "assumed": [], "answer": answer}  # fmt: skip
    view = starter.view()
    view["kind"] = "setup"
    view["answer"] = (
        starter.answer() + "\n\nNothing is written. To propose it to the target as a change "
        f"plan: frontdesk ops setup --propose {json.dumps(text)} (or POST /v1/ops/setup with "
        '"propose": true); an operator approves and applies it.'
    )
    return view
