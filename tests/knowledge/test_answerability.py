"""Answerability: whether the retrieved passages answer the question, and why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from frontdesk.knowledge.answerability import (
    DEFAULT_MODEL,
    AnswerabilityModel,
    assess,
    compute_signals,
    key_words,
)
from frontdesk.types import Passage


def passage(text: str, *, title: str = "Prices", dense: float | None = 0.7, n: int = 1,
            keyword: float | None = 3.0) -> Passage:  # fmt: skip
    return Passage(chunk_id=n, document_id=f"d{n}", title=title, text=text,
                   source=f"knowledge/{title}.md", dense_score=dense,
                   keyword_score=keyword)  # fmt: skip


def test_no_passage_is_never_an_answer() -> None:
    judged = assess("what does a gift card cost", [], counts=None, words=["gift", "card", "cost"])
    assert not judged.answerable
    assert judged.score == 0.0
    assert "nothing in the knowledge base" in judged.reason


def test_a_close_clear_passage_answers_and_a_distant_one_does_not() -> None:
    question = "how much is next day delivery"
    words = ["delivery", "next", "day"]
    close = [passage("Next Day delivery costs £6.95.", dense=0.82),
             passage("Standard costs £3.95.", dense=0.55, n=2)]  # fmt: skip
    far = [passage("Standard costs £3.95.", dense=0.38),
           passage("Weekend add-on.", dense=0.36, n=2)]  # fmt: skip
    yes = assess(question, close, counts=(40, [10, 3, 3]), words=words)
    no = assess(question, far, counts=(40, [10, 3, 3]), words=words)
    assert yes.answerable
    assert not no.answerable
    assert yes.score > 0.5 > no.score
    assert "'Prices' answers it" in yes.reason
    assert set(yes.signals) >= {"dense", "dense_gap", "coverage", "sentence", "missing"}


def test_the_reason_names_what_the_knowledge_base_never_mentions() -> None:
    words = ["orkney", "surcharge", "delivery"]
    judged = assess(
        "is there a surcharge for delivery to orkney",
        [passage("Delivery to the Highlands costs £4 extra.", dense=0.41)],
        counts=(40, [0, 2, 12]),  # 'orkney' is in no chunk at all
        words=words,
    )
    assert not judged.answerable
    assert "never mentions 'orkney'" in judged.reason
    assert judged.signals["unknown"] > 0


def test_key_words_weigh_rare_words_and_codes_more() -> None:
    keys = {k.word: k for k in key_words("x", (100, [90, 1, 1]), ["delivery", "trk", "trk404"])}
    assert keys["trk"].weight > keys["delivery"].weight
    assert keys["trk404"].weight > keys["trk"].weight  # a word with digits is a code
    assert "tell" not in {k.word for k in key_words("x", None, ["tell", "price"])}


def test_without_embeddings_a_found_passage_still_counts_as_an_answer() -> None:
    judged = assess("next day price", [passage("Next Day costs £6.95.", dense=None)],
                    counts=None, words=["day", "next", "price"])  # fmt: skip
    assert judged.answerable  # the fulltext retriever: as before answerability existed
    assert "dense" not in judged.signals


def test_signals_cover_title_and_best_sentence() -> None:
    keys = key_words("q", (10, [1, 1]), ["refund", "timeline"])
    found = passage("Money arrives in 5 days. Call us.", title="Refund timeline")
    signals = compute_signals(keys, [found])
    assert signals["coverage"] == pytest.approx(1.0)
    assert signals["sentence"] == pytest.approx(1.0)  # the title counts for each sentence
    assert signals["missing"] == 0.0


def test_model_round_trips_and_recalibrates(tmp_path: Path) -> None:
    path = tmp_path / "answerability.json"
    calibrated = DEFAULT_MODEL.recalibrated(2.0, -1.0, 0.7, "test")
    path.write_text(calibrated.to_json())
    loaded = AnswerabilityModel.from_file(path)
    assert loaded == calibrated
    signals = {"dense": 0.6, "dense_gap": 0.1}
    assert loaded.logit(signals) == pytest.approx(2.0 * DEFAULT_MODEL.logit(signals) - 1.0)


def test_a_word_the_index_cannot_place_is_not_called_unknown() -> None:
    keys = {k.word: k for k in key_words("x", (40, [None, 0]), ["orkney", "zebra"])}
    assert keys["orkney"].in_index is None  # cannot say: no "never mentions" about it
    assert keys["zebra"].in_index is False


def _codes() -> list[Passage]:
    return [passage("IHD-01: the display has lost contact with the hub. IHD-07: prices have "
                    "not reached the meter yet.", title="Display error codes", dense=0.81),
            passage("Your account number is AC- and 7 digits, e.g. AC-4417023.", n=2,
                    title="Your bill", dense=0.42)]  # fmt: skip


def test_a_code_the_list_does_not_hold_is_not_answered_by_its_neighbours() -> None:
    words = ["display", "ihd", "12", "mean"]
    judged = assess("my display shows IHD-12, what does it mean?", _codes(),
                    counts=(40, [3, 1, 2, 5]), words=words)  # fmt: skip
    assert not judged.answerable  # however close the list is in meaning
    assert judged.signals["unlisted_code"] == 1.0
    assert "give IHD-01, IHD-07 but not IHD-12" in judged.reason
    listed = assess("my display shows ihd07, what does it mean?", _codes(),
                    counts=(40, [3, 1, 2, 5]), words=words)  # fmt: skip
    assert listed.answerable  # the same code written another way
    assert "unlisted_code" not in listed.signals


def test_a_reference_number_is_not_a_code() -> None:
    from frontdesk.knowledge.answerability import unlisted_codes

    assert unlisted_codes("please close account AC-5519320", _codes()) == []
    assert unlisted_codes("is there a fee for ERR404", _codes()) == []  # no such family here


def test_a_year_the_articles_do_not_give_is_not_answered_by_another_years() -> None:
    text = "Who gets it (winter 2025 to 2026): on the qualifying date of 24 August 2025."
    whd = [passage(text, title="Warm Home Discount", dense=0.8)]
    words = ["2026", "2027", "date", "discount", "qualifying", "warm", "winter"]
    judged = assess("qualifying date for the warm home discount for winter 2026 to 2027?", whd,
                    counts=(40, [1, 0, 3, 1, 1, 1, 1]), words=words)  # fmt: skip
    assert not judged.answerable
    assert "give 2025 but not 2027" in judged.reason
    same = assess("qualifying date for the warm home discount for winter 2025 to 2026?", whd,
                  counts=(40, [1, 1, 3, 1, 1, 1, 1]), words=words)  # fmt: skip
    assert same.answerable
    # A year the best passage does not contrast with another one is the customer's story.
    story = [passage("Readings are sent every 30 minutes.", title="Smart meters", dense=0.8)]
    assert assess("my smart meter was fitted in 2018, how often does it send readings?", story,
                  counts=None, words=["2018", "fitted", "meter"]).answerable  # fmt: skip
