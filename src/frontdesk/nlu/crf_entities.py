"""A trainable entity extractor: a linear-chain CRF (python-crfsuite through sklearn-crfsuite)
over word tokens with BIO tags, learned from the `[value](entity)` annotations.

It finds what patterns cannot describe (product names, places, free-form references) from a
few dozen annotated examples, trains in well under a second for a demo-sized set and tags a
message in a fraction of a millisecond. Each span's confidence is the mean marginal
probability of its tags.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from frontdesk.nlu.training_data import EntitySpan, Example
from frontdesk.types import Entity

_TOKEN = re.compile(r"\w+(?:[-'.]\w+)*|[^\w\s]")


def tokenize(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _shape(token: str) -> str:
    shape = re.sub(r"[A-Z]", "A", token)
    shape = re.sub(r"[a-z]", "a", shape)
    shape = re.sub(r"\d", "0", shape)
    return re.sub(r"(.)\1+", r"\1\1", shape)


def _token_features(
    tokens: list[tuple[str, int, int]], i: int, marks: Sequence[Sequence[str]] | None = None
) -> dict[str, Any]:
    word = tokens[i][0]
    lower = word.lower()
    features: dict[str, Any] = {
        "bias": 1.0,
        "w": lower,
        "suf3": lower[-3:],
        "pre3": lower[:3],
        "shape": _shape(word),
        "title": word.istitle(),
        "upper": word.isupper(),
        "digit": any(c.isdigit() for c in word),
        "len": min(len(word), 12),
    }
    for offset in (-2, -1, 1, 2):
        j = i + offset
        if 0 <= j < len(tokens):
            other = tokens[j][0]
            features[f"{offset}:w"] = other.lower()
            features[f"{offset}:shape"] = _shape(other)
        else:
            features[f"{offset}:edge"] = True
    if marks is not None:
        for mark in marks[i]:
            features[mark] = True
        for offset in (-1, 1):
            j = i + offset
            if 0 <= j < len(tokens):
                for mark in marks[j]:
                    features[f"{offset}:{mark}"] = True
    return features


def sentence_features(
    tokens: list[tuple[str, int, int]], marks: Sequence[Sequence[str]] | None = None
) -> list[dict[str, Any]]:
    return [_token_features(tokens, i, marks) for i in range(len(tokens))]


def label_of(span: EntitySpan) -> str:
    """The CRF's label of a span: its type, with its role and group where annotated
    (`city:destination@1`), so that they are learned and extracted with it."""
    return (
        span.type
        + (f":{span.role}" if span.role else "")
        + (f"@{span.group}" if span.group else "")
    )


def split_label(label: str) -> tuple[str, str | None, str | None]:
    rest, _, group = label.partition("@")
    type_, _, role = rest.partition(":")
    return type_, role or None, group or None


def bio_tags(text: str, spans: Sequence[tuple[str, int, int]]) -> list[str]:
    """BIO tags for the tokens of `text`, given (type, start, end) spans."""
    tags: list[str] = []
    for _, start, end in tokenize(text):
        tag = "O"
        for type_, s, e in spans:
            if start >= s and end <= e:
                tag = ("B-" if start == s or not tags or tags[-1] == "O" else "I-") + type_
                break
        tags.append(tag)
    return tags


def spans_from_tags(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """(type, first token, last token + 1) for each tagged run."""
    found: list[tuple[str, int, int]] = []
    current: tuple[str, int] | None = None
    for i, tag in enumerate([*tags, "O"]):
        kind = tag[2:] if tag != "O" else None
        if current is not None and (tag == "O" or tag.startswith("B-") or kind != current[0]):
            found.append((current[0], current[1], i))
            current = None
        if kind is not None and current is None:
            current = (kind, i)
    return found


Phrase = tuple[str, tuple[str, ...]]  # (name, lower-cased tokens)


def _key(value: str) -> tuple[str, ...]:
    return tuple(t.lower() for t, _, _ in tokenize(value))


class EntityFeatures:
    """What the training data knows about entity values, as token features for the CRF
    (as Rasa's RegexFeaturizer and lookup-table features do): a token inside a lookup-table
    entry, a synonym or an annotated value of the training data is marked `in:<name>` (with
    `:B`/`:I` for its place in the phrase), a token inside a regex match `re:<name>`. The CRF
    learns how much each mark counts, so a lookup or a regex helps where the annotations agree
    with it and never overrides them.

    While training, a value annotated in one example only is not marked in that example:
    otherwise the CRF would learn that every entity is marked, and miss the unmarked ones
    (new names) it is there to find."""

    def __init__(
        self,
        declared: Mapping[str, Iterable[str]] | None = None,
        regexes: Mapping[str, Iterable[str]] | None = None,
        annotated: Mapping[Phrase, int] | None = None,
    ) -> None:
        self._declared = {(n, _key(v)) for n, values in (declared or {}).items() for v in values}
        self._declared = {(n, k) for n, k in self._declared if k}
        self._annotated = dict(annotated or {})
        self._phrases: dict[tuple[str, ...], set[str]] = {}
        for name, key in [*self._declared, *self._annotated]:
            self._phrases.setdefault(key, set()).add(name)
        self._longest = max((len(k) for k in self._phrases), default=0)
        self._regexes = [
            (name, re.compile(pattern))
            for name, patterns in (regexes or {}).items()
            for pattern in patterns
        ]

    @classmethod
    def learn(
        cls,
        examples: Sequence[Example],
        *,
        lookups: Mapping[str, Iterable[str]] | None = None,
        regexes: Mapping[str, Iterable[str]] | None = None,
        synonyms: Mapping[str, str] | None = None,
    ) -> EntityFeatures:
        """Marks from the annotated spans (their text and value, by type), the lookup tables
        (by table name), the synonyms (by the type annotated with their value, else `synonym`)
        and the regexes (by name)."""
        annotated: dict[Phrase, int] = {}
        types_of_value: dict[str, set[str]] = {}
        for example in examples:
            for phrase in cls.own(example):
                annotated[phrase] = annotated.get(phrase, 0) + 1
            for span in example.entities:
                for said in (span.text.lower(), span.value.lower()):
                    types_of_value.setdefault(said, set()).add(span.type)
        declared: dict[str, set[str]] = {}
        for name, values in (lookups or {}).items():
            declared.setdefault(name, set()).update(values)
        for surface, value in (synonyms or {}).items():
            for type_ in types_of_value.get(value.lower(), {"synonym"}):
                declared.setdefault(type_, set()).update({surface, value})
        return cls(declared, regexes, annotated)

    @staticmethod
    def own(example: Example) -> set[Phrase]:
        """The phrases an example's annotations contribute."""
        found = set()
        for span in example.entities:
            for said in (span.text, span.value):
                if key := _key(said):
                    found.add((span.type, key))
        return found

    def phrases(
        self, tokens: list[tuple[str, int, int]], own: Collection[Phrase] = ()
    ) -> list[tuple[str, int, int]]:
        """(name, first token, last token + 1) of each known phrase in `tokens`; `own`: the
        phrases of the example being learned, left out where no other source knows them."""
        lowered = [t.lower() for t, _, _ in tokens]
        found = []
        for i in range(len(tokens)):
            for n in range(1, min(self._longest, len(tokens) - i) + 1):
                key = tuple(lowered[i : i + n])
                for name in sorted(self._phrases.get(key, ())):
                    phrase = (name, key)
                    if (
                        phrase in own
                        and phrase not in self._declared
                        and self._annotated.get(phrase, 0) <= 1
                    ):
                        continue
                    found.append((name, i, i + n))
        return found

    def knows(self, name: str, tokens: list[tuple[str, int, int]]) -> bool:
        key = tuple(t.lower() for t, _, _ in tokens)
        return name in self._phrases.get(key, ())

    def marks(
        self, text: str, tokens: list[tuple[str, int, int]], own: Collection[Phrase] = ()
    ) -> list[list[str]]:
        marks: list[list[str]] = [[] for _ in tokens]
        for name, i, end in self.phrases(tokens, own):
            for j in range(i, end):
                marks[j].extend((f"in:{name}", f"in:{name}:{'B' if j == i else 'I'}"))
        for name, pattern in self._regexes:
            for m in pattern.finditer(text):
                for j, (_, start, end) in enumerate(tokens):
                    if start >= m.start() and end <= m.end() and m.end() > m.start():
                        marks[j].append(f"re:{name}")
        return [sorted(set(m)) for m in marks]


class CrfEntityExtractor:
    name = "crf"

    def __init__(
        self,
        model: Any = None,
        *,
        min_confidence: float = 0.5,
        features: EntityFeatures | None = None,
    ) -> None:
        self._model = model
        self.min_confidence = min_confidence
        self.features = features

    def _sentence(
        self, text: str, tokens: list[tuple[str, int, int]], own: Collection[Phrase] = ()
    ) -> list[dict[str, Any]]:
        features = getattr(self, "features", None)  # None in models pickled before it existed
        marks = features.marks(text, tokens, own) if features is not None else None
        return sentence_features(tokens, marks)

    @property
    def trained(self) -> bool:
        return self._model is not None

    @property
    def types(self) -> list[str]:
        if self._model is None:
            return []
        return sorted({split_label(str(c)[2:])[0] for c in self._model.classes_ if c != "O"})

    def fit(
        self,
        examples: Sequence[Example],
        *,
        lookups: Mapping[str, Iterable[str]] | None = None,
        regexes: Mapping[str, Iterable[str]] | None = None,
        synonyms: Mapping[str, str] | None = None,
    ) -> CrfEntityExtractor:
        """Learns from every example, annotated or not: unannotated text teaches what is not
        an entity. Without any annotation there is nothing to learn and no model is kept.
        Lookup tables, regexes and synonyms are features (see `EntityFeatures`)."""
        if not any(e.entities for e in examples):
            self._model = None
            return self
        self.features = EntityFeatures.learn(
            examples, lookups=lookups, regexes=regexes, synonyms=synonyms
        )
        import sklearn_crfsuite

        features, labels = [], []
        for example in examples:
            tokens = tokenize(example.text)
            if not tokens:
                continue
            features.append(self._sentence(example.text, tokens, EntityFeatures.own(example)))
            spans = [(label_of(s), s.start, s.end) for s in example.entities]
            labels.append(bio_tags(example.text, spans))
        model = sklearn_crfsuite.CRF(
            algorithm="lbfgs", c1=0.05, c2=0.05, max_iterations=100, all_possible_transitions=True
        )
        model.fit(features, labels)
        self._model = model
        return self

    def extract(self, text: str, *, now: datetime | None = None) -> list[Entity]:
        if self._model is None:
            return []
        tokens = tokenize(text)
        if not tokens:
            return []
        marginals = self._model.predict_marginals_single(self._sentence(text, tokens))
        tags = [max(m, key=m.get) for m in marginals]
        features = getattr(self, "features", None)
        known = features.phrases(tokens) if features is not None else []
        entities: list[Entity] = []
        for kind, first, last in spans_from_tags(tags):
            confidence = sum(marginals[i][tags[i]] for i in range(first, last)) / (last - first)
            if confidence < self.min_confidence:
                continue
            # A known value is one unit: a span tagged on part of one ("really" of "really
            # important") covers all of it, unless the part is a known value itself ("credit"
            # of "credit accounts") or the whole runs into the span before.
            type_, role, group = split_label(kind)
            if features is not None and not features.knows(type_, tokens[first:last]):
                for name, a, b in known:
                    inside = name == type_ and a <= first and last <= b
                    free = not entities or tokens[a][1] >= entities[-1].end
                    if inside and free and (a, b) != (first, last):
                        first, last = a, max(last, b)
            start, end = tokens[first][1], tokens[last - 1][2]
            entities.append(
                Entity(
                    type=type_,
                    role=role,
                    group=group,
                    text=text[start:end],
                    value=text[start:end],
                    start=start,
                    end=end,
                    extractor=self.name,
                    confidence=round(float(confidence), 4),
                )
            )
        return entities
