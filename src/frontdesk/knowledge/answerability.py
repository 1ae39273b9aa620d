"""Does the knowledge base answer *this* question? Decided after retrieval, before the rules.

A passage that merely ranks first is no answer: asked for the price in a region the articles
never mention, search still returns the nearest price list. Signals, all from what retrieval
already computed (no extra model call; microseconds):

- `dense`: the best embedding cosine between the question and a passage;
- `dense_gap`: how far that passage stands above the next (one clear answer, or several
  loosely related ones);
- `coverage`, `sentence`, `keyword`, `missing`, `unknown`: how much of the question's key
  words (weighted by rarity in the knowledge base) the best passage, its best sentence and
  the whole index hold. Recorded for the trace and the reason a person reads; measured, they
  did not carry over from one domain to another (bench/answerability_fit.py: leave one data
  set out), so the default model gives them no weight.

One check reads the passages rather than scoring them: a question about a code (an error or
status code such as "IHD-12", "DLV-17", "ERR404") that no passage holds, while they list others
of the same family ("IHD-01", "IHD-07"), or about a year no passage holds while the best one
gives another (a tariff's or a scheme's edition), is not answered whatever the score: the list
is as close in meaning as an answer would be, and quoting a neighbouring code's meaning or
another year's figure is the borrowed answer the customer must never get (`unlisted_code` in
the signals). Two more checks of the same kind (`absent_item` in the signals, `absent_items`):

- an offer asked about that the knowledge base never names: "do you do boiler cover?", "have
  you got a tariff for heat pumps?", "can I use Google Authenticator?" where a word of what
  is asked for is in no chunk of the index (a word the index cannot place does not count, and
  neither does one outside the thing asked for: the customer's story, a clause after it);
- one member of a small closed family that no passage holds while the best one gives another:
  a frequency in the asking clause (weekly where the article says monthly), a card brand
  (Diners Club where the list is Visa, Mastercard, Amex), a currency (euros where the prices
  are in pounds, or that the knowledge base never names).

A logistic model turns the signals into P(answerable); below the threshold the rules see
`answerable: false`. The default coefficients come from bench/answerability_fit.py; a
workspace recalibrates them on its own golden answers (`frontdesk evaluate answers
--calibrate`), which matters: the cosine that separates answered from unanswered questions
differs from one knowledge base to the next.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from frontdesk.text import content_words, stem, words
from frontdesk.types import Answerability, Passage

ANSWERABILITY_FILE = "answerability.json"  # a workspace's calibration, in .frontdesk/models
SIGNALS = ("dense", "dense_gap", "coverage", "sentence", "keyword", "missing", "unknown")

# How a question is asked, not what it is about: never a key word.
_ASKING = frozenset(
    """know tell help able possible happen happens work way still also now yet ever again
    usual usually normally really much many long soon often take takes anyone someone
    something anything question questions wondering wonder hey thank thanks ok okay hiya
    mate guys folks quick""".split()
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
# A code: 2-5 letters, an optional hyphen, 1-4 digits ("IHD-12", "DLV-17", "MR-02", "ERR404").
# Longer numbers (account and order references) are not codes.
_CODE = re.compile(r"\b([A-Za-z]{2,5})-?(\d{1,4})\b")
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_HAS_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class AnswerabilityModel:
    """Logistic regression over the signals: P(answerable) = sigmoid(bias + w . signals)."""

    weights: dict[str, float]
    bias: float
    threshold: float = 0.5
    # Used for a signal the retriever cannot give (no embeddings: `dense`).
    means: dict[str, float] = field(default_factory=dict)
    source: str = "built-in"

    def probability(self, signals: dict[str, float]) -> float:
        z = self.logit(signals)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def logit(self, signals: dict[str, float]) -> float:
        return self.bias + sum(
            weight * signals.get(name, self.means.get(name, 0.0))
            for name, weight in self.weights.items()
        )

    def recalibrated(
        self, scale: float, shift: float, threshold: float, source: str
    ) -> AnswerabilityModel:
        """Platt scaling of this model's logit: a workspace's own calibration."""
        return AnswerabilityModel(
            weights={k: v * scale for k, v in self.weights.items()},
            bias=self.bias * scale + shift,
            threshold=threshold,
            means=dict(self.means),
            source=source,
        )

    def to_json(self) -> str:
        return json.dumps(
            {"weights": self.weights, "bias": self.bias, "threshold": self.threshold,
             "means": self.means, "source": self.source},
            indent=2,
        )  # fmt: skip

    @classmethod
    def from_file(cls, path: Path) -> AnswerabilityModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            weights={k: float(v) for k, v in data["weights"].items()},
            bias=float(data["bias"]),
            threshold=float(data.get("threshold", 0.5)),
            means={k: float(v) for k, v in data.get("means", {}).items()},
            source=str(data.get("source", str(path))),
        )


# Fitted by bench/answerability_fit.py on the demo's golden answers and CLAPNQ dev (its
# docstring has the data and the figures). Without embeddings (`retriever: fulltext`) `dense`
# takes its mean and every question with a passage counts as answerable, as before.
DEFAULT_MODEL = AnswerabilityModel(
    weights={"dense": 4.8, "dense_gap": 0.708},
    bias=-2.563,
    threshold=0.5,
    means={"dense": 0.6, "dense_gap": 0.05},
)


@dataclass
class KeyWord:
    word: str
    stem: str
    weight: float  # idf-like: rare in the knowledge base weighs more
    in_index: bool | None  # None: the index could not say


def key_words(
    question: str, counts: tuple[int, list[int | None]] | None, order: Sequence[str]
) -> list[KeyWord]:
    """The question's content words with weights from how many chunks hold each."""
    found: list[KeyWord] = []
    chunks, held = counts if counts is not None else (0, [])
    by_word = dict(zip(order, held, strict=False)) if counts is not None else {}
    for word in order:
        if word in _ASKING:
            continue
        count = by_word.get(word)
        if count is None or not chunks:
            weight, in_index = 1.0, None
        else:
            weight = math.log((chunks + 1) / (count + 0.5))
            in_index = count > 0
        if _HAS_DIGIT.search(word):
            weight *= 1.5  # model numbers, error codes, years: specific by nature
        found.append(KeyWord(word, stem(word), max(weight, 0.05), in_index))
    return found


