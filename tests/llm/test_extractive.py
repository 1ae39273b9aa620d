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
    # The sentence that answers the question, not every sentence that mentions refunds.
    assert result.text == "Refunds are paid to the original card within 7 days. [1]"
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


async def _reply(question: str, *passages: Passage) -> str:
    result = await ExtractiveChatModel().complete(
        ChatRequest(messages=_ask(question), passages=list(passages))
    )
    return result.text


async def test_scaffolding_and_staff_text_are_never_quoted() -> None:
    atom = _passage(1, (
        "Purpose: get an accurate bill by giving us your own readings.\n\n"
        "Prerequisites: your account number.\n\n"
        "Tell the customer to read the meter from left to right. "
        "Send your meter reading in the app under Meter readings > Add a reading."
    ))  # fmt: skip
    reply = await _reply("how do I send a meter reading for an accurate bill?", atom)
    assert reply == "Send your meter reading in the app under Meter readings > Add a reading. [1]"


async def test_staff_only_sections_and_atoms_are_not_quoted() -> None:
    staff = _passage(1, "Refund approvals over 100 pounds need a team lead.", kind="staff")
    tagged = Passage(**{**_passage(2, "Refunds over 100 pounds need a lead.").model_dump(),
                        "tags": ["audience:staff"]})  # fmt: skip
    public = _passage(3, "Refunds reach your card within 7 days.")
    reply = await _reply("do refunds over 100 pounds need approval?", staff, tagged, public)
    assert "team lead" not in reply
    assert "a lead" not in reply
    assert reply.endswith("[3]")


async def test_a_table_row_answers_as_a_sentence() -> None:
    prices = _passage(1, (
        "| Region | Electricity unit rate | Standing charge |\n"
        "|---|---|---|\n"
        "| North West | 24.98p | 53.80p |\n"
        "| Yorkshire | 25.62p | 51.27p |\n"
    ), heading="Standard Variable prices")  # fmt: skip
    reply = await _reply("what's the standing charge in Yorkshire?", prices)
    assert reply == "Yorkshire: Electricity unit rate 25.62p; Standing charge 51.27p. [1]"


async def test_two_questions_get_two_answers() -> None:
    prices = _passage(1, "Next Day costs 6.95 pounds. Express costs 12.50 pounds.")
    cutoff = _passage(2, "The cut-off for Next Day is 17:00 on working days.")
    reply = await _reply("how much is next day, and what time is the cut-off?", prices, cutoff)
    assert reply == (
        "Next Day costs 6.95 pounds. [1] The cut-off for Next Day is 17:00 on working days. [2]"
    )


async def test_a_lead_in_brings_what_follows_it() -> None:
    steps = _passage(1, "If your credit runs out at night your supply stays on:\n\n"
                        "- friendly credit covers 18:00 to 08:00 and all weekend.")  # fmt: skip
    reply = await _reply("will my supply go off if credit runs out at night?", steps)
    assert reply == ("If your credit runs out at night your supply stays on: friendly credit "
                     "covers 18:00 to 08:00 and all weekend. [1]")  # fmt: skip


def _prices(dense: tuple[float | None, float | None]) -> list[Passage]:
    table = _passage(
        1,
        "A 12-month fixed tariff.\n\n| Region | Electricity unit rate | Standing charge |\n"
        "|---|---|---|\n| Yorkshire | 24.47p per kWh | 49.10p per day |\n"
        "| North East | 24.30p per kWh | 48.90p per day |",
        heading="Fix 12 prices",
    )
    faq = _passage(2, "Q: How much is electricity per kWh in Yorkshire?\nA: On Standard "
                      "Variable, 25.62p per kWh and a standing charge of 51.27p a day.",
                   kind="faq", heading="How much is electricity per kWh in Yorkshire?")  # fmt: skip
    table.dense_score, faq.dense_score = dense
    return [table, faq]


