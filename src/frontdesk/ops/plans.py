"""Change plans: a bulk-change request made into a plan (selector, JSON Patch per element,
validation per element, unified diff), stored per tenant, approved by an operator, applied to
the target all or nothing, rolled back by plan id to the exact previous bytes.

A starter configuration (ops/setup.py) is proposed as a plan too: each new element is a
patch that adds the whole document (`[{"op": "add", "path": "", "value": {...}}]`) with no
base digest and its kind in `selector["new"]`; an element the target already has gets a
patch of what the description changes in it. Applying creates the new files (refused whole
with `element_exists` when an id was taken meanwhile); rolling back removes them again.

Refusals carry stable codes: `request_not_understood` (422, nothing stored); a stored plan
with status `refused` and `refusal_code` `selector_empty`, `selector_too_broad`,
`no_change` or `plan_invalid`; at apply, `element_changed` (an element's bytes are not the
ones the plan was made on) or `element_exists`. Acting on a plan in the wrong state is 409
`plan_<state>`; with four eyes (`ops.four_eyes`, on by default in the assembly), approving
one's own plan is 409 `approval_needs_another_person`.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import jsonpatch
from sqlalchemy import select, update

from frontdesk.errors import ConflictError, FrontdeskError, InvalidRequestError, NotFoundError
from frontdesk.interfaces import ElementChange, TargetElement, TargetSystem
from frontdesk.ops.requests import ChangeSpec, RequestParser, patch_for
from frontdesk.storage.audit import audit
from frontdesk.storage.db import Database
from frontdesk.storage.ops_models import ChangePlan

if TYPE_CHECKING:
    from frontdesk.ops.setup import StarterConfig

# (request, parser, the grammar's refusal) -> (who read it, e.g. "the model", its reading)
Interpreter = Callable[[str, RequestParser, InvalidRequestError], Awaitable[tuple[str, ChangeSpec]]]

PLANNED, REFUSED, APPROVED, APPLIED, ROLLED_BACK = (
    "planned",
    "refused",
    "approved",
    "applied",
    "rolled_back",
)


def plan_view(plan: ChangePlan) -> dict[str, Any]:
    """A plan as the API and the CLI show it."""
    return {
        "id": plan.id,
        "target": plan.target,
        "request": plan.request,
        "status": plan.status,
        "refusal_code": plan.refusal_code,
        "refusal": plan.refusal,
        "selector": plan.selector,
        "elements": sorted(plan.patches),
        "patches": plan.patches,
        "validation": plan.validation,
        "diff": plan.diff,
        "results": plan.results,
        "applied_version": plan.applied_version,
        "rollback_version": plan.rollback_version,
        "created_by": plan.created_by,
        "approved_by": plan.approved_by,
        "created_at": plan.created_at,
        "approved_at": plan.approved_at,
        "applied_at": plan.applied_at,
        "rolled_back_at": plan.rolled_back_at,
    }


def unified_diff(element: TargetElement, after: str, *, new: bool = False) -> str:
    folder = f"{element.kind}s/{element.id}"
    return "".join(
        difflib.unified_diff(
            element.text.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile="/dev/null" if new else f"a/{folder}",
            tofile=f"b/{folder}",
        )
    )


class ChangePlans:
    """Plans against one target, stored in the database per tenant."""

    def __init__(
        self,
        db: Database,
        target: TargetSystem,
        *,
        max_elements: int = 40,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        four_eyes: bool = False,
    ) -> None:
        self.db = db
        self.target = target
        self.max_elements = max_elements
        self.clock = clock
        self.four_eyes = four_eyes  # the assembly passes ops.four_eyes (default true)

    async def _parser(self) -> RequestParser:
        elements = await self.target.elements()
        schemas = {kind: await self.target.schema(kind) for kind in await self.target.kinds()}
        return RequestParser(elements, schemas)

    async def make(
        self, tenant_id: str, request: str, *, actor: str, interpret: Interpreter | None = None
    ) -> ChangePlan:
        """`interpret` (an LLM's reading, from orchestration) is asked only when the grammar
        cannot read the request; what it returns is checked by `RequestParser.from_spec`
        and planned like the grammar's output, and the selector says `read_by` it."""
        parser = await self._parser()
        read_by: str | None = None
        try:
            change = parser.parse(request)  # request_not_understood: nothing to store
        except InvalidRequestError as refused:
            if interpret is None or refused.code != "request_not_understood":
                raise
            read_by, spec = await interpret(request, parser, refused)
            try:
                change = parser.from_spec(spec)
            except InvalidRequestError as wrong:
                raise InvalidRequestError(
                    f"{refused.message} ({read_by} read it, but that reading does not fit "
                    f"the target: {wrong.message})",
                    code="request_not_understood",
                ) from wrong
        selected = parser.select(change)
        patches = {e.id: patch_for(change, e.config) for e in selected}
        patches = {k: v for k, v in patches.items() if v}
        changed = [e for e in selected if e.id in patches]
        plan = ChangePlan(
            target=self.target.name,
            request=request,
            status=PLANNED,
            selector={
                **change.selector(),
                "matched": [e.id for e in selected],
                **({"read_by": read_by} if read_by else {}),
            },
            patches=patches,
            base={e.id: e.digest for e in changed},
            validation={},
            diff="",
            results={},
            created_by=actor,
        )
        noun = f"{change.kind}s"
        if not selected:
            plan.status, plan.refusal_code = REFUSED, "selector_empty"
            plan.refusal = f"the selector matches no {change.kind}: nothing to change"
        elif len(selected) > self.max_elements:
            plan.status, plan.refusal_code = REFUSED, "selector_too_broad"
            plan.refusal = (
                f"the selector matches {len(selected)} {noun}, more than ops.max_elements "
                f"({self.max_elements}); narrow it or raise the ceiling"
            )
        elif not changed:
            plan.status, plan.refusal_code = REFUSED, "no_change"
            plan.refusal = f"every selected {change.kind} already has that value"
        if changed:
            after = {e.id: jsonpatch.apply_patch(e.config, patches[e.id]) for e in changed}
            plan.validation = await self.target.validate(after)
            plan.diff = "".join(
                [unified_diff(e, await self.target.render(e, after[e.id])) for e in changed]
            )
            invalid = sorted(i for i, errors in plan.validation.items() if errors)
            if invalid and plan.status == PLANNED:
                plan.status, plan.refusal_code = REFUSED, "plan_invalid"
                first = plan.validation[invalid[0]][0]
                plan.refusal = (
                    f"{len(invalid)} of {len(changed)} {noun} would not be valid "
                    f"({invalid[0]}: {first})"
                )
        async with self.db.session(tenant_id) as session:
            session.add(plan)
            await session.flush()
            audit(session, actor=actor, action="ops.plan.create", target=plan.id,
                  detail={"request": request, "status": plan.status,
                          "refusal_code": plan.refusal_code,
                          "elements": sorted(patches),
                          **({"read_by": read_by} if read_by else {})})  # fmt: skip
            await session.commit()
        return plan

    async def propose_setup(
        self, tenant_id: str, starter: StarterConfig, *, actor: str
    ) -> ChangePlan:
        """A starter configuration as a plan (nothing is written until it is approved and
        applied): new elements created, the target's own elements patched where the
        description changes them; refused `no_change` when it would change nothing."""
        existing = {e.id: e for e in await self.target.elements()}
        patches: dict[str, Any] = {}
        base: dict[str, str | None] = {}
        new: dict[str, str] = {}
        after: dict[str, dict[str, Any]] = {}
        for element in starter.elements.values():
            have = existing.get(element.id)
            if have is None:
                patches[element.id] = [{"op": "add", "path": "", "value": element.config}]
                base[element.id], new[element.id] = None, element.kind
            else:
                patch = jsonpatch.make_patch(have.config, element.config).patch
                if not patch:
                    continue
                patches[element.id], base[element.id] = patch, have.digest
            after[element.id] = element.config
        plan = ChangePlan(
            target=self.target.name,
            request=starter.description,
            status=PLANNED,
            selector={
                "kind": "setup",
                "ids": sorted(patches),
                "where": {},
                "except": [],
                "all": False,
                "new": new,
            },
            patches=patches,
            base=base,
            validation={},
            diff="",
            results={},
            created_by=actor,
        )
        if not patches:
            plan.status, plan.refusal_code = REFUSED, "no_change"
            plan.refusal = "the target already has every element as described"
        else:
            plan.validation = await self.target.validate(after, new=new)
            diffs = []
            for element_id, config in after.items():
                current = existing.get(element_id) or TargetElement(
                    id=element_id, kind=new[element_id], config={}, text="", digest=""
                )
                text = await self.target.render(current, config)
                diffs.append(unified_diff(current, text, new=element_id in new))
            plan.diff = "".join(diffs)
            invalid = sorted(i for i, errors in plan.validation.items() if errors)
            if invalid:
                plan.status, plan.refusal_code = REFUSED, "plan_invalid"
                plan.refusal = (f"{len(invalid)} of {len(after)} elements would not be valid "
                                f"({invalid[0]}: {plan.validation[invalid[0]][0]})")  # fmt: skip
        async with self.db.session(tenant_id) as session:
            session.add(plan)
            await session.flush()
            audit(session, actor=actor, action="ops.plan.create", target=plan.id,
                  detail={"setup": starter.description, "status": plan.status,
                          "refusal_code": plan.refusal_code, "new": sorted(new),
                          "elements": sorted(patches)})  # fmt: skip
            await session.commit()
        return plan

    async def get(self, tenant_id: str, plan_id: str) -> ChangePlan:
        async with self.db.session(tenant_id) as session:
            plan = await session.get(ChangePlan, plan_id)
        if plan is None:
            raise NotFoundError(f"no change plan {plan_id}", code="plan_not_found")
        return plan

    async def list(self, tenant_id: str, *, limit: int = 50) -> list[ChangePlan]:
        async with self.db.session(tenant_id) as session:
            rows = await session.scalars(
                select(ChangePlan).order_by(ChangePlan.created_at.desc()).limit(limit)
            )
            return list(rows)

    async def _move(
        self, tenant_id: str, plan_id: str, want: str, values: dict[str, Any], *, actor: str,
        action: str, detail: dict[str, Any],
    ) -> ChangePlan:  # fmt: skip
        """Change a plan's state only from `want` (compare and set: two approvers or two
        appliers cannot both act), with its audit entry in the same transaction."""
        async with self.db.session(tenant_id) as session:
            plan = await session.get(ChangePlan, plan_id)
            if plan is None:
                raise NotFoundError(f"no change plan {plan_id}", code="plan_not_found")
            if plan.status != want:
                raise _wrong_state(plan, want)
            result = await session.execute(
                update(ChangePlan)
                .where(ChangePlan.id == plan_id, ChangePlan.status == want)
                .values(**values, updated_at=self.clock())
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 1) != 1:
                await session.rollback()
                raise ConflictError(f"plan {plan_id} changed meanwhile; look again",
                                    code="plan_busy")  # fmt: skip
            audit(session, actor=actor, action=action, target=plan_id, detail=detail)
            await session.commit()
            await session.refresh(plan)
            return plan

    async def approve(self, tenant_id: str, plan_id: str, *, actor: str) -> ChangePlan:
        if self.four_eyes:
            plan = await self.get(tenant_id, plan_id)
            if plan.status == PLANNED and plan.created_by == actor:
                raise ConflictError(
                    f"plan {plan_id} was made by {actor}: another operator or admin approves "
                    "it (ops.four_eyes)",
                    code="approval_needs_another_person",
                )
        return await self._move(tenant_id, plan_id, PLANNED,
                                {"status": APPROVED, "approved_by": actor,
                                 "approved_at": self.clock()},
                                actor=actor, action="ops.plan.approve", detail={})  # fmt: skip

    async def apply(self, tenant_id: str, plan_id: str, *, actor: str) -> ChangePlan:
        plan = await self._move(tenant_id, plan_id, APPROVED, {"status": "applying"},
                                actor=actor, action="ops.plan.apply.start",
                                detail={})  # fmt: skip
        try:
            changes = []
            new = plan.selector.get("new") or {}
            for element_id, patch in plan.patches.items():
                if element_id in new:
                    config = jsonpatch.apply_patch({}, patch)
                    changes.append(ElementChange(id=element_id, kind=new[element_id],
                                                 config=config))  # fmt: skip
                    continue
                element = await self.target.element(element_id)
                changes.append(ElementChange(id=element_id,
                                             config=jsonpatch.apply_patch(element.config, patch),
                                             base_digest=plan.base[element_id]))  # fmt: skip
            applied = await self.target.apply(
                changes, actor=actor, message=f"ops plan {plan.id}: {plan.request}"
            )
        except FrontdeskError as exc:
            moved = _changed_ids(exc, plan)
            not_applied = {
                i: {"status": "not_applied",
                    "reason": "changed since the plan was made" if i in moved else exc.message}
                for i in plan.patches
            }  # fmt: skip
            refused = exc.code in ("element_changed", "element_exists")
            await self._move(tenant_id, plan_id, "applying",
                             {"status": REFUSED if refused else "failed",
                              "refusal_code": exc.code, "refusal": exc.message,
                              "results": not_applied},
                             actor=actor, action="ops.plan.apply.refused",
                             detail={"code": exc.code})  # fmt: skip
            raise
        results: dict[str, Any] = {
            i: {"status": "applied", "version": applied.version, "digest": applied.digests[i]}
            for i in plan.patches
        }
        return await self._move(tenant_id, plan_id, "applying",
                                {"status": APPLIED, "applied_version": applied.version,
                                 "applied_at": self.clock(), "results": results},
                                actor=actor, action="ops.plan.apply",
                                detail={"version": applied.version,
                                        "elements": applied.changed})  # fmt: skip

    async def rollback(self, tenant_id: str, plan_id: str, *, actor: str) -> ChangePlan:
        plan = await self.get(tenant_id, plan_id)
        if plan.status != APPLIED or plan.applied_version is None:
            raise _wrong_state(plan, APPLIED)
        restored = await self.target.rollback(
            plan.applied_version, actor=actor, message=f"rollback of ops plan {plan.id}"
        )
        return await self._move(tenant_id, plan_id, APPLIED,
                                {"status": ROLLED_BACK, "rollback_version": restored.version,
                                 "rolled_back_at": self.clock()},
                                actor=actor, action="ops.plan.rollback",
                                detail={"version": restored.version,
                                        "rollback_of": plan.applied_version})  # fmt: skip


def _changed_ids(exc: FrontdeskError, plan: ChangePlan) -> set[str]:
    """The ids an `element_changed` refusal names ("changed since ...: D01, D02; ...")."""
    if exc.code != "element_changed":
        return set()
    named = exc.message.partition(": ")[2].partition(";")[0]
    return {i.strip() for i in named.split(",")} & set(plan.patches)


def _wrong_state(plan: ChangePlan, want: str) -> ConflictError:
    hints = {
        PLANNED: "it must be planned (not yet approved)",
        APPROVED: "it must be approved first",
        APPLIED: "only an applied plan can be rolled back",
    }
    reason = f" ({plan.refusal_code}: {plan.refusal})" if plan.status == REFUSED else ""
    return ConflictError(
        f"plan {plan.id} is {plan.status}{reason}; {hints.get(want, '')}",
        code=f"plan_{plan.status}",
    )
