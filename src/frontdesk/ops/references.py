"""Element references in an operator's question, resolved against the target's elements.

Read, longest phrase first (a phrase once matched is not read again, so "Cork Airport" is
D14 and not every Cork depot): element ids ("D12", "S07", "C-DPD"), a kind and a number
("depot 12", "sorter 7", "route 3"), and the values of the elements' `name`, `city` and
`region` fields ("Athlone", "all Dublin depots", "Connacht"); a carrier also by its id
without the "C-" ("DPD"). The scope to read logs for then adds each element's neighbours:
a depot's sorters, carriers and routes; a sorter's depot; a route's origin and carrier.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from frontdesk.interfaces import TargetElement

KIND_WORDS = {"depot": "D", "sorter": "S", "route": "R"}
NAME_FIELDS = ("name", "city", "region")


def _phrases(elements: Sequence[TargetElement]) -> dict[str, set[str]]:
    phrases: dict[str, set[str]] = {}
    for element in elements:
        names = {element.id}
        for name_field in NAME_FIELDS:
            value = element.config.get(name_field)
            if isinstance(value, str) and value.strip():
                names.add(value)
        if element.id.startswith("C-"):
            names.add(element.id[2:])
        for name in names:
            phrases.setdefault(name.lower(), set()).add(element.id)
    return phrases


def referenced(question: str, elements: Sequence[TargetElement]) -> list[str]:
    """The ids of the elements a question names (empty: it names none, i.e. all)."""
    text = question.lower()
    ids = {e.id for e in elements}
    found: set[str] = set()

    def take(match: re.Match[str]) -> str:
        return " " * len(match.group(0))  # consumed: shorter phrases cannot match inside

    for word, prefix in KIND_WORDS.items():
        for m in re.finditer(rf"\b{word}s? (\d{{1,3}})\b", text):
            candidate = f"{prefix}{int(m.group(1)):02d}"
            if candidate in ids:
                found.add(candidate)
        text = re.sub(rf"\b{word}s? \d{{1,3}}\b", take, text)
    for phrase, owners in sorted(_phrases(elements).items(), key=lambda p: -len(p[0])):
        pattern = rf"(?<![\w-]){re.escape(phrase)}(?![\w-])"
        if re.search(pattern, text):
            found |= owners
            text = re.sub(pattern, take, text)
    return sorted(found)


def scope(ids: Sequence[str], elements: Sequence[TargetElement]) -> list[str]:
    """The named elements and their neighbours (see the module's docstring)."""
    by_id = {e.id: e for e in elements}
    chosen = set(ids)
    for element in elements:
        config = element.config
        if element.kind == "sorter":
            if config.get("depot") in ids or element.id in ids:
                chosen |= {element.id, str(config.get("depot"))}
        elif element.kind == "route":
            if config.get("origin") in ids or element.id in ids:
                chosen.add(element.id)
            if element.id in ids:
                chosen |= {str(config.get("origin")), str(config.get("carrier"))}
        elif element.kind == "depot" and element.id in ids:
            chosen |= {str(c) for c in config.get("carriers") or []}
    return sorted(i for i in chosen if i in by_id)
