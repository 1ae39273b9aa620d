"""The model that needs no model: answers by quoting what answers the question, with citations.

Always available, so frontdesk answers with no API key, and the last fallback of the model
router. The passages are cut into quotable pieces (`quotable.units`: sentences, list items,
table rows; never scaffolding or staff text). Each question in the customer's message (two
questions get two answers) picks the pieces that share the most of its key words, weighted by
how rare each word is among the pieces, with half weight for words only in the piece's title
or heading, and a bonus when the piece holds what was asked for (an amount for "how much", a
time for "how long", a number for "how many" or "what number", a frequency for "how often",
a day of the month for "the 15th"). An FAQ piece also scores by its question. A piece that
shares too little is no answer: then there is none, and a person is offered. A question that
goes on in another section of the same article ("...8 weeks after a switch" below "why it stops
sending") is answered from both sections; never from a second article. A part that asks ("does
that cost extra") is a question of its own when the message asks something else too, with or
without its question mark.

A key word no piece holds meets the pieces' longer or shorter forms of it ("prepay",
"prepayment"); a piece that leans on the one before it ("Older versions show...") brings it.

Each piece's score is weighed by how close in meaning its passage is to the question (the
embedding cosine search measured): a passage 0.1 below the closest one counts 0.45 as much.
Search's fused order ranks whole sections by key words too; the cosine is what tells the
FAQ that asks the customer's very question ("How much is electricity per kWh in
Yorkshire?") from the price table ranked above it (bench/answer_selection.py: on the
retrieved passages of the tuning sets' answerable questions, facts-and-citation 0.600 →
0.615 demo, 0.767 → 0.814 energy, gold passage cited 0.88 → 0.90 CLAPNQ dev). Without
embeddings (a keyword-only index) the order decides, each place counting half the one before.
That cosine is the whole message's: when the message asks two things, it counts half as much
(a passage 0.1 below the closest counts 0.67), so "how much is Express" finds the price row
though the message as a whole sits closer to the cut-off times it also asks about.

A list item, or a table without a header (a record: "Sort code | 40-11-62", "Account number |
..."), is one answer: its other sentences or rows come with the piece chosen, those after it
first, up to `max_sentences`.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from frontdesk.interfaces import ChatChunk, ChatRequest, ChatResult
from frontdesk.llm.grounding import unfence
from frontdesk.llm.quotable import Unit, units
from frontdesk.text import content_words, estimate_tokens, stem
from frontdesk.types import Passage, Usage

# How a question is asked, not what it is about.
_ASKING = frozenset(
    """know tell help able possible happen work way still also now yet ever again usual
    usually normally really much many long soon often take anyone someone something anything
    question wonder wondering hey ok okay hiya mate quick thank thanks""".split()
)
_QUESTION_SPLIT = re.compile(
    r"(?<=[?])\s+|(?<=[.!])\s+(?=[A-Z])|\s+(?=\(?\d[).]\s)"
    r"|,?\s+(?:and|also|plus)\s+(?=(?:what|whats|what's|how|when|where|which|who|can|could|"
    r"do|does|is|are|will|would|should)\b)",
    re.IGNORECASE,
)

# What a question asks for, and how to see it in a piece of text.
_WANTS: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (
        re.compile(
            r"\b(how much|cost|costs|price|prices|fee|fees|charge|charges|rate|rates|"
            r"pay|paid|refund|compensation|deposit|amount)\b",
            re.I,
        ),
        re.compile(r"[£$€]\s?\d|\b\d+(\.\d+)?\s?(p|pence|%)(\b|\s)|\bfree\b", re.I),
    ),
    (
        re.compile(
            r"\b(how long|when|what time|how soon|how many days|deadline|until|"
            r"open|opening|close|closing|hours|days|weeks|by when|how quickly)\b",
            re.I,
        ),
        re.compile(
            r"\b\d+\s*(working\s+|business\s+|calendar\s+)?(days?|hours?|minutes?|"
            r"weeks?|months?|years?)\b|\b\d{1,2}[:.]\d{2}\b|\b\d{1,2}\s?(am|pm)\b|"
            r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?\b",
            re.I,
        ),
    ),
    (
        re.compile(r"\b(number|phone|call|ring|telephone|contact)\b", re.I),
        re.compile(r"(\+?\d[\d ]{7,}\d)"),
    ),
    (
        re.compile(r"\bhow many\b", re.I),
        re.compile(r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve)\b", re.I),
    ),
    (  # "how often": a frequency
        re.compile(r"\bhow (often|frequently)\b", re.I),
        re.compile(
            r"\bevery\b|\b(daily|weekly|monthly|hourly|yearly|annually|once|twice)\b|"
            r"\ba (day|week|month|year)\b",
            re.I,
        ),
    ),
    (  # "on the 15th": a day of the month
        re.compile(r"\b\d{1,2}(st|nd|rd|th)\b", re.I),
        re.compile(r"\b\d{1,2}(st|nd|rd|th)\b", re.I),
    ),
    (
        re.compile(r"\b(where|link|website|web site|page|url|address|email|e-mail)\b", re.I),
        re.compile(r"\b\w+\.\w{2,}/|\bhttps?://|@\w|\s>\s"),
    ),
)
WANT_BONUS = 0.4
_ASKS = re.compile(
    r"^\W*(\d+[).]\s+)?(\w+[,!]?\s+)?(what|whats|what's|how|when|where|which|who|can|could|do|does|is|"
    r"are|will|would|should)\b",
    re.IGNORECASE,
)
_ENUMERATED = re.compile(r"^\W*\d{1,2}[).]\s")  # "1) what's ...", "(2) can I ..."
RANK_WEIGHT = 0.5  # without embeddings: each place in search's order counts half the one before
DENSE_DECAY = 8.0  # a passage's weight: exp(-DENSE_DECAY * (best cosine - its cosine))
# With two or more questions in the message the cosine (of the whole message) says less about
# which passage answers each one: the decay is this share of DENSE_DECAY.
SPLIT_DECAY = 0.5
# A sentence that leans on the one before it ("Older versions show...", "This takes...").
_REFERS = re.compile(
    r"^(this|that|these|those|it|they|them|there|older|newer|otherwise|if not|if so|then|"
    r"also|instead|however|but)\b",
    re.IGNORECASE,
)
WANT_MISSING = 1.0  # a piece without what the question asks for (an amount...) counts this much
ALIAS_MIN = 5  # a key word no piece holds meets a longer or shorter form of it from here
MIN_SCORE = 0.2  # of the question's key-word weight: below this a piece answers nothing
KEEP_NEAR = 0.4  # a second piece joins when it scores this share of the best


@dataclass(frozen=True)
class Scored:
    unit: Unit
    score: float


class ExtractiveChatModel:
    name = "extractive"

    def __init__(self, *, max_sentences: int = 3, max_questions: int = 3, **_: object) -> None:
        self.max_sentences = max_sentences
        self.max_questions = max_questions

    async def complete(self, request: ChatRequest) -> ChatResult:
        question = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        question = unfence(question)  # a flagged question: quoted from, never followed anyway
        passages = request.passages
        prompt_tokens = sum(estimate_tokens(p.text) for p in passages)
        chosen = self.select(question, passages)
        parts: list[str] = []
        cited: list[int] = []
        for i, unit in enumerate(chosen):
            parts.append(unit.text)
            last_of_run = i + 1 == len(chosen) or chosen[i + 1].passage != unit.passage
            if last_of_run:  # one marker after the sentences quoted from one passage
                parts[-1] += f" [{unit.passage}]"
            if unit.passage not in cited:
                cited.append(unit.passage)
        text = " ".join(parts)
        return ChatResult(
            text=text, cited=cited, grounded=bool(cited), usage=self._usage(prompt_tokens, text)
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        result = await self.complete(request)
        if result.text:
            yield ChatChunk(text=result.text)
        yield ChatChunk(result=result)

    def select(self, question: str, passages: Sequence[Passage]) -> list[Unit]:
        """The pieces that answer each question of the message, in the message's order."""
        pieces = [u for n, p in enumerate(passages, start=1) for u in units(p, n)]
        if not pieces:
            return []
        weights = _rarity(pieces)
        asks = asked_with_context(question)[: self.max_questions]
        decay = DENSE_DECAY * (SPLIT_DECAY if len(asks) > 1 else 1.0)
        priors = passage_weights(passages, decay=decay)
        sources = [p.source or p.title for p in passages]
        chosen: list[Unit] = []
        for asked, context in asks:
            for unit in self._answer(asked, context, pieces, weights, priors, sources):
                if unit not in chosen:
                    chosen.append(unit)
        return chosen

    def _answer(
        self,
        asked: str,
        context: str,
        pieces: list[Unit],
        weights: dict[str, float],
        priors: list[float],
        sources: list[str],
    ) -> list[Unit]:
        # "1) what's the standing charge ...": the list's number is not a key word.
        words = content_words(f"{context} {_ENUMERATED.sub('', asked)}")
        keys = _aliased({stem(w) for w in words if w not in _ASKING}, weights)
        if not keys:
            return []
        weight = {k: weights.get(k, 0.0) for k in keys}
        # Words no piece holds (the customer's own story) neither help nor count against:
        # whether the passages answer at all is answerability's call, made before this.
        total = sum(weight.values())
        if total == 0:
            return []
        wants = [shown for asks, shown in _WANTS if asks.search(asked)]
        scored = sorted(
            (Scored(u, _score(u, weight, total, wants, priors[u.passage - 1])) for u in pieces),
            key=lambda s: (-s.score, s.unit.passage, s.unit.order),
        )
        best = scored[0]
        if best.score < MIN_SCORE:
            return []
        picked = [best.unit]
        if _REFERS.match(best.unit.text):  # "Older versions show...": what it refers to first
            before = next((u for u in pieces if u.passage == best.unit.passage
                           and u.order == best.unit.order - 1), None)  # fmt: skip
            if before is not None and before.block == best.unit.block:
                picked.insert(0, before)
        at = {(u.passage, u.order): u for u in pieces}
        # "Do this:" needs what follows it; so does a question the article asks itself; and a
        # list item is one answer ("Two-rate meter: it shows two registers. Send both.").
        following = at.get((best.unit.passage, best.unit.order + 1))
        while (
            following is not None
            and len(picked) < self.max_sentences
            and (
                picked[-1].text.endswith((":", "?"))
                or (following.item is not None and following.item == picked[-1].item)
            )
        ):
            picked.append(following)
            following = at.get((following.passage, following.order + 1))
        # ...and what comes before it in the same list item or record ("Account name",
        # "Sort code" above "Account number"), while there is room.
        preceding = at.get((picked[0].passage, picked[0].order - 1))
        while (
            preceding is not None
            and len(picked) < self.max_sentences
            and preceding.item is not None
            and preceding.item == picked[0].item
        ):
            picked.insert(0, preceding)
            preceding = at.get((preceding.passage, preceding.order - 1))
        covered = set().union(*(keys & _own(u) for u in picked))
        for other in scored[1:]:
            if len(picked) >= self.max_sentences:
                break
            if other.unit in picked:
                continue
            if sources[other.unit.passage - 1] != sources[best.unit.passage - 1]:
                continue  # one source per question: a reply that reads as one answer
            before = at.get((other.unit.passage, other.unit.order - 1))
            follows = before is not None and before in picked
            leads = follows and before is not None and before.text.endswith((":", "?"))
            # Another sentence only when it adds something asked that the first did not say.
            adds = bool((keys & _own(other.unit)) - covered)
            beside = follows and before is not None and other.unit.block == before.block
            if (other.score >= KEEP_NEAR * best.score and (adds or beside)) or leads:
                picked.append(other.unit)
                covered |= keys & _own(other.unit)
        return sorted(picked, key=lambda u: (u.passage, u.order))

    def _usage(self, prompt_tokens: int, text: str) -> Usage:
        return Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=estimate_tokens(text),
            cost=0.0,
            model=self.name,
        )