async def test_the_passage_closest_in_meaning_answers_before_search_order() -> None:
    # Search ranked the price table first (key words); the FAQ that asks the customer's very
    # question is closer in meaning, and its piece is the answer.
    question = "what's your electricity price per kWh in Yorkshire?"
    result = await ExtractiveChatModel().complete(
        ChatRequest(messages=_ask(question), passages=_prices((0.58, 0.71)))
    )
    assert result.cited == [2]
    assert "25.62p" in result.text
    # Without embeddings search's order decides: the first passage's row.
    by_order = await ExtractiveChatModel().complete(
        ChatRequest(messages=_ask(question), passages=_prices((None, None)))
    )
    assert by_order.cited == [1]
    assert "24.47p" in by_order.text


def test_passage_weights() -> None:
    from frontdesk.llm.extractive import passage_weights

    passages = [*_prices((0.6, 0.7)), _passage(3, "Other.")]  # the third: keyword list only
    weights = passage_weights(passages)
    assert weights[1] == 1.0
    assert 0.40 < weights[0] < 0.50  # 0.1 below the closest
    assert weights[2] == weights[0]  # no cosine: as far as the furthest known
    assert passage_weights(_prices((None, None))) == [1.0, 0.5]


async def test_a_sentence_that_leans_on_the_one_before_brings_it() -> None:
    devices = _passage(1, "The app needs iOS 16 or later, or Android 10 or later. Older versions "
                          "show \"Please update your device\" and cannot sign in.")  # fmt: skip
    # One sentence asked for, and the one that answers leans on the sentence before it.
    result = await ExtractiveChatModel(max_sentences=1).complete(ChatRequest(
        messages=_ask("it says please update your device and I cannot sign in"),
        passages=[devices],
    ))  # fmt: skip
    assert result.text.startswith("The app needs iOS 16 or later")
    assert "cannot sign in" in result.text


async def test_a_shorter_form_of_a_word_meets_the_longer_one() -> None:
    # "prepay" is in no piece; "prepayment" is: its sentence answers, not the first one.
    text = ("On a credit meter, emergency credit is not offered. "
            "On a prepayment meter, emergency credit is taken by pressing A.")  # fmt: skip
    result = await ExtractiveChatModel(max_sentences=1).complete(ChatRequest(
        messages=_ask("can I get emergency credit on my prepay meter?"),
        passages=[_passage(1, text)],
    ))  # fmt: skip
    assert result.text == "On a prepayment meter, emergency credit is taken by pressing A. [1]"


def _section(n: int, text: str, heading: str) -> Passage:
    """Section `n` of one article (the same title and source)."""
    return Passage(chunk_id=n, document_id="d1", title="Smart meters", heading=heading,
                   text=text, source="smart.md", kind="section", score=1.0,
                   dense_score=0.7)  # fmt: skip


async def test_the_answer_goes_on_in_another_section_of_the_same_article() -> None:
    # Search returned two sections of one article: the sentence that says how long comes
    # from the second, and both are cited (citations stay exact).
    causes = _section(1, "If your bill shows estimated readings, the smart meter has stopped "
                         "talking to the network.", "Why it happens")  # fmt: skip
    after_switch = _section(2, "Meters fitted by another supplier can take up to 8 weeks to "
                               "join the network after a switch.", "After a switch")  # fmt: skip
    other = _passage(3, "Estimated bills after a switch are corrected by the old supplier.")
    other.dense_score = 0.7
    result = await ExtractiveChatModel().complete(ChatRequest(
        messages=_ask("My smart meter stopped sending readings after I switched and my bill "
                      "is estimated. What is going on?"),
        passages=[causes, after_switch, other],
    ))  # fmt: skip
    assert result.cited == [1, 2]
    assert "8 weeks" in result.text
    assert "old supplier" not in result.text  # one source per question: not another article


async def test_a_second_question_without_its_question_mark_is_answered() -> None:
    dates = _passage(1, "You can move a delivery to another working day. Moving it is free; a "
                        "Saturday costs 2 pounds.")  # fmt: skip
    reply = await _reply("can i push my delivery to next tuesday? does that cost extra", dates)
    assert "free" in reply


async def test_what_a_question_asks_for_wins_over_shared_words() -> None:
    # "how many" asks for a number, "the 15th" for a day of the month.
    cards = _passage(1, "Cards on your account can be changed at any time under Billing. You "
                        "can keep up to five cards on your account.")  # fmt: skip
    assert "five" in await _reply("how many cards can I keep on my account?", cards)
    dd = _passage(2, "Your Direct Debit date can be changed in the app. You can choose any "
                     "day from the 1st to the 28th.")  # fmt: skip
    assert "28th" in await _reply("can I change my direct debit date to the 15th?", dd)