@lru_cache(maxsize=8192)
def _stems(text: str) -> frozenset[str]:
    """A passage's word stems; the same passages come back search after search."""
    return frozenset(stem(w) for w in content_words(text))


def assess(
    question: str,
    passages: Sequence[Passage],
    *,
    counts: tuple[int, list[int | None]] | None,
    words: Sequence[str],
    model: AnswerabilityModel = DEFAULT_MODEL,
) -> Answerability:
    """`words`: the question's content words in the order `counts` counted them."""
    keys = key_words(question, counts, words)
    signals = compute_signals(keys, passages)
    if not passages:
        return Answerability(
            answerable=False, score=0.0, signals=signals,
            reason="nothing in the knowledge base matches the question",
        )  # fmt: skip
    probability = model.probability(signals)
    answerable = probability >= model.threshold
    unlisted = unlisted_codes(question, passages)
    reason = _reason(answerable, probability, keys, passages)
    if unlisted:
        code, others = unlisted[0]
        answerable = False
        signals["unlisted_code"] = 1.0
        reason = (
            f"the closest articles give {', '.join(others[:3])} but not {code} "
            f"(answerability {probability:.2f})"
        )
    elif absent := absent_items(question, passages, keys):
        item, others = absent[0]
        answerable = False
        signals["absent_item"] = 1.0
        detail = (
            f"the closest article gives {', '.join(others[:3])} but not {item}"
            if others
            else f"the knowledge base never mentions {item}, which the question asks about"
        )
        reason = f"{detail} (answerability {probability:.2f})"
    return Answerability(
        answerable=answerable,
        score=round(probability, 4),
        signals={k: round(v, 4) for k, v in signals.items()},
        reason=reason,
    )


def unlisted_codes(question: str, passages: Sequence[Passage]) -> list[tuple[str, list[str]]]:
    """The question's codes that no passage holds while the passages hold others of the same
    family (same letters, other digits), each with those others as the passages write them;
    then its years the same way (`unlisted_years`)."""
    asked = {_code_key(m): m.group(0) for m in _CODE.finditer(question)}
    if not asked:
        return unlisted_years(question, passages)
    held: dict[str, dict[str, str]] = {}  # family -> code key -> as written
    for passage in passages:
        for m in _CODE.finditer(f"{passage.heading} {passage.text}"):
            held.setdefault(m.group(1).lower(), {}).setdefault(_code_key(m), m.group(0))
    found = []
    for key, written in asked.items():
        family = held.get(key.split("-")[0], {})
        if family and key not in family:
            found.append((written, list(family.values())))
    return found + unlisted_years(question, passages)


def unlisted_years(question: str, passages: Sequence[Passage]) -> list[tuple[str, list[str]]]:
    """The question's years that no passage holds while the best passage gives another: the
    edition of a tariff, a scheme year, a price list ("Fix 12 (October 2025)" where the
    articles have the March 2026 one; "winter 2026 to 2027" where they give 2025 to 2026)."""
    asked = set(_YEAR.findall(question))
    if not asked or not passages:
        return []
    anywhere = {y for p in passages for y in _YEAR.findall(f"{p.title} {p.heading} {p.text}")}
    best = passages[0]
    others = sorted(set(_YEAR.findall(f"{best.title} {best.heading} {best.text}")) - asked)
    return [(year, others) for year in sorted(asked - anywhere) if others]


