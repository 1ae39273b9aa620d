"""Tables of the operations assistant: change plans against a target system."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.storage.models import Base, TenantScoped, new_id, utcnow


class ChangePlan(TenantScoped, Base):
    """One bulk change: the request as written, the selector (which elements, by id), a JSON
    Patch per element, each element's validation, the unified diff, and the digests of the
    elements' bytes when the plan was made (apply refuses an element changed since). Status:
    planned -> approved -> applied -> rolled_back; `refused` (with `refusal_code`) when the
    plan cannot be applied as made; `failed` when the target refused the change set."""

    __tablename__ = "ops_change_plans"
    __table_args__ = (Index("ix_ops_change_plans_tenant_created", "tenant_id", "created_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    target: Mapped[str] = mapped_column(String(200))  # the target system's name
    request: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    refusal_code: Mapped[str | None] = mapped_column(String(64))
    refusal: Mapped[str | None] = mapped_column(Text)
    selector: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    patches: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # element id -> ops
    base: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # element id -> sha256
    validation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # id -> errors
    diff: Mapped[str] = mapped_column(Text, default="")
    results: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # id -> apply result
    applied_version: Mapped[int | None] = mapped_column(Integer)
    rollback_version: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rolled_back_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