def split_questions(message: str) -> list[str]:
    """The questions of a message: each sentence ending in '?', else the whole message.
    Context sentences ("I moved last week.") join the question after them."""
    return [" ".join(part for part in pair if part) for pair in asked_with_context(message)]


def asked_with_context(message: str) -> list[tuple[str, str]]:
    """Each question of the message with the sentences that go with it: those before it
    since the last question, and (for the last question) those after it."""
    sentences = [s.strip() for s in _QUESTION_SPLIT.split(message.strip()) if s and s.strip()]
    questions: list[tuple[str, str]] = []
    context: list[str] = []
    for n, sentence in enumerate(sentences):
        # "how much is X and what time..." splits into two questions; a part that asks is one
        # too when the message asks another thing ("... on Tuesday instead? does that cost
        # extra" is two questions, the second without its question mark).
        asks = _ASKS.match(sentence) and (n + 1 < len(sentences) or questions)
        if sentence.endswith("?") or asks:
            questions.append((sentence, " ".join(context)))
            context = []
        else:
            context.append(sentence)
    if not questions:
        return [(message, "")]
    if context:  # words after the last question belong to it
        asked, before = questions[-1]
        questions[-1] = (asked, " ".join([before, *context]).strip())
    return questions


def passage_weights(passages: Sequence[Passage], decay: float = DENSE_DECAY) -> list[float]:
    """How much a piece of each passage counts: by the passage's embedding cosine to the
    question, relative to the closest passage (exp(-decay x the difference)); by search's
    order when there are none. A passage only the key-word list found (no cosine) counts as
    the least close."""
    known = [p.dense_score for p in passages if p.dense_score is not None]
    if not known:
        return [RANK_WEIGHT**n for n in range(len(passages))]
    best, floor = max(known), min(known)
    return [
        math.exp(-decay * (best - (floor if p.dense_score is None else p.dense_score)))
        for p in passages
    ]


