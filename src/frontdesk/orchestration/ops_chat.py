"""The troubleshooting chat assembled: the workspace's target (as the change plans hold it)
and its ops knowledge atoms (ops/knowledge/*.md, read with the knowledge base's own atom
parser; the ops capability cannot import knowledge, so the atoms are handed over here).

With a model for `llm.models.ops`, two LLM paths (the ops capability cannot import llm, so
they are joined here):
- the chat: the model answers through the tool loop (`llm.tool_max_steps`,
  `llm.tool_max_calls`, the turn's token/cost budgets and `llm.turn_timeout_s`) with
  read-only tools over the target (events, metrics, elements, one element, ops atoms, the
  deterministic diagnosis). Its answer may cite only log lines and metric values that a tool
  returned; citing none keeps the deterministic diagnosis's evidence under it. A model
  error, an exhausted budget or a citation no tool returned gives the deterministic answer,
  with `engine: deterministic` and the reason in `fallback`.
- change requests the grammar cannot read: the model's structured output (`ChangeSpec`),
  checked like the grammar's output by `RequestParser.from_spec` (ops/plans.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from frontdesk.config.settings import Settings
from frontdesk.errors import FrontdeskError, InvalidRequestError
from frontdesk.interfaces import ChatMessage, ChatRequest, Severity, TargetSystem, Tool
from frontdesk.knowledge.atoms import parse_atom
from frontdesk.llm.router import Ledger
from frontdesk.llm.service import LlmService
from frontdesk.ops.plans import Interpreter
from frontdesk.ops.requests import ChangeSpec, RequestParser
from frontdesk.ops.troubleshoot import OpsAtom, Troubleshooter, diagnosis_view

OPS_KNOWLEDGE = "ops/knowledge"
STAMP = "%Y-%m-%dT%H:%M:%SZ"
MAX_EVENTS = 200  # lines one tool call returns (the model's context, not the target, is small)
MAX_POINTS = 100
# How the chat's answers cite (the deterministic template's own forms).
LOG_CITE = re.compile(r"\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\]\s+([\w-]+)\s+([\w-]+)")
METRIC_CITE = re.compile(r"\bmetric\s+([\w-]+)\s+(\w+)\s*=\s*(-?[\d.]+)")


def read_ops_atoms(folder: Path) -> list[OpsAtom]:
    """Every atom of the folder (sorted by file name); none when it does not exist."""
    atoms: list[OpsAtom] = []
    for path in sorted(folder.glob("*.md")) if folder.is_dir() else []:
        atom = parse_atom(path)
        atoms.append(OpsAtom(atom.meta.title, atom.meta.type, tuple(atom.meta.tags),
                             tuple(atom.meta.related), atom.body))  # fmt: skip
    return atoms


def build_troubleshooter(target: TargetSystem, workspace_root: Path) -> Troubleshooter:
    return Troubleshooter(target, read_ops_atoms(workspace_root / OPS_KNOWLEDGE))


def has_ops_model(llm: LlmService | None) -> bool:
    return llm is not None and bool(llm.router.chain("ops"))


async def ops_llm(settings: Settings) -> LlmService | None:
    """The models of `llm.models.ops` outside a running server (the CLI); None without any.
    The caller closes it (`aclose`)."""
    if not settings.llm.models.get("ops"):
        return None
    from frontdesk.llm.assembly import build_llm, check_provider_urls
    from frontdesk.orchestration.runtime import load_registries  # the server's own models

    await check_provider_urls(settings.llm)
    return build_llm(settings.llm, load_registries().chat_models.create,
                     company=settings.assistant.company)  # fmt: skip


# -- read-only tools --------------------------------------------------------------------------


def _time(value: object) -> datetime:
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _ids(value: object) -> list[str] | None:
    if value in (None, "", []):
        return None
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


class _ReadTool:
    """A tool that only reads the target (no write tool is ever offered to the model)."""

    name = ""
    description = ""
    arguments: ClassVar[dict[str, Any]] = {}

    def __init__(self, chat: Troubleshooter, now: datetime) -> None:
        self.chat = chat
        self.target = chat.target
        self.now = now
        self.parameters: dict[str, Any] = self.arguments

    async def __call__(self, **arguments: object) -> object:
        raise NotImplementedError


_WINDOW = {
    "start": {"type": "string", "description": "ISO 8601 UTC, e.g. 2026-12-05T18:00:00Z"},
    "end": {"type": "string", "description": "ISO 8601 UTC (excluded)"},
    "elements": {"type": "array", "items": {"type": "string"}, "description": "element ids"},
}


class Diagnose(_ReadTool):
    name = "diagnose"
    description = (
        "The deterministic diagnosis of a question: window, incidents, root causes, cited "
        "log lines and metrics, knowledge atoms, next steps."
    )
    arguments: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"question": {"type": "string"}},
        "required": ["question"],
    }

    async def __call__(self, **arguments: object) -> object:
        return (await self.chat.ask(str(arguments["question"]), self.now)).answer


class Events(_ReadTool):
    name = "events"
    description = "Event log lines in a window, oldest first, by element and least severity."
    arguments: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            **_WINDOW,
            "min_severity": {
                "type": "string",
                "enum": ["debug", "info", "warning", "error", "critical"],
            },
        },
        "required": ["start", "end"],
    }

    async def __call__(self, **arguments: object) -> object:
        severity: Severity = arguments.get("min_severity") or "info"  # type: ignore[assignment]
        found = await self.target.events(_time(arguments["start"]), _time(arguments["end"]),
                                         elements=_ids(arguments.get("elements")),
                                         min_severity=severity)  # fmt: skip
        lines = [f"[{e.ts.strftime(STAMP)}] {e.element} {e.code} ({e.severity}): {e.message}"
                 for e in found[:MAX_EVENTS]]  # fmt: skip
        if len(found) > MAX_EVENTS:
            lines.append(f"... {len(found) - MAX_EVENTS} more lines: narrow the window")
        return "\n".join(lines) or "no events"


class Metrics(_ReadTool):
    name = "metrics"
    description = "Metric values per element and hour in a window, oldest first."
    arguments: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": _WINDOW,
        "required": ["start", "end"],
    }

    async def __call__(self, **arguments: object) -> object:
        found = await self.target.metrics(_time(arguments["start"]), _time(arguments["end"]),
                                          elements=_ids(arguments.get("elements")))  # fmt: skip
        lines = [f"metric {p.element} {name} = {value:g} at {p.ts.strftime(STAMP)}"
                 for p in found[:MAX_POINTS] for name, value in p.values.items()]  # fmt: skip
        if len(found) > MAX_POINTS:
            lines.append(f"... {len(found) - MAX_POINTS} more points: narrow the window")
        return "\n".join(lines) or "no metrics"


class ListElements(_ReadTool):
    name = "list_elements"
    description = "The target's elements (id and kind), optionally of one kind."
    arguments: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"kind": {"type": "string"}},
    }

    async def __call__(self, **arguments: object) -> object:
        kind = arguments.get("kind")
        return [{"id": e.id, "kind": e.kind}
                for e in await self.target.elements(str(kind) if kind else None)]  # fmt: skip


class ReadElement(_ReadTool):
    name = "read_element"
    description = "One element's configuration."
    arguments: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"element_id": {"type": "string"}},
        "required": ["element_id"],
    }

    async def __call__(self, **arguments: object) -> object:
        element = await self.target.element(str(arguments["element_id"]))
        return {"id": element.id, "kind": element.kind, "config": element.config}


class SearchAtoms(_ReadTool):
    name = "search_atoms"
    description = "Ops knowledge atoms (errors, playbooks, procedures, pitfalls) by words or codes."
    arguments: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"query": {"type": "string"}},
        "required": ["query"],
    }

    async def __call__(self, **arguments: object) -> object:
        words = set(re.findall(r"[\w-]+", str(arguments["query"]).lower()))

        def score(atom: OpsAtom) -> int:
            text = " ".join([atom.title, *atom.tags, atom.body]).lower()
            return sum(1 for w in words if w in text) + 3 * len(
                words & {t.lower() for t in atom.tags}
            )

        ranked = sorted((a for a in self.chat.atoms if score(a)), key=score, reverse=True)
        return [{"title": a.title, "type": a.type, "tags": list(a.tags), "body": a.body[:1500]}
                for a in ranked[:4]]  # fmt: skip


READ_TOOLS: tuple[type[_ReadTool], ...] = (Diagnose, Events, Metrics, ListElements, ReadElement,
                                           SearchAtoms)  # fmt: skip


def read_tools(chat: Troubleshooter, now: datetime) -> dict[str, Tool]:
    return {cls.name: cls(chat, now) for cls in READ_TOOLS}


# -- the chat with a model --------------------------------------------------------------------


def _instructions(chat: Troubleshooter, now: datetime) -> str:
    return (
        f"You are the operations assistant of the system {chat.target.name!r}. The operator "
        f"asks about its recent failures; it is now {now.strftime(STAMP)}. Use the tools "
        "(read-only: you cannot change anything) and answer briefly: what failed, the likely "
        "root cause, what to do. Cite your evidence exactly as the tools write it: log lines "
        "as `[YYYY-MM-DDTHH:MM:SSZ] ELEMENT CODE`, metric values as `metric ELEMENT NAME = "
        "VALUE`, knowledge atoms by title. Cite nothing the tools did not return."
    )


def _cited(text: str) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    return LOG_CITE.findall(text), METRIC_CITE.findall(text)


def _normal(metric: tuple[str, ...]) -> tuple[str, str, float]:
    return metric[0], metric[1], float(metric[2])


async def llm_chat(
    llm: LlmService, chat: Troubleshooter, question: str, now: datetime, *, tenant_id: str = ""
) -> dict[str, Any]:
    """The chat's answer with the model (the view of diagnosis_view, plus `engine`, `model`,
    `cited`, `tools` and `fallback`). The deterministic diagnosis is made first: it is the
    fallback and the evidence kept when the model cites none."""
    diagnosis = await chat.ask(question, now)
    view: dict[str, Any] = {"kind": "diagnosis", **diagnosis_view(diagnosis)}

    def fallback(
        reason: str, tools: Sequence[str] = (), model: str | None = None
    ) -> dict[str, Any]:
        return {**view, "engine": "deterministic", "model": model, "cited": [],
                "tools": list(tools), "fallback": reason}  # fmt: skip

    request = ChatRequest(
        messages=[
            ChatMessage(role="system", content=_instructions(chat, now)),
            ChatMessage(role="user", content=question),
        ],
        purpose="ops",
        tenant_id=tenant_id,
        temperature=0.0,
    )
    try:
        run = await llm.with_tools(request, read_tools(chat, now), ledger=Ledger())
    except FrontdeskError as exc:  # every model out, a budget or the turn's time spent
        return fallback(f"the model failed: {exc.message}")
    called = [r.call.name for r in run.runs]
    if run.stopped is not None:
        return fallback(f"the model's budget ran out ({run.stopped})", called, run.routed.model)
    text = run.routed.result.text.strip()
    if not text:
        return fallback("the model gave no answer", called, run.routed.model)
    returned = "\n".join(r.output for r in run.runs if r.ok)
    logs, metrics = _cited(text)
    known_logs, known_metrics = _cited(returned)
    fabricated = [" ".join(c) for c in logs if c not in known_logs] + [
        " ".join(m) for m in metrics
        if _normal(m) not in {_normal(k) for k in known_metrics}
    ]  # fmt: skip
    if fabricated:
        return fallback(
            f"the model cited what no tool returned: {'; '.join(fabricated[:5])}",
            called, run.routed.model,
        )  # fmt: skip
    cited = [f"[{ts}] {element} {code}" for ts, element, code in dict.fromkeys(logs)] + [
        f"metric {e} {n} = {v}" for e, n, v in dict.fromkeys(metrics)
    ]
    if not cited:  # keep the deterministic evidence under the model's words
        evidence = [line.strip()[2:] for line in diagnosis.answer.splitlines()
                    if line.startswith("   - ")]  # fmt: skip
        if evidence:
            text += "\n\nEvidence (from the deterministic diagnosis):\n" + "\n".join(
                f"- {line}" for line in evidence
            )
    return {**view, "answer": text, "engine": "llm", "model": run.routed.model, "cited": cited,
            "tools": called, "fallback": None}  # fmt: skip


# -- change requests with a model -------------------------------------------------------------


def llm_interpreter(llm: LlmService, *, tenant_id: str = "") -> Interpreter:
    """An `Interpreter` for ChangePlans.make: the model's structured reading of a request."""

    async def interpret(
        request: str, parser: RequestParser, refused: InvalidRequestError
    ) -> tuple[str, ChangeSpec]:
        messages = [
            ChatMessage(role="system", content=(
                "Read the operator's bulk-change request into one change of one field on a "
                "set of elements of one kind. Use only these kinds, fields (JSON pointers) "
                "and ids; filters ('where') are field pointers with the values to match.\n"
                + parser.describe())),
            ChatMessage(role="user", content=request),
        ]  # fmt: skip
        try:
            spec = await llm.structured(ChangeSpec, messages, purpose="ops", tenant_id=tenant_id)
        except FrontdeskError as exc:
            raise InvalidRequestError(
                f"{refused.message} (the model could not read it either: {exc.message})",
                code="request_not_understood",
            ) from exc
        return "the model", spec

    return interpret
