"""Troubleshooting chat without an LLM: read the target's logs and metrics for the window and
elements a question names, group the failures into incidents, pick each one's likely root
cause by documented rules, match its codes to the ops knowledge atoms and answer from a
template that cites every piece of evidence (log lines with timestamps and element ids,
metric peaks, atoms) and the playbook's next steps.

Causal rules (a failure is an event of severity warning or worse):
  1. carrier before backlog: LABEL-BACKLOG on a depot whose carrier logged errors in the
     60 minutes before belongs to that carrier's incident;
  2. sorter before depot: SORT-DEGRADED on a depot whose sorter failed in the 12 hours before
     belongs to the sorter's incident;
  3. overflow before jam: SORT-JAM on a sorter whose depot logged CAP-OVERFLOW in the 2 hours
     before belongs to the depot's incident;
  4. change before failure: a CONFIG_CHANGED or DEPLOY on the root element in the 7 days
     before its first failure is named as the cause;
  5. capacity over limit: a depot whose hourly `parcels_in` exceeds its `capacity_per_hour`
     is an incident even when it logged nothing.
Every other failure roots on its own element. Words of the question narrow the incidents to
a topic (TOPICS), and "which ... most <metric>" keeps the element with the highest total.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from frontdesk.interfaces import MetricPoint, TargetElement, TargetEvent, TargetSystem
from frontdesk.ops.references import referenced, scope
from frontdesk.ops.windows import Window, parse_window

FAILURE = ("warning", "error", "critical")
CAUSE_CODES = ("CONFIG_CHANGED", "DEPLOY")
CAUSE_LOOKBACK = timedelta(days=7)
RECOVERY = re.compile(r"RECOVER|RESOLVED")
# (code on the element, neighbour relation, upstream codes or None for any failure, within)
PROPAGATION: tuple[tuple[str, str, tuple[str, ...] | None, timedelta], ...] = (
    ("LABEL-BACKLOG", "carriers", None, timedelta(minutes=60)),
    ("SORT-DEGRADED", "sorters", None, timedelta(hours=12)),
    ("SORT-JAM", "depot", ("CAP-OVERFLOW",), timedelta(hours=2)),
)
# topic word in the question -> incident category (from its codes, see _categories)
TOPICS = {
    "capacity": "capacity", "overload": "capacity", "overloaded": "capacity",
    "overflow": "capacity", "congestion": "capacity",
    "carrier": "carrier", "carriers": "carrier", "label": "carrier", "labels": "carrier",
    "cut-off": "cutoff", "cutoff": "cutoff",
    "changed": "change", "change": "change", "release": "change", "deploy": "change",
    "deployed": "change", "firmware": "change",
    "jam": "sorter", "jammed": "sorter", "reject": "sorter", "rejects": "sorter",
}  # fmt: skip
METRIC_WORDS = {"late": "parcels_late", "reject": "rejects", "rejects": "rejects",
                "inbound": "parcels_in", "busiest": "utilisation"}  # fmt: skip


@dataclass(frozen=True)
class OpsAtom:
    """An ops knowledge atom, as the troubleshooter needs it (read by the caller)."""

    title: str
    type: str
    tags: tuple[str, ...]
    related: tuple[str, ...]
    body: str


@dataclass(frozen=True)
class MetricCitation:
    element: str
    name: str
    value: float
    ts: datetime
    limit: float | None = None


@dataclass
class Incident:
    root: str
    cause: TargetEvent | None = None
    failures: list[TargetEvent] = field(default_factory=list)
    recoveries: list[TargetEvent] = field(default_factory=list)
    metrics: list[MetricCitation] = field(default_factory=list)
    atoms: list[OpsAtom] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)

    @property
    def codes(self) -> list[str]:
        return sorted({e.code for e in self.failures})

    def evidence(self) -> list[TargetEvent]:
        """The cause, the first and last line of each (element, code), the recoveries."""
        groups: dict[tuple[str, str], list[TargetEvent]] = defaultdict(list)
        for event in self.failures:
            groups[(event.element, event.code)].append(event)
        lines = [self.cause] if self.cause else []
        for events in groups.values():
            lines += [events[0]] + ([events[-1]] if len(events) > 1 else [])
        return sorted(lines + self.recoveries, key=lambda e: (e.ts, e.element))


@dataclass
class Diagnosis:
    question: str
    window: Window
    elements: list[str]  # named in the question (empty: all)
    topics: list[str]
    incidents: list[Incident]
    others: list[str]  # roots of incidents in the window that the topic left out
    answer: str = ""


def _categories(incident: Incident) -> set[str]:
    found = {"change"} if incident.cause else set()
    for code in incident.codes:
        if code.startswith(("CARRIER", "LABEL")):
            found.add("carrier")
        elif code.startswith("CAP"):
            found.add("capacity")
        elif code.startswith("CUTOFF"):
            found.add("cutoff")
        elif code.startswith("SORT"):
            found.add("sorter")
    if any(m.limit is not None and m.value > m.limit for m in incident.metrics):
        found.add("capacity")
    return found


def _neighbours(
    element: TargetElement, relation: str, by_id: dict[str, TargetElement]
) -> list[str]:
    if relation == "carriers":
        return [str(c) for c in element.config.get("carriers") or []]
    if relation == "depot":
        return [str(element.config.get("depot"))]
    return [
        e.id for e in by_id.values() if e.kind == "sorter" and e.config.get("depot") == element.id
    ]


class Troubleshooter:
    """Answers questions about a target's recent failures (read-only)."""

    def __init__(self, target: TargetSystem, atoms: Sequence[OpsAtom] = ()) -> None:
        self.target = target
        self.atoms = list(atoms)

    async def ask(self, question: str, now: datetime) -> Diagnosis:
        everything = await self.target.elements()
        by_id = {e.id: e for e in everything}
        named = referenced(question, everything)
        read = scope(named, everything) if named else None
        window = parse_window(question, now)
        events = await self.target.events(window.start - CAUSE_LOOKBACK, window.end, elements=read)
        inside = [e for e in events if e.ts >= window.start]
        failures = [e for e in inside if e.severity in FAILURE]
        points = await self.target.metrics(window.start, window.end, elements=read)
        incidents = self._group(failures, events, by_id)
        self._capacity(points, by_id, incidents)
        for incident in incidents.values():
            incident.recoveries = [e for e in inside if e.element == incident.root
                                   and RECOVERY.search(e.code)]  # fmt: skip
            self._cite_metrics(incident, points, by_id)
            self._cite_atoms(incident)
        found = sorted(incidents.values(), key=lambda i: self._first(i))
        words = set(re.findall(r"[a-z][a-z-]*", question.lower()))
        topics = sorted({TOPICS[w] for w in words if w in TOPICS})
        kept = [i for i in found if not topics or _categories(i) & set(topics)]
        kept = self._superlative(question, kept, points)
        others = [i.root for i in found if i not in kept]
        diagnosis = Diagnosis(question, window, named, topics, kept, others)
        diagnosis.answer = render(diagnosis)
        return diagnosis

    @staticmethod
    def _first(incident: Incident) -> datetime:
        times = [e.ts for e in incident.failures] + [m.ts for m in incident.metrics]
        return min(times)

    def _group(self, failures: list[TargetEvent], events: list[TargetEvent],
               by_id: dict[str, TargetElement]) -> dict[str, Incident]:  # fmt: skip
        settled: dict[int, str] = {}  # id(failure) -> its root; oldest first, so a chain
        # (an overflow -> a jam -> a degraded depot) ends at the first link's root
        incidents: dict[str, Incident] = {}
        for event in failures:
            root = event.element
            element = by_id.get(event.element)
            for code, relation, upstream, within in PROPAGATION:
                if element is None or event.code != code:
                    continue
                near = _neighbours(element, relation, by_id)
                cause = [f for f in failures if f.element in near and f.severity in FAILURE
                         and event.ts - within <= f.ts <= event.ts
                         and (upstream is None or f.code in upstream)]  # fmt: skip
                if cause:
                    root = settled.get(id(cause[-1]), cause[-1].element)
            settled[id(event)] = root
            incidents.setdefault(root, Incident(root)).failures.append(event)
        for root, incident in incidents.items():
            first = (
                min(e.ts for e in incident.failures if e.element == root)
                if any(e.element == root for e in incident.failures)
                else incident.failures[0].ts
            )
            changes = [e for e in events if e.element == root and e.code in CAUSE_CODES
                       and first - CAUSE_LOOKBACK <= e.ts <= first]  # fmt: skip
            incident.cause = changes[-1] if changes else None
        return incidents

    @staticmethod
    def _capacity(points: list[MetricPoint], by_id: dict[str, TargetElement],
                  incidents: dict[str, Incident]) -> None:  # fmt: skip
        for point in points:
            element = by_id.get(point.element)
            limit = element.config.get("capacity_per_hour") if element else None
            inbound = point.values.get("parcels_in")
            if isinstance(limit, int | float) and inbound is not None and inbound > limit:
                incident = incidents.setdefault(point.element, Incident(point.element))
                incident.metrics.append(MetricCitation(point.element, "parcels_in", inbound,
                                                       point.ts, float(limit)))  # fmt: skip

    def _cite_metrics(self, incident: Incident, points: list[MetricPoint],
                      by_id: dict[str, TargetElement]) -> None:  # fmt: skip
        """Each metric's peak on the root element while the incident lasted (± 1 hour)."""
        times = [e.ts for e in incident.failures] + [m.ts for m in incident.metrics]
        lo, hi = min(times) - timedelta(hours=1), max(times) + timedelta(hours=1)
        over = {(m.ts, m.name): m for m in incident.metrics}
        peaks: dict[str, MetricCitation] = {}
        for point in points:
            if point.element != incident.root or not lo <= point.ts <= hi:
                continue
            for name, value in point.values.items():
                if name not in peaks or value > peaks[name].value:
                    peaks[name] = MetricCitation(point.element, name, value, point.ts)
        root = by_id.get(incident.root)
        limit = root.config.get("capacity_per_hour") if root else None
        if "parcels_in" in peaks and isinstance(limit, int | float):
            p = peaks["parcels_in"]
            peaks["parcels_in"] = MetricCitation(p.element, p.name, p.value, p.ts, float(limit))
        incident.metrics = list(peaks.values()) or list(over.values())

    def _cite_atoms(self, incident: Incident) -> None:
        """Error atoms tagged with a failure code first, then what they relate to, then the
        other atoms tagged with a code (playbooks, procedures)."""
        codes = set(incident.codes)
        tagged = [a for a in self.atoms if codes & set(a.tags)]
        chosen = [a for a in tagged if a.type == "error"]
        by_title = {a.title: a for a in self.atoms}
        for atom in list(chosen):
            chosen += [by_title[t] for t in atom.related if t in by_title]
        chosen += tagged
        unique: list[OpsAtom] = []
        for atom in chosen:
            if atom not in unique:
                unique.append(atom)
        incident.atoms = unique
        incident.next_steps = next_steps(unique)

    @staticmethod
    def _superlative(question: str, incidents: list[Incident],
                     points: list[MetricPoint]) -> list[Incident]:  # fmt: skip
        text = question.lower()
        if not re.search(r"\b(most|highest|worst|busiest)\b", text):
            return incidents
        metric = next((m for w, m in METRIC_WORDS.items() if re.search(rf"\b{w}\b", text)), None)
        if metric is None:
            return incidents
        totals: dict[str, float] = defaultdict(float)
        for point in points:
            if metric in point.values:
                totals[point.element] += point.values[metric]
        if not totals:
            return incidents
        top = max(totals, key=lambda k: totals[k])
        kept = [i for i in incidents if i.root == top or any(e.element == top for e in i.failures)]
        for incident in kept:
            if not any(m.name == metric and m.element == top for m in incident.metrics):
                peak = max((p for p in points if p.element == top and metric in p.values),
                           key=lambda p: p.values[metric])  # fmt: skip
                incident.metrics.append(MetricCitation(top, metric, peak.values[metric], peak.ts))
        return kept