# Asking whether the business has, offers, sells or lets one use something: what follows is
# the thing asked for, up to a clause or a pronoun ("do you have a number I can ring").
_OFFER = re.compile(
    r"\b(?:do|does|can|could|will|would)\s+(?:you|u|the\s+\w+(?:\s+\w+)?)\s+"
    r"(?:do|offer|sell|provide|have|stock|support|accept|give|run|charge|pay|take)\s+"
    r"(?P<a>[^?.!,;:()\n]+)"
    r"|\bhave\s+you\s+(?:got|any)\s+(?P<b>[^?.!,;:()\n]+)"
    r"|\b(?:can|could)\s+(?:i|we)\s+use\s+(?P<c>[^?.!,;:()\n]+)",
    re.IGNORECASE,
)
_OBJECT_END = re.compile(
    r"\b(?:if|when|because|so|since|instead|rather|than|but|as|which|that|who|whom|whose|"
    r"where|while|before|after|to|what|how|why|i|i'm|i've|we|you|he|she|they|it|its|it's|my|"
    r"our|your|his|her|their|me|us|this|these|those|please)\b",
    re.IGNORECASE,
)
_OBJECT_WORDS = 6
# Small closed families whose members stand for each other in a question: asked about one
# that no passage holds while the best passage gives another, the passage answers the other.
# Each member: how a question names it, how a passage does (lower-case words, up to three).
_FAMILIES: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "frequency": {
        # "every day" asks about opening days more often than about a frequency.
        "daily": (("daily",), ("daily", "every day", "each day")),
        "weekly": (("weekly", "every week", "each week"),) * 2,
        "fortnightly": (("fortnightly", "every fortnight", "every two weeks",
                         "every 2 weeks"),) * 2,
        "monthly": (("monthly", "every month", "each month"),) * 2,
        "quarterly": (("quarterly", "every quarter", "every three months", "every 3 months"),) * 2,
        "yearly": (("yearly", "annually", "every year", "once a year"),
                   ("yearly", "annually", "annual", "every year", "once a year")),
    },
    "card": {
        # "visa" and "discover" name other things too: only ever a sibling, never asked.
        "Visa": ((), ("visa",)),
        "Mastercard": (("mastercard", "master card"),) * 2,
        "Maestro": (("maestro",),) * 2,
        "American Express": (("amex", "american express"),) * 2,
        "PayPal": (("paypal", "pay pal"),) * 2,
        "Apple Pay": (("apple pay",),) * 2,
        "Google Pay": (("google pay", "gpay"),) * 2,
        "Klarna": (("klarna",),) * 2,
        "Diners Club": (("diners", "diners club"),) * 2,
        "JCB": (("jcb",),) * 2,
        "UnionPay": (("unionpay", "union pay"),) * 2,
    },
    "currency": {
        "euros": (("euro", "euros", "eur"), ("euro", "euros", "eur", "€")),
        "dollars": (("dollar", "dollars", "usd"), ("dollar", "dollars", "usd", "$")),
        "pounds": (("pounds", "sterling", "gbp"), ("pound", "pounds", "sterling", "gbp", "£")),
    },
}  # fmt: skip
_QUESTION_START = re.compile(
    r"^\W*(?:what|what's|whats|when|where|why|how|which|who|can|could|do|does|did|is|are|"
    r"will|would|should|may|am|have|has)\b",
    re.IGNORECASE,
)
_CLAUSE = re.compile(r"[,;:\n]+|(?<=[.!?])\s+")


def absent_items(
    question: str, passages: Sequence[Passage], keys: Sequence[KeyWord]
) -> list[tuple[str, list[str]]]:
    """What the question asks about that the passages cannot give: an offer a word of which
    no chunk of the index holds (others empty), or a member of a closed family that no passage
    holds while the best one gives others (those others; a card or currency the index never
    names at all needs none)."""
    if not passages:
        return []
    unknown = {k.word for k in keys if k.in_index is False}
    found: list[tuple[str, list[str]]] = []
    if unknown:
        for match in _OFFER.finditer(question):
            thing = match.group("a") or match.group("b") or match.group("c") or ""
            if end := _OBJECT_END.search(thing):
                thing = thing[: end.start()]
            thing = " ".join(thing.split()[:_OBJECT_WORDS])
            absent = [w for w in words(thing) if w in unknown and len(w) > 2 and w.isalpha()]
            if absent:
                found.append((", ".join(repr(w) for w in dict.fromkeys(absent)), []))
    asking = " ".join(c for c in _CLAUSE.split(question) if _QUESTION_START.search(c)) or (
        question if "?" in question and not _CLAUSE.search(question.strip().rstrip("?")) else ""
    )
    in_question, in_asking = _named(question, 0), _named(asking, 0)
    asked_in = {f: (in_asking if f == "frequency" else in_question)[f] for f in _FAMILIES}
    if not any(asked_in.values()):
        return found  # most questions name no member: the passages need no reading
    held_anywhere = [_named(f"{p.title} {p.heading} {p.text}", 1) for p in passages]
    best = held_anywhere[0]
    for family, asked in asked_in.items():
        missing = asked - set().union(*(held[family] for held in held_anywhere))
        for member in sorted(missing):
            others = sorted(best[family] - missing)
            if others:
                found.append((member, others))
            elif family != "frequency" and _never_named(family, member, question, unknown):
                found.append((member, []))
    return found


