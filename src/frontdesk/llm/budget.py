"""Per-tenant token and cost budgets, monthly and per turn, and the price table.

The monthly totals are computed from the stored turns of the calendar month (UTC), loaded
once per tenant and month and kept current in process as calls are made; they are reloaded
from the database every `refresh_s` so several processes converge. Only paid models count:
`extractive`, `local:` models and cache hits cost nothing and are left out.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import and_, func, not_, or_, select

from frontdesk.config.settings import BudgetSettings, Price
from frontdesk.storage.db import Database
from frontdesk.storage.models import Turn
from frontdesk.types import Usage

FREE_PREFIXES = ("extractive", "local:", "cache")


def is_free(model: str) -> bool:
    return model.startswith(FREE_PREFIXES)


def price_for(model: str, prices: Mapping[str, Price]) -> Price | None:
    """By the full spec (`openai:gpt-4o-mini`) or the bare model name (`gpt-4o-mini`)."""
    return prices.get(model) or prices.get(model.partition(":")[2])


def cost_of(usage: Usage, prices: Mapping[str, Price]) -> float:
    price = price_for(usage.model, prices)
    if price is None:
        return 0.0
    return (usage.prompt_tokens * price.prompt + usage.completion_tokens * price.completion) / 1e6


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@dataclass
class _Tally:
    month: datetime
    tokens: int = 0
    cost: float = 0.0
    loaded_at: float = field(default_factory=time.monotonic)


MonthUsage = Callable[[str, datetime], Awaitable[tuple[int, float]]]


def stored_month_usage(db: Database) -> MonthUsage:
    """Tokens and cost of a tenant's paid turns since `since`, from the turns table."""

    async def load(tenant_id: str, since: datetime) -> tuple[int, float]:
        free = or_(*(Turn.model.startswith(p) for p in FREE_PREFIXES))
        async with db.side_session(tenant_id) as session:  # inside a turn: see side_session
            row = (
                await session.execute(
                    select(
                        func.coalesce(func.sum(Turn.prompt_tokens + Turn.completion_tokens), 0),
                        func.coalesce(func.sum(Turn.cost), 0.0),
                    ).where(
                        and_(
                            Turn.created_at >= since,
                            Turn.model.is_not(None),
                            or_(not_(free), Turn.cost > 0),
                        )
                    )
                )
            ).one()
        return int(row[0]), float(row[1])

    return load


class BudgetKeeper:
    def __init__(
        self,
        limits: BudgetSettings,
        month_usage: MonthUsage | None,
        *,
        refresh_s: float = 60.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.limits = limits
        self.month_usage = month_usage
        self.refresh_s = refresh_s
        self.now = now
        self._tallies: dict[str, _Tally] = {}

    @property
    def limited(self) -> bool:
        return any(v is not None for v in self.limits.model_dump().values())

    @property
    def monthly(self) -> bool:
        return self.limits.monthly_tokens is not None or self.limits.monthly_cost is not None

    async def _tally(self, tenant_id: str) -> _Tally:
        month = month_start(self.now())
        tally = self._tallies.get(tenant_id)
        stale = tally is None or tally.month != month
        if not stale and tally is not None:
            stale = time.monotonic() - tally.loaded_at > self.refresh_s
        if stale or tally is None:
            tokens, cost = (
                await self.month_usage(tenant_id, month) if self.month_usage else (0, 0.0)
            )
            tally = _Tally(month=month, tokens=tokens, cost=cost)
            self._tallies[tenant_id] = tally
        return tally

    async def check(
        self, tenant_id: str, *, tokens: int, cost: float, turn_tokens: int, turn_cost: float
    ) -> str | None:
        """Why a call of about `tokens`/`cost` may not be made now, or None. `turn_*` is what
        this turn has spent already."""
        limits = self.limits
        if limits.turn_tokens is not None and turn_tokens + tokens > limits.turn_tokens:
            return (f"turn token budget: {turn_tokens} used + ~{tokens} needed "
                    f"> {limits.turn_tokens}")  # fmt: skip
        if limits.turn_cost is not None and turn_cost + cost > limits.turn_cost:
            return f"turn cost budget: {turn_cost + cost:.6f} > {limits.turn_cost}"
        if not self.monthly or not tenant_id:
            return None
        tally = await self._tally(tenant_id)
        if limits.monthly_tokens is not None and tally.tokens + tokens > limits.monthly_tokens:
            return (f"monthly token budget: {tally.tokens} used + ~{tokens} needed "
                    f"> {limits.monthly_tokens}")  # fmt: skip
        if limits.monthly_cost is not None and tally.cost + cost > limits.monthly_cost:
            return f"monthly cost budget: {tally.cost:.4f} used > {limits.monthly_cost}"
        return None

    def spend(self, tenant_id: str, usage: Usage) -> None:
        tally = self._tallies.get(tenant_id)
        if tally is not None and not is_free(usage.model):
            tally.tokens += usage.prompt_tokens + usage.completion_tokens
            tally.cost += usage.cost