def next_steps(atoms: Sequence[OpsAtom]) -> list[str]:
    """A playbook's numbered steps, else the first error atom's "What to do" section."""
    for atom in atoms:
        if atom.type == "playbook":
            steps = re.findall(r"^\d+\.\s+(.+(?:\n {2,}.+)*)", atom.body, re.M)
            if steps:
                return [re.sub(r"\s+", " ", s).strip() for s in steps]
    for atom in atoms:
        if atom.type == "error" and (m := re.search(r"## What to do\s*\n(.+?)(?:\n## |\Z)",
                                                     atom.body, re.S)):  # fmt: skip
            return [re.sub(r"\s+", " ", m.group(1)).strip()]
    return []


def _when(moment: datetime) -> str:
    return moment.strftime("%a %d %b %H:%M")


def _line(event: TargetEvent) -> str:
    stamp = event.ts.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"[{stamp}] {event.element} {event.code} ({event.severity}): {event.message}"


def render(diagnosis: Diagnosis) -> str:
    """The answer's text: every statement followed by the lines and values it rests on."""
    window = diagnosis.window
    where = ", ".join(diagnosis.elements) if diagnosis.elements else "all elements"
    head = f"{_when(window.start)} to {_when(window.end)} UTC, {where}"
    if diagnosis.topics:
        head += f", about {' / '.join(diagnosis.topics)}"
    if not diagnosis.incidents:
        what = "no failures found" if not diagnosis.others else "no such failures found"
        lines = [f"{head}: {what} — nothing went wrong there in that window."]
        if diagnosis.others:
            lines.append(
                f"(Other incidents in the window, on another topic: {', '.join(diagnosis.others)}.)"
            )
        return "\n".join(lines)
    count = len(diagnosis.incidents)
    out = [f"{head}: {count} incident{'s' if count > 1 else ''}."]
    for n, incident in enumerate(diagnosis.incidents, 1):
        failures = incident.failures
        summary = (f"{len(failures)} failure line(s) ({', '.join(incident.codes)}) from "
                   f"{_when(failures[0].ts)} to {_when(failures[-1].ts)}") if failures else \
            "metrics over their limit"  # fmt: skip
        cause = (
            (
                f"; likely cause: {incident.cause.code} on {incident.root} at "
                f"{_when(incident.cause.ts)} — {incident.cause.message}"
            )
            if incident.cause
            else ""
        )
        out += ["", f"{n}. Root cause: {incident.root} — {summary}{cause}.", "   Evidence:"]
        out += [f"   - {_line(e)}" for e in incident.evidence()]
        for m in incident.metrics:
            limit = f" (limit {m.limit:g})" if m.limit is not None else ""
            out.append(f"   - metric {m.element} {m.name} = {m.value:g}{limit} at "
                       f"{m.ts.strftime('%Y-%m-%dT%H:%M:%SZ')}")  # fmt: skip
        if incident.atoms:
            out.append(
                "   Knowledge: " + "; ".join(f"{a.title} ({a.type})" for a in incident.atoms)
            )
        if incident.next_steps:
            out.append("   Next steps:")
            out += [f"   {k}. {step}" for k, step in enumerate(incident.next_steps, 1)]
    if diagnosis.others:
        out += [
            "",
            f"Other incidents in the window, on another topic: {', '.join(diagnosis.others)}.",
        ]
    return "\n".join(out)