@lru_cache(maxsize=8192)
def _named(text: str, which: int) -> dict[str, frozenset[str]]:
    """The closed families' members a text names, as a question (0) or a passage (1) names
    them; cached, the same passages come back search after search."""
    low = " ".join(text.lower().split())
    return {
        family: frozenset(
            member for member, forms in members.items() if any(_says(low, f) for f in forms[which])
        )
        for family, members in _FAMILIES.items()
    }


def _says(low: str, form: str) -> bool:
    """Whether lower-case text holds a form as whole words (a symbol anywhere)."""
    if not form[0].isalnum():
        return form in low
    start = low.find(form)
    while start >= 0:
        end = start + len(form)
        if (start == 0 or not low[start - 1].isalnum()) and (
            end == len(low) or not low[end].isalnum()
        ):
            return True
        start = low.find(form, start + 1)
    return False


def _never_named(family: str, member: str, question: str, unknown: AbstractSet[str]) -> bool:
    """Whether the question names this member with a word no chunk of the index holds."""
    said = f" {' '.join(words(question))} "
    forms = _FAMILIES[family][member][0]
    return any(w in unknown for form in forms if f" {form} " in said for w in form.split())


def _code_key(match: re.Match[str]) -> str:
    """ "IHD-12", "ihd12" and "IHD-012" are one code."""
    return f"{match.group(1).lower()}-{int(match.group(2))}"


def compute_signals(keys: Sequence[KeyWord], passages: Sequence[Passage]) -> dict[str, float]:
    signals = dict.fromkeys(SIGNALS, 0.0)
    if not passages:
        return signals
    total = sum(k.weight for k in keys) or 1.0
    dense = sorted((p.dense_score for p in passages if p.dense_score is not None), reverse=True)
    if dense:
        signals["dense"] = dense[0]
        signals["dense_gap"] = dense[0] - dense[1] if len(dense) > 1 else dense[0]
    else:
        signals.pop("dense")
        signals.pop("dense_gap")
    seen: set[str] = set()
    best_cover = best_sentence = 0.0
    for passage in passages[:3]:
        frame = _stems(f"{passage.title} {passage.heading}")
        body = _stems(passage.text)
        seen |= frame | body
        best_cover = max(best_cover, _share(keys, frame | body, total))
        for sentence in _SENTENCE.split(passage.text):
            if sentence.strip():
                best_sentence = max(best_sentence, _share(keys, frame | _stems(sentence), total))
    for passage in passages[3:]:
        seen |= _stems(f"{passage.title} {passage.heading} {passage.text}")
    signals["coverage"] = best_cover
    signals["sentence"] = best_sentence
    keyword = max((p.keyword_score or 0.0) for p in passages)
    signals["keyword"] = min(1.0, keyword / total) if keys else 0.0
    signals["missing"] = sum(k.weight for k in keys if k.stem not in seen) / total
    signals["unknown"] = sum(k.weight for k in keys if k.in_index is False) / total
    return signals


def _share(keys: Sequence[KeyWord], stems: AbstractSet[str], total: float) -> float:
    return sum(k.weight for k in keys if k.stem in stems) / total


def _reason(
    answerable: bool, probability: float, keys: Sequence[KeyWord], passages: Sequence[Passage]
) -> str:
    best = passages[0]
    if answerable:
        return f"'{best.title}' answers it (answerability {probability:.2f})"
    seen: set[str] = set()
    for passage in passages[:3]:
        seen |= _stems(f"{passage.title} {passage.heading} {passage.text}")
    absent = [k.word for k in sorted(keys, key=lambda k: -k.weight) if k.stem not in seen][:3]
    unknown = [k.word for k in keys if k.in_index is False][:3]
    if unknown:
        detail = f"the knowledge base never mentions {', '.join(repr(w) for w in unknown)}"
    elif absent:
        detail = f"the closest articles do not mention {', '.join(repr(w) for w in absent)}"
    else:
        detail = f"the closest article, '{best.title}', does not answer it"
    return f"{detail} (answerability {probability:.2f})"
