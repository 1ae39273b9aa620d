from __future__ import annotations

from frontdesk.interfaces import ChatMessage, ChatModel, ChatRequest
from frontdesk.llm.extractive import ExtractiveChatModel
from frontdesk.types import Passage


def _passage(n: int, text: str, *, kind: str = "section", heading: str = "", score: float = 1.0
             ) -> Passage:  # fmt: skip
    return Passage(chunk_id=n, document_id=f"d{n}", title=f"Doc {n}", heading=heading,
                   text=text, source=f"doc{n}.md", kind=kind, score=score)  # fmt: skip


def _ask(question: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=question)]


def test_is_a_chat_model() -> None:
    assert isinstance(ExtractiveChatModel(), ChatModel)


async def test_quotes_the_most_relevant_sentences_with_a_citation() -> None:
    passage = _passage(
        1,
        "Kestrel delivers parcels. Refunds are paid to the original card within 7 days. "
        "Our vans are green. Refunds for late parcels cover the full postage.",
    )
    result = await ExtractiveChatModel(max_sentences=2).complete(
        ChatRequest(messages=_ask("when are refunds paid to my card?"), passages=[passage])
    )
    assert result.text == (
        "Refunds are paid to the original card within 7 days. "
        "Refunds for late parcels cover the full postage. [1]"
    )
    assert result.cited == [1]
    assert result.grounded
    assert result.usage.model == "extractive"
    assert result.usage.prompt_tokens > 0
    assert result.usage.completion_tokens > 0


async def test_faq_answer_used_only_for_a_matching_question() -> None:
    faq = _passage(1, "Q: How long does a refund take?\nA: Five to seven working days.",
                   kind="faq", heading="How long does a refund take?")  # fmt: skip
    model = ExtractiveChatModel()
    hit = await model.complete(ChatRequest(messages=_ask("how long will my refund take"),
                                           passages=[faq]))  # fmt: skip
    assert hit.text == "Five to seven working days. [1]"
    miss = await model.complete(ChatRequest(messages=_ask("is my parcel insured"), passages=[faq]))
    assert not miss.grounded
    assert miss.cited == []


async def test_no_passages_means_no_grounded_answer() -> None:
    result = await ExtractiveChatModel().complete(ChatRequest(messages=_ask("hello")))
    assert result.text == ""
    assert not result.grounded


async def test_a_passage_that_shares_no_word_with_the_question_is_no_answer() -> None:
    prices = _passage(1, "Weekend delivery: +2.00 for Saturday or Sunday delivery. "
                         "Signature on delivery: 0.80.")  # fmt: skip
    model = ExtractiveChatModel()
    miss = await model.complete(ChatRequest(messages=_ask("Do you sell gift cards?"),
                                            passages=[prices]))  # fmt: skip
    assert not miss.grounded  # the pipeline then says it has no answer and offers a person
    assert miss.cited == []
    hit = await model.complete(ChatRequest(messages=_ask("Do you deliver on Sundays?"),
                                           passages=[prices]))  # fmt: skip
    assert hit.cited == [1]  # "Sundays" meets "Sunday"; the signature price is left out
    assert hit.text == "Weekend delivery: +2.00 for Saturday or Sunday delivery. [1]"
