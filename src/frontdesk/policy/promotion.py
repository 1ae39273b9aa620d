"""The promotion gate: a retrained model serves only if it loses nothing against the
promoted baseline (the last version a person accepted, or the first trained one).

It judges on what corrections cannot touch: the golden set, example by example, per intent
and per entity type (absolute counts: one golden message lost is reported and blocks, not
averaged away), and the cross-validated metrics judged with their 95% intervals (ECE and a
few dozen out-of-scope examples are too noisy for a bare relative limit).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

# Cross-validated metrics are noisy (ECE over a few hundred examples, out-of-scope recall over a
# few dozen): a drop counts only when it is both above the relative limit and outside the 95%
# interval of the difference, so they neither block nor pass at random.
NOISY = {"held_out_accuracy": "held_out_examples", "oos_recall": "oos_examples",
         "ece": "held_out_examples"}  # fmt: skip
Z95 = 1.96


@dataclass(frozen=True)
class GoldenRead:
    """One golden example as one model read it. `expected`/`found`: entity spans
    (type, text) annotated and extracted."""

    text: str
    intent: str
    predicted: str
    expected: frozenset[tuple[str, str]] = frozenset()
    found: frozenset[tuple[str, str]] = frozenset()

    @property
    def right(self) -> bool:
        return self.predicted == self.intent


@dataclass(frozen=True)
class Evidence:
    """What the gate compares: a model's cross-validated metrics (and the counts behind
    them) and its reading of the golden set, which corrections never enter."""

    version: str
    metrics: Mapping[str, float]
    golden: tuple[GoldenRead, ...] = ()


@dataclass(frozen=True)
class Flip:
    text: str
    intent: str  # the expected intent (or entity type, for `kind == "entity"`)
    baseline: str
    candidate: str
    lost: bool  # True: the baseline read it right and the candidate does not
    kind: str = "intent"

    def as_dict(self) -> dict[str, object]:
        return {"text": self.text, "expected": self.intent, "baseline": self.baseline,
                "candidate": self.candidate, "lost": self.lost, "kind": self.kind}  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    promote: bool
    reasons: list[str]
    baseline: str | None
    changes: list[dict[str, object]] = field(default_factory=list)
    flips: list[Flip] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"promote": self.promote, "reasons": self.reasons, "baseline": self.baseline,
                "changes": self.changes,
                "flips": [f.as_dict() for f in self.flips]}  # fmt: skip


def _spread(name: str, value: float, metrics: Mapping[str, float]) -> float | None:
    """The standard error of a cross-validated metric from its example count (binomial; for
    ECE the accuracy's, which bounds the noise of its per-bin accuracies from below)."""
    n = metrics.get(NOISY[name], 0)
    if n <= 0:
        return None
    p = metrics.get("held_out_accuracy", value) if name == "ece" else value
    return math.sqrt(max(p * (1 - p), 1.0 / n) / n)


def _golden_flips(baseline: Evidence, candidate: Evidence) -> list[Flip]:
    flips: list[Flip] = []
    if len(baseline.golden) != len(candidate.golden):
        return flips
    for before, after in zip(baseline.golden, candidate.golden, strict=True):
        if before.right != after.right:
            flips.append(Flip(after.text, after.intent, before.predicted, after.predicted,
                              lost=before.right))  # fmt: skip
        for span in sorted(after.expected):
            had, has = span in before.found, span in after.found
            if had != has:
                flips.append(Flip(after.text, span[0], "found" if had else "missed",
                                  "found" if has else "missed", lost=had,
                                  kind="entity"))  # fmt: skip
    return flips


def judge(
    baseline: Evidence | None,
    candidate: Evidence,
    *,
    max_relative_drop: float = 0.05,
    allowed_losses: int = 0,
) -> Verdict:
    """The candidate against the promoted baseline (not the model it replaces, so allowed
    losses cannot add up over retrains).

    Golden set: counted per intent and per entity type, in examples: a class that loses more
    examples than it gains (beyond `allowed_losses`) blocks, and every flipped example is
    reported. Cross-validated metrics: blocked only when worse by more than the relative
    limit and outside the 95% interval of the difference."""
    if baseline is None:
        return Verdict(True, ["no baseline: the candidate becomes the first (baseline) model"],
                       None)  # fmt: skip
    reasons: list[str] = []
    changes: list[dict[str, object]] = []
    for name in sorted(NOISY):
        before, after = baseline.metrics.get(name), candidate.metrics.get(name)
        if before is None or after is None:
            continue
        worse = (after - before) if name in LOWER else (before - after)
        spreads = [_spread(name, before, baseline.metrics), _spread(name, after, candidate.metrics)]
        margin = Z95 * math.sqrt(sum(s * s for s in spreads if s is not None))
        limit = max(abs(before) * max_relative_drop, margin)
        blocked = worse > limit
        changes.append({"metric": name, "baseline": before, "candidate": after,
                        "worse_by": round(worse, 6), "allowed": round(limit, 6),
                        "interval95": round(margin, 6), "blocked": blocked})  # fmt: skip
        if blocked:
            verb = "rise" if name in LOWER else "drop"
            reasons.append(
                f"{name} would {verb} from {before:.4f} to {after:.4f} (by {worse:.4f}; "
                f"allowed {limit:.4f}: {max_relative_drop:.0%} relative or the 95% interval "
                f"{margin:.4f}, whichever is larger)"
            )
    flips = _golden_flips(baseline, candidate)
    net: dict[tuple[str, str], int] = {}
    for flip in flips:
        key = (flip.kind, flip.intent)
        net[key] = net.get(key, 0) + (1 if flip.lost else -1)
    for (kind, name), lost in sorted(net.items()):
        if lost > allowed_losses:
            examples = "; ".join(
                f"{f.text!r} -> {f.candidate}"
                for f in flips
                if f.lost and (f.kind, f.intent) == (kind, name)
            )
            what = "intent" if kind == "intent" else "entity type"
            reasons.append(
                f"golden set: {what} {name} loses {lost} example(s) the baseline "
                f"{baseline.version} read right: {examples}"
            )
    if baseline.golden:
        right = (sum(g.right for g in baseline.golden), sum(g.right for g in candidate.golden))
        changes.append({"metric": "golden_right", "baseline": right[0], "candidate": right[1],
                        "of": len(candidate.golden), "blocked": any(
                            r.startswith("golden set: intent") for r in reasons)})  # fmt: skip
    if reasons:
        return Verdict(False, reasons, baseline.version, changes, flips)
    gained = sum(1 for f in flips if not f.lost)
    lost_any = sum(1 for f in flips if f.lost)
    summary = (
        f"golden set: {gained} example(s) gained, {lost_any} lost"
        if flips
        else ("golden set: no example changed" if baseline.golden else "no golden set")
    )
    return Verdict(True, [f"no loss against baseline {baseline.version}; {summary}"],
                   baseline.version, changes, flips)  # fmt: skip


LOWER = frozenset({"ece"})
