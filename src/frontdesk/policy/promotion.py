"""The promotion gate: a retrained model replaces the current one only if no tracked
metric gets worse by more than a set fraction (5% relative by default).

Metrics are plain numbers by name (golden-set accuracy, cross-validated macro F1...);
higher is better unless the name is in `lower_is_better`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MetricChange:
    name: str
    current: float
    candidate: float | None
    relative: float | None  # + better, - worse; None when it cannot be computed
    blocked: bool


@dataclass(frozen=True)
class GateResult:
    promote: bool
    reasons: list[str]
    changes: list[MetricChange] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "promote": self.promote,
            "reasons": self.reasons,
            "changes": [
                {"metric": c.name, "current": c.current, "candidate": c.candidate,
                 "relative": c.relative, "blocked": c.blocked}
                for c in self.changes
            ],
        }  # fmt: skip


def promotion_gate(
    current: Mapping[str, float] | None,
    candidate: Mapping[str, float],
    *,
    max_relative_drop: float = 0.05,
    lower_is_better: Iterable[str] = (),
) -> GateResult:
    if not current:
        return GateResult(True, ["no current model: the candidate becomes the first one"])
    lower = set(lower_is_better)
    changes: list[MetricChange] = []
    reasons: list[str] = []
    for name, before in sorted(current.items()):
        after = candidate.get(name)
        if after is None:
            changes.append(MetricChange(name, before, None, None, True))
            reasons.append(f"{name}: the candidate was not evaluated on it")
            continue
        if before == 0:
            relative = 0.0 if after == before else (1.0 if (after > 0) != (name in lower) else -1.0)
        else:
            relative = (after - before) / abs(before)
            if name in lower:
                relative = -relative
        blocked = relative < -max_relative_drop
        changes.append(MetricChange(name, before, after, round(relative, 6), blocked))
        if blocked:
            worse = "rise" if name in lower else "drop"  # lower-is-better metrics get worse up
            reasons.append(
                f"{name} would {worse} {abs(relative):.1%} ({before:.4f} -> {after:.4f}); "
                f"the limit is {max_relative_drop:.0%}"
            )
    if reasons:
        return GateResult(False, reasons, changes)
    summary = ", ".join(f"{c.name} {c.current:.3f}->{c.candidate:.3f}" for c in changes)
    return GateResult(True, [f"no metric dropped more than {max_relative_drop:.0%}: {summary}"],
                      changes)  # fmt: skip
