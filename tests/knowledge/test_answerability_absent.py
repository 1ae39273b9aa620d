"""Answerability's exact checks beyond codes and years: the asked-about thing is absent.

A question about something the knowledge base never names (an offer, a product, a card, a
currency) or about one member of a closed family while the passage gives another (weekly
where the article says monthly) is not answered by the nearest passage, however close it is
in meaning. Made-up knowledge bases, so that nothing here is a golden case of a workspace.
The answerable questions beside each check say what must not fire: a story word the
knowledge base does not hold, a word the index cannot place, a member the passage gives.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from frontdesk.knowledge.answerability import assess
from frontdesk.text import content_words
from frontdesk.types import Answerability, Passage


def passage(text: str, *, title: str, dense: float = 0.8, n: int = 1) -> Passage:
    return Passage(chunk_id=n, document_id=f"d{n}", title=title, text=text,
                   source=f"knowledge/{title}.md", dense_score=dense,
                   keyword_score=3.0)  # fmt: skip


def judge(
    question: str,
    passages: list[Passage],
    unknown: AbstractSet[str] = frozenset(),
    unplaced: AbstractSet[str] = frozenset(),
) -> Answerability:
    """Assess with index counts: `unknown` words are in no chunk, `unplaced` ones the index
    cannot say about, every other word is in 3 of 60 chunks."""
    words = sorted(content_words(question))
    held: list[int | None] = [0 if w in unknown else None if w in unplaced else 3 for w in words]
    return assess(question, passages, counts=(60, held), words=words)


GYM = [
    passage("Members can book classes in the app up to 7 days ahead. Towels are free at the "
            "front desk; lockers take a £1 coin.", title="Classes and facilities", dense=0.82),
    passage("Personal training sessions cost £35 each or £150 for five.", n=2,
            title="Personal training", dense=0.61),
]  # fmt: skip


def test_an_offer_the_knowledge_base_never_names_is_not_answered() -> None:
    judged = judge("do you have a creche or kids club while I train?", GYM,
                   unknown={"creche", "kids", "club"})  # fmt: skip
    assert not judged.answerable  # the facilities article is close in meaning, and silent
    assert judged.signals["absent_item"] == 1.0
    assert "creche" in judged.reason
    judged = judge("Can I use Apple Fitness with your classes?", GYM, unknown={"fitness"})
    assert not judged.answerable
    judged = judge("Does the app offer a sauna booking?", GYM, unknown={"sauna"})
    assert not judged.answerable


def test_an_offer_the_knowledge_base_names_is_answered() -> None:
    judged = judge("do you have lockers? and are towels free?", GYM)
    assert judged.answerable
    assert "absent_item" not in judged.signals


def test_a_story_word_the_knowledge_base_never_mentions_does_not_decline() -> None:
    # Unknown words outside what is asked for: the customer's story, not the question.
    assert judge("my physio said to rest my knee, do you have personal training?", GYM,
                 unknown={"physio", "knee", "rest"}).answerable  # fmt: skip
    # A relative clause after the thing asked for is not the thing.
    assert judge("do you have a number I can ring?", GYM, unknown={"ring"}).answerable
    # A word the index cannot place is not called absent (a typo or a tokenizer gap).
    assert judge("do you have tovels at the front desk?", GYM, unplaced={"tovels"}).answerable


DIRECT_DEBIT = [
    passage("Direct Debit is taken monthly, on a date between the 1st and the 28th that you "
            "choose.", title="Direct Debit", dense=0.8),
    passage("You can pay by card in the app at any time.", n=2, title="Paying by card",
            dense=0.6),
]  # fmt: skip


def test_a_frequency_the_articles_do_not_give_is_not_answered_by_another() -> None:
    judged = judge("can I pay by direct debit every week instead of monthly? I get paid weekly",
                   DIRECT_DEBIT)  # fmt: skip
    assert not judged.answerable
    assert judged.signals["absent_item"] == 1.0
    assert "monthly" in judged.reason
    assert "weekly" in judged.reason


def test_a_frequency_the_article_gives_is_answered() -> None:
    judged = judge("is the direct debit taken monthly or can I choose the date?", DIRECT_DEBIT)
    assert judged.answerable
    # The customer's own pay cycle with no frequency in the article to contrast it with.
    other = [passage("Readings are due every three months.", title="Readings")]
    assert judge("I'm paid fortnightly, when are readings due?", other).answerable


CARDS = [
    passage(
        "We take Visa, Mastercard and American Express, and Apple Pay in the app.",
        title="Ways to pay",
        dense=0.8,
    ),
]


def test_a_card_the_list_does_not_hold_is_not_answered_by_the_others() -> None:
    judged = judge("do you take Diners Club cards?", CARDS)
    assert not judged.answerable
    assert "Diners" in judged.reason or "diners" in judged.reason


def test_a_card_the_list_holds_under_another_name_is_answered() -> None:
    assert judge("can I pay with my Amex?", CARDS).answerable
    assert judge("is mastercard accepted?", CARDS).answerable


REFUNDS = [
    passage("Refunds go back to the card you paid with, within 5 working days of approval.",
            title="Refunds", dense=0.8),
]  # fmt: skip


def test_a_currency_the_knowledge_base_never_names_is_not_answered() -> None:
    judged = judge("I paid with my euro card. Is the refund converted back to euros?", REFUNDS,
                   unknown={"euro", "euros"})  # fmt: skip
    assert not judged.answerable
    assert judged.signals["absent_item"] == 1.0


def test_an_amount_in_the_question_is_not_a_currency_asked_about() -> None:
    assert judge("I paid £20 by card, when does my refund arrive?", REFUNDS).answerable
    # A currency word the index does hold: not absent.
    assert judge("my card is in euros, when does the refund arrive?", REFUNDS).answerable


def test_a_currency_symbol_in_the_passage_names_its_currency() -> None:
    priced = [passage("Plans cost $12 (€11) a month.", title="Pricing")]
    assert judge("can I pay in dollars?", priced).answerable
    euro = [passage("Plans cost €12 a month.", title="Pricing")]
    judged = judge("can I pay in dollars?", euro)
    assert not judged.answerable
    assert "gives euros but not dollars" in judged.reason
