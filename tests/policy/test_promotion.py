"""The promotion gate against the promoted baseline, in both directions: golden examples
counted per intent and entity type, noisy metrics judged with their intervals."""

from __future__ import annotations

from frontdesk.policy.promotion import Evidence, GoldenRead, judge

METRICS = {"held_out_accuracy": 0.90, "held_out_examples": 340, "ece": 0.032,
           "oos_recall": 0.9167, "oos_examples": 36}  # fmt: skip
GOLDEN = (
    GoldenRead("I'd like my money returned", "request_refund", "request_refund"),
    GoldenRead("the vase was in pieces", "damaged_goods", "damaged_goods"),
    GoldenRead("where is my parcel", "track_parcel", "late_delivery"),
)


def _evidence(version: str, golden: tuple[GoldenRead, ...] = GOLDEN, **metrics: float) -> Evidence:
    return Evidence(version, {**METRICS, **metrics}, golden)


def test_no_baseline_promotes_the_first_model() -> None:
    verdict = judge(None, _evidence("v1"))
    assert verdict.promote
    assert verdict.baseline is None


def test_one_golden_example_lost_blocks_and_is_named() -> None:
    poisoned = (GoldenRead("I'd like my money returned", "request_refund", "billing_issue"),
                *GOLDEN[1:])  # fmt: skip
    verdict = judge(_evidence("v1"), _evidence("v2", poisoned))
    assert not verdict.promote
    assert verdict.reasons == [
        "golden set: intent request_refund loses 1 example(s) the baseline v1 read right: "
        '"I\'d like my money returned" -> billing_issue'
    ]
    [flip] = verdict.flips
    assert (flip.intent, flip.baseline, flip.candidate, flip.lost) == (
        "request_refund", "request_refund", "billing_issue", True)  # fmt: skip
    assert verdict.as_dict()["flips"] == [flip.as_dict()]


def test_a_gain_elsewhere_does_not_buy_a_loss_but_one_in_the_same_intent_does() -> None:
    fixed = (GoldenRead("where is my parcel", "track_parcel", "track_parcel"),)
    lost_refund = (GoldenRead("I'd like my money returned", "request_refund", "billing_issue"),
                   GOLDEN[1], *fixed)  # fmt: skip
    assert not judge(_evidence("v1"), _evidence("v2", lost_refund)).promote
    # Within one intent: one example lost and another gained is no net loss.
    before = (GoldenRead("a", "track_parcel", "track_parcel"),
              GoldenRead("b", "track_parcel", "lost_parcel"))  # fmt: skip
    after = (GoldenRead("a", "track_parcel", "lost_parcel"),
             GoldenRead("b", "track_parcel", "track_parcel"))  # fmt: skip
    verdict = judge(_evidence("v1", before), _evidence("v2", after))
    assert verdict.promote, verdict.reasons
    assert "1 example(s) gained, 1 lost" in verdict.reasons[0]


def test_entity_spans_lost_on_the_golden_set_block() -> None:
    span = frozenset({("order_id", "KP-20481736")})
    before = (GoldenRead("refund KP-20481736", "request_refund", "request_refund", span, span),)
    after = (GoldenRead("refund KP-20481736", "request_refund", "request_refund", span),)
    verdict = judge(_evidence("v1", before), _evidence("v2", after))
    assert not verdict.promote
    assert "entity type order_id loses 1" in verdict.reasons[0]


def test_noisy_metrics_block_only_outside_their_interval() -> None:
    # The run the issue describes: ECE 0.032 -> 0.0415 (+30% relative), out-of-scope recall
    # 0.917 -> 0.861 on 36 examples, held-out accuracy 0.900 -> 0.863: all within noise.
    noisy = _evidence("v2", ece=0.0415, oos_recall=0.8611, held_out_accuracy=0.863)
    verdict = judge(_evidence("v1"), noisy)
    assert verdict.promote, verdict.reasons
    ece = next(c for c in verdict.changes if c["metric"] == "ece")
    assert not ece["blocked"]
    assert ece["interval95"] > 0.0095  # the rise it forgave
    # A real fall: accuracy 0.90 -> 0.80 over 340 examples.
    verdict = judge(_evidence("v1"), _evidence("v2", held_out_accuracy=0.80))
    assert not verdict.promote
    assert verdict.reasons[0].startswith("held_out_accuracy would drop from 0.9000 to 0.8000")
