"""The promotion gate, in both directions."""

from __future__ import annotations

import pytest

from frontdesk.policy.promotion import promotion_gate

CURRENT = {"golden_accuracy": 0.90, "cv_macro_f1": 0.80, "ece": 0.10}


def test_candidate_within_five_percent_is_promoted() -> None:
    result = promotion_gate(
        CURRENT, {"golden_accuracy": 0.93, "cv_macro_f1": 0.77, "ece": 0.104},
        lower_is_better=["ece"],
    )  # fmt: skip
    assert result.promote, result.reasons
    assert "no metric dropped more than 5%" in result.reasons[0]
    f1 = next(c for c in result.changes if c.name == "cv_macro_f1")
    assert f1.relative == pytest.approx(-0.0375)
    assert not f1.blocked


def test_a_drop_over_five_percent_keeps_the_current_model_and_says_why() -> None:
    result = promotion_gate(CURRENT, {"golden_accuracy": 0.95, "cv_macro_f1": 0.75, "ece": 0.1},
                            lower_is_better=["ece"])  # fmt: skip
    assert not result.promote
    assert result.reasons == ["cv_macro_f1 would drop 6.3% (0.8000 -> 0.7500); the limit is 5%"]
    assert result.as_dict()["promote"] is False


def test_lower_is_better_metrics_block_when_they_rise() -> None:
    result = promotion_gate({"ece": 0.10}, {"ece": 0.12}, lower_is_better=["ece"])
    assert not result.promote
    assert "ece would rise 20.0% (0.1000 -> 0.1200)" in result.reasons[0]


def test_missing_metric_blocks_and_first_model_passes() -> None:
    assert not promotion_gate(CURRENT, {"golden_accuracy": 0.99}).promote
    assert promotion_gate(None, {"golden_accuracy": 0.5}).promote
    assert promotion_gate({}, {"golden_accuracy": 0.5}).promote
