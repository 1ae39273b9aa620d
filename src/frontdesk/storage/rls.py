"""PostgreSQL row-level security: the second wall behind the ORM's tenant scoping.

Every transaction of a tenant session sets `app.tenant_id` (transaction-local); the policy on
each tenant table admits only rows of that tenant. System sessions (API key lookup, job
recovery, the purge job) set '*'. A connection that sets nothing sees no tenant rows.
SQLite has no row-level security: there the ORM scoping is the only wall.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SETTING = "app.tenant_id"
ALL_TENANTS = "*"
POLICY = "tenant_isolation"


def policy_sql(table: str) -> list[str]:
    condition = (
        f"tenant_id = current_setting('{SETTING}', true) "
        f"OR current_setting('{SETTING}', true) = '{ALL_TENANTS}'"
    )
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS {POLICY} ON {table}",
        f"CREATE POLICY {POLICY} ON {table} USING ({condition}) WITH CHECK ({condition})",
    ]


def enable_rls(op: Any, tables: Iterable[str]) -> None:
    """For migrations: `enable_rls(op, ["my_table"])` (does nothing on SQLite)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        for statement in policy_sql(table):
            op.execute(statement)


def disable_rls(op: Any, tables: Iterable[str]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
