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
the signals).

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

from frontdesk.text import content_words, stem
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