def _aliased(keys: set[str], weights: dict[str, float]) -> set[str]:
    """A key word no piece holds stands for the pieces' words it begins or that begin it:
    "prepay" for "prepayment", "electric" for "electricity" (the stemmer strips no more)."""
    found: set[str] = set()
    for key in keys:
        if key in weights or len(key) < ALIAS_MIN:
            found.add(key)
            continue
        near = {
            w for w in weights if len(w) >= ALIAS_MIN and (w.startswith(key) or key.startswith(w))
        }
        found |= near or {key}
    return found


def _rarity(pieces: Sequence[Unit]) -> dict[str, float]:
    """Inverse piece frequency of each word stem over the pieces at hand."""
    held: dict[str, int] = {}
    for piece in pieces:
        for word in {stem(w) for w in content_words(f"{piece.text} {piece.context}")}:
            held[word] = held.get(word, 0) + 1
    count = len(pieces)
    return {w: math.log((count + 1) / (n + 0.5)) + 0.1 for w, n in held.items()}


def _own(unit: Unit) -> set[str]:
    return {stem(w) for w in content_words(unit.text)}


def _score(
    unit: Unit,
    weight: dict[str, float],
    total: float,
    wants: list[re.Pattern[str]],
    prior: float,
) -> float:
    own = _own(unit)
    about = {stem(w) for w in content_words(unit.context)} - own
    keys = weight.keys()
    score = (
        sum(weight[k] for k in keys & own) + 0.5 * sum(weight[k] for k in keys & about)
    ) / total
    if unit.faq:  # an FAQ's question is what its answer answers
        score = max(score, 1.1 * sum(weight[k] for k in keys & about) / total)
    if wants:
        if any(shown.search(unit.text) for shown in wants):
            score += WANT_BONUS
        else:
            score *= WANT_MISSING
    # Search compared the question with whole passages by meaning: a piece of a passage
    # further from the question must share clearly more to be preferred.
    return score * prior
