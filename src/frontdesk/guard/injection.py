"""Prompt-injection screening: rules for the known families plus a model trained locally.

The model is TF-IDF (character 2-5-grams within words, and word 1-2-grams) with a
class-balanced logistic regression, trained at first use from data shipped in
`frontdesk/guard/data` (see its NOTICE.md): the deepset/prompt-injections train split, a
curated set of the four rule families, and ordinary customer messages from BANKING77 and
CLINC150 as benign examples (without them about 7% of support messages scored as attacks).
Training takes a few seconds once a process (`InjectionModel.shipped`); nothing is pickled
and nothing is downloaded.

The rules catch the families a support assistant meets, in English and German, and survive
one-letter typos of the trigger verbs ("igmre what I said"):

- instruction override ("ignore the previous instructions", "new task:");
- role-play jailbreaks ("you are now DAN", "pretend you are", "developer mode");
- exfiltration ("print your system prompt", Markdown images or links carrying data out);
- tool abuse (SQL or shell commands, calling tools with the attacker's arguments).

A text's score is the larger of the model's probability and the strongest rule's weight.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

DATA_FILES = ("deepset_prompt_injections_train.jsonl", "curated.jsonl", "support_benign.jsonl")
RULE_WEIGHT = 0.95


@dataclass(frozen=True)
class InjectionVerdict:
    score: float
    model_score: float
    rules: list[str] = field(default_factory=list)

    def is_injection(self, threshold: float) -> bool:
        return self.score >= threshold


# ---------------------------------------------------------------------------- rules

_OVERRIDE_VERBS = ("ignore", "disregard", "forget", "override", "bypass", "ignoriere", "vergiss")


def _typo_tolerant(text: str) -> str:
    """Lower-case text with words one edit away from a trigger verb replaced by it."""
    out = []
    for word in re.findall(r"\w+|\W+", text.lower()):
        if word.isalpha() and 5 <= len(word) <= 11 and word not in _OVERRIDE_VERBS:
            for verb in _OVERRIDE_VERBS:
                if abs(len(word) - len(verb)) <= 1 and _one_edit(word, verb):
                    word = verb
                    break
        out.append(word)
    return "".join(out)


def _one_edit(a: str, b: str) -> bool:
    if a == b:
        return True
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        i = diffs[0]
        return len(diffs) == 2 and diffs[1] == i + 1 and a[i] == b[i + 1] and a[i + 1] == b[i]
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


_TARGETS = (
    r"(?:instructions?|prompts?|rules|guidelines|directives|directions|tasks?|context|commands"
    r"|programming|restrictions|what i (?:said|told you|wrote)|everything|all of (?:the|this)"
    r"|anweisungen|instruktionen|regeln|aufgaben|alles)"
)
_QUALIFIERS = (
    r"(?:(?:all|any|the|your|my|of|these|those|previous|prior|above|earlier|preceding|initial"
    r"|original|system|given|current|alle|deine|ihre|die|vorherigen|bisherigen|obigen)\s+){0,4}"
)

RULES: dict[str, list[re.Pattern[str]]] = {
    "instruction_override": [
        re.compile(
            rf"\b(?:ignore|disregard|forget|override|bypass|ignoriere|ignorieren sie|vergiss"
            rf"|vergessen sie|oublie|ignora|olvida)\s+{_QUALIFIERS}{_TARGETS}\b"
        ),
        re.compile(
            r"\b(?:ignore|disregard|forget)\s+(?:what|everything)\b.{0,40}\b(?:before|above"
            r"|said|earlier)\b"
        ),
        re.compile(
            r"\b(?:ignore|disregard|forget|ignoriere|vergiss) (?:the |all )?(?:above|previous"
            r"|preceding)\b"
        ),
        re.compile(
            r"\b(?:new|real|actual|next|neue|nächste) (?:task|instructions?|statement|rules|job"
            r"|aufgabe|anweisung)\s*(?:[:!-]|is\b|ist\b)"
        ),
        re.compile(
            r"\b(?:drop|remove|lift) (?:all )?(?:the |your )?(?:restrictions|rules|filters"
            r"|guardrails)\b"
        ),
        re.compile(
            r"\btranslate (?:this |that |it |everything |the above |all of (?:this"
            r"|that) )?(?:in)?to (?:polish|french|german|spanish|italian|russian|chinese"
            r"|japanese|pirate|\w+ish)\b"
        ),
        re.compile(
            r"(?:<\|?im_start\|?>|<\|?system\|?>|\[/?inst\]|<<sys>>|</?system>|^\s*system\s*:)",
            re.M,
        ),
    ],
    "role_play": [
        re.compile(
            r"\b(?:you are now|you're now|from now on,? you(?: are| will|'re)?"
            r"|pretend (?:to be|you are|you're|that you)|act as (?:an?|my|the)\b"
            r"|role-?play|play the role|speak like an?"
            r"|talk like an?|respond as an?|imagine you are|du bist (?:jetzt|nun|ab sofort)"
            r"|tu so,? als|stell dir vor,? du bist|spiel(?:e)? die rolle)"
        ),
        re.compile(
            r"\b(?:dan|do anything now|developer mode|jailbreak|jailbroken|unfiltered|uncensored|no"
            r" (?:restrictions|filters|limits|rules)|without (?:any )?(?:restrictions|filters"
            r"|limits|censorship|rules)|ohne (?:regeln|einschränkungen|filter))\b"
        ),
    ],
    "exfiltration": [
        re.compile(
            r"\b(?:reveal|show|print|repeat|output|return|display|tell me|give me|leak|spell out"
            r"|what (?:is|are|were)|list|zeige?|gib|verrate|nenne)\b[^.!?\n]{0,40}"
            r"\b(?:your|the|all|deine|ihre|den|die)\s+(?:\w+\s+)?"
            r"(?:system ?prompt|prompts?|(?:initial |original |hidden |secret )?instructions"
            r"|embeddings?|configuration|api keys?|passwords?|secrets?"
            r"|prompt texts?|systemanweisungen|anweisungen|einbettungen|schlüssel)\b"
        ),
        re.compile(r"\brepeat (?:the |all )?(?:text|words|everything) (?:above|before)\b"),
        re.compile(r"!\[[^\]]*\]\(\s*https?://"),
        re.compile(r"https?://\S*[?&]\w*=\s*(?:\{|\[|$|\"|')"),
        re.compile(r"\b(?:append|send|post|forward|upload)\b.{0,40}\b(?:to|an) https?://"),
        re.compile(
            r"\b(?:other|previous|last|all) (?:customers?|users?)(?:'s?)? (?:personal |private )?"
            r"(?:data|details|emails?|e-mail addresses|addresses|phone numbers|records|information)"
        ),
    ],
    "tool_abuse": [
        re.compile(
            r"\b(?:drop table|delete from|select \* from|insert into|truncate table"
            r"|union select)\b"
        ),
        re.compile(
            r"(?:\brm -rf\b|\bsudo\b|\bcurl\s+-|\bwget\s+http|\bexec\(|\beval\(|os\.system"
            r"|subprocess|/etc/passwd)"
        ),
        re.compile(
            r"\b(?:sql|shell|bash|terminal|datenbank|database)\b.{0,30}\b(?:code|command|query"
            r"|befehl|zugreifen|access)\b"
        ),
        re.compile(
            r"\b(?:call|invoke|execute|run|trigger|use) (?:the |this )?\w+[ _](?:tool"
            r"|function)\b"
        ),
        re.compile(
            r"\b(?:refund|credit|compensate) (?:every|all|each) (?:order|customer|account)s?\b"
        ),
        # An order to the assistant, not a description ("manual refunds skip the checks").
        re.compile(
            r"(?:^|[.!?:]\s*|\b(?:please|just|now|and|you must|you should|can you)\s+)"
            r"skip (?:the |all |any )?(?:checks|verification|approval)\b"
        ),
    ],
}


def rule_hits(text: str) -> list[str]:
    normal = _typo_tolerant(text)
    return [name for name, patterns in RULES.items() if any(p.search(normal) for p in patterns)]


# ---------------------------------------------------------------------------- model


def training_examples() -> tuple[list[str], list[int]]:
    texts: list[str] = []
    labels: list[int] = []
    data = files("frontdesk.guard") / "data"
    for name in DATA_FILES:
        for line in (data / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                texts.append(str(row["text"]))
                labels.append(int(row["label"]))
    return texts, labels


class InjectionModel:
    """The trained classifier. `fit` on any labelled texts; `shipped()` gives the one trained
    on the packaged data, built once a process."""

    _shipped: InjectionModel | None = None
    _lock = threading.Lock()

    def __init__(self, *, c: float = 10.0) -> None:
        self.c = c
        self._features: Any = None
        self._classifier: Any = None

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> InjectionModel:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_union

        self._features = make_union(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
            TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
        )
        matrix = self._features.fit_transform(list(texts))
        self._classifier = LogisticRegression(
            C=self.c, class_weight="balanced", solver="liblinear", max_iter=2000
        ).fit(matrix, list(labels))
        return self

    def probabilities(self, texts: Sequence[str]) -> list[float]:
        if self._features is None:
            raise RuntimeError("InjectionModel.fit() first")
        if not texts:
            return []
        proba = self._classifier.predict_proba(self._features.transform(list(texts)))
        return [float(p) for p in proba[:, 1]]

    @classmethod
    def shipped(cls) -> InjectionModel:
        with cls._lock:
            if cls._shipped is None:
                texts, labels = training_examples()
                cls._shipped = InjectionModel().fit(texts, labels)
            return cls._shipped


class InjectionScreen:
    """Scores texts for prompt injection: customer messages, retrieved passages, e-mails."""

    def __init__(self, model: InjectionModel | None = None, *, use_rules: bool = True) -> None:
        self._model = model
        self.use_rules = use_rules

    @property
    def model(self) -> InjectionModel:
        if self._model is None:
            self._model = InjectionModel.shipped()
        return self._model

    def score(self, text: str) -> InjectionVerdict:
        return self.score_many([text])[0]

    def score_many(self, texts: Iterable[str]) -> list[InjectionVerdict]:
        items = list(texts)
        probabilities = self.model.probabilities(items)
        verdicts = []
        for text, probability in zip(items, probabilities, strict=True):
            hits = rule_hits(text) if self.use_rules else []
            score = max(probability, RULE_WEIGHT if hits else 0.0)
            verdicts.append(InjectionVerdict(round(score, 4), round(probability, 4), hits))
        return verdicts