async def test_a_list_item_is_quoted_whole() -> None:
    # The item's second sentence shares no word with the question, and is its answer.
    meters = _passage(1, "- Two-rate meter: it shows two registers, marked Low and Normal. "
                         "Press the display button to switch and send both.\n"
                         "- Dial meter: read the dials from left to right.")  # fmt: skip
    reply = await _reply("my meter has a low and a normal register, which one do you want?",
                         meters)  # fmt: skip
    assert "send both" in reply
    assert "Dial meter" not in reply


async def test_each_of_two_questions_weighs_the_passages_less_by_the_whole_message() -> None:
    # The message's cosine favours the cut-off times (it asks about booking too); "how much"
    # is answered from the price table, a little further from the whole message.
    cutoffs = _passage(1, "Express: book before 11:00.", heading="Cut-off times")
    prices = _passage(2, "| Service | Price |\n|---|---|\n| Express | £12.50 |",
                      heading="UK services")  # fmt: skip
    cutoffs.dense_score, prices.dense_score = 0.70, 0.65
    result = await ExtractiveChatModel().complete(ChatRequest(
        messages=_ask("how much is express and what time do i need to book it by?"),
        passages=[cutoffs, prices],
    ))  # fmt: skip
    assert "£12.50" in result.text
    assert "11:00" in result.text
    assert sorted(result.cited) == [1, 2]


async def test_how_often_wants_a_frequency() -> None:
    # The same key words in both: the one that says how often answers.
    page = _passage(1, "We post updates on the status page.")
    surge = _passage(2, "During an outage, updates are posted every 30 minutes.")
    page.dense_score, surge.dense_score = 0.70, 0.68
    result = await ExtractiveChatModel(max_sentences=1).complete(ChatRequest(
        messages=_ask("how often do you post updates?"), passages=[page, surge]
    ))  # fmt: skip
    assert "every 30 minutes" in result.text


async def test_a_table_without_a_header_is_one_record() -> None:
    # Bank details as key/value rows: asked for the sort code and "acc no", the record's
    # other rows come with it (the account number shares no word with the question).
    bank = _passage(1, "| | |\n|---|---|\n| Account name | Heronvale Energy Ltd |\n"
                       "| Sort code | 40-11-62 |\n| Account number | 71234568 |\n"
                       "| Reference | your customer number |", heading="Bank transfer")  # fmt: skip
    reply = await _reply("I want to pay by bank transfer, need the sort code and acc no", bank)
    assert "40-11-62" in reply
    assert "71234568" in reply
    # A table with a header is rows of their own: a region's row, never its neighbour's.
    prices = _passage(2, "| Region | Unit rate |\n|---|---|\n| Yorkshire | 24.47p |\n"
                         "| North West | 24.98p |")  # fmt: skip
    regional = await _reply("what is the unit rate in the North West?", prices)
    assert "24.98p" in regional
    assert "Yorkshire" not in regional


async def test_a_list_item_is_quoted_whole_when_its_second_sentence_answers() -> None:
    # The item's second sentence is the best piece: the first comes with it, before it.
    solar = _passage(1, "- Installer: the panels must be fitted by an MCS certified installer. "
                        "You need the MCS certificate to apply.\n"
                        "- Meter: you need a smart meter.")  # fmt: skip
    reply = await _reply("do I need an MCS certificate to apply?", solar)
    assert reply.startswith("Installer: the panels must be fitted by an MCS certified installer.")
    assert "Meter: you need a smart meter" not in reply


async def test_a_question_s_list_number_is_not_a_key_word() -> None:
    # "1)" numbers the customer's question; "Step 1" in a closer passage must not answer it.
    steps = _passage(1, "Step 1: add your card in the app.")
    fees = _passage(2, "There is no fee for card payments.")
    steps.dense_score, fees.dense_score = 0.70, 0.60
    result = await ExtractiveChatModel(max_sentences=1).complete(ChatRequest(
        messages=_ask("1) is there a card fee?"), passages=[steps, fees]
    ))  # fmt: skip
    assert result.text == "There is no fee for card payments. [2]"