def diagnosis_view(diagnosis: Diagnosis) -> dict[str, Any]:
    """The diagnosis as JSON-ready data (the API's answer, the benchmark's input)."""
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    return {
        "question": diagnosis.question,
        "window": {"start": diagnosis.window.start.strftime(stamp),
                   "end": diagnosis.window.end.strftime(stamp), "phrase": diagnosis.window.phrase},
        "elements": diagnosis.elements,
        "topics": diagnosis.topics,
        "answer": diagnosis.answer,
        "incidents": [
            {
                "root": i.root,
                "codes": i.codes,
                "cause": _event_view(i.cause) if i.cause else None,
                "evidence": [_event_view(e) for e in i.evidence()],
                "metrics": [{"element": m.element, "name": m.name, "value": m.value,
                             "ts": m.ts.strftime(stamp), "limit": m.limit} for m in i.metrics],
                "atoms": [{"title": a.title, "type": a.type} for a in i.atoms],
                "next_steps": i.next_steps,
            }
            for i in diagnosis.incidents
        ],
        "other_incidents": diagnosis.others,
    }  # fmt: skip


def _event_view(event: TargetEvent) -> dict[str, Any]:
    return {"ts": event.ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "element": event.element,
            "code": event.code, "severity": event.severity, "message": event.message}  # fmt: skip
