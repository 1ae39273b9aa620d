"""Tenant scoping in the data layer, not in routes.

A session carries its tenant in `session.info["tenant_id"]`. Every ORM SELECT, UPDATE and
DELETE it runs gets `tenant_id = :tenant` added for every tenant-scoped table it touches
(`with_loader_criteria`), and every row it flushes is stamped with, or checked against, that
tenant. A session without a tenant that touches tenant data raises instead of reading across
tenants; only sessions opened explicitly as unscoped (key lookup, tenant creation) may.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from frontdesk.errors import TenantScopeError
from frontdesk.storage.models import TenantScoped

TENANT_KEY = "tenant_id"
UNSCOPED_KEY = "unscoped"


def _touches_tenant_data(state: ORMExecuteState) -> bool:
    return any(issubclass(mapper.class_, TenantScoped) for mapper in state.all_mappers)


def _scope_statement(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.session.info.get(UNSCOPED_KEY):
        return
    tenant = state.session.info.get(TENANT_KEY)
    if tenant is None:
        if _touches_tenant_data(state):
            raise TenantScopeError("query on tenant data from a session without a tenant")
        return
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantScoped,
            lambda cls: cls.tenant_id == tenant,
            include_aliases=True,
        )
    )


def _stamp_rows(session: Session, flush_context: Any, instances: Any) -> None:
    if session.info.get(UNSCOPED_KEY):
        return
    tenant = session.info.get(TENANT_KEY)
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, TenantScoped):
            continue
        if tenant is None:
            raise TenantScopeError(f"writing {type(obj).__name__} from a session without a tenant")
        if obj.tenant_id is None:
            obj.tenant_id = tenant
        elif obj.tenant_id != tenant:
            raise TenantScopeError(f"{type(obj).__name__} belongs to another tenant")


def install(session_class: type[Session]) -> None:
    """Attach the scoping hooks to a session class (idempotent)."""
    if not event.contains(session_class, "do_orm_execute", _scope_statement):
        event.listen(session_class, "do_orm_execute", _scope_statement)
        event.listen(session_class, "before_flush", _stamp_rows)
