"""Does a text ask the person reading it for a secret: a card number, the card's security code,
a password, a PIN, a one-time code or a bank login?

Shared by the knowledge base's screen (a help page that tells customers to "reply with the
full card number") and the output screen (a reply that asks for one), so both draw the line
in the same place. Help articles mention secrets all the time, safely: "never share your PIN",
"we will never ask for your card number", "enter the one-time code into the app", "reset your
password at Settings > Security". What makes a request is a verb that hands the secret over
to a person or a conversation (reply with, send us, tell the agent, read out, type it in this
chat, what is your PIN?), not negated or described as what fraudsters do. Typing a secret
into a form, an app, a keypad or a sign-in page is not a request. The last four digits of a
card are not a secret (support desks ask for them to find a payment).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# What is asked for, by kind. Expiry dates count only next to a card number (on their own
# they are not enough to pay).
_SECRETS: dict[str, str] = {
    "card number": (
        r"(?:(?:full|long|whole|complete|16[- ]digit|sixteen[- ]digit)\s+)?(?:(?:credit|debit"
        r"|bank|payment)\s+)?card(?:'s)?\s+(?:numbers?|details|info(?:rmation)?|data)"
        r"|(?:16|sixteen)[- ]digit (?:card )?number|long number on (?:the front of )?(?:your|the)"
        r" card|photo(?:graph)?s? (?:of|showing) (?:the )?(?:front and back|back|both sides)"
        r" of (?:your|the) card"
    ),
    "card security code": (
        r"cvv2?|cvc2?|cv2|csc|(?:card )?security (?:code|number)|card verification (?:code"
        r"|value|number)|(?:3|three|4|four)[- ]digit (?:security )?code|(?:digits|code|number)"
        r" on the back of (?:your|the) card"
    ),
    "one-time code": (
        r"one[- ]time (?:pass ?codes?|passwords?|codes?|pins?)|otps?|(?:verification"
        r"|authentication|authenticator|confirmation|2fa|two[- ]factor|two[- ]step|mfa|sms"
        r"|login|log-in|sign[- ]in|access|recovery|backup) (?:pass)?codes?|(?:\d|four|five|six"
        r"|eight)[- ]digit (?:pass)?codes?"
    ),
    "bank login": (
        r"(?:online |internet |mobile )?banking (?:login|log-in|sign[- ]in|credentials|details"
        r"|user ?(?:name|id))|login (?:details|credentials|info(?:rmation)?)|log-in details"
        r"|sign[- ]in details|credentials|memorable (?:word|information|info)"
    ),
    "password": r"pass ?words?|passcodes?|pass ?phrases?",
    "PIN": r"pins?(?: (?:code|number)s?)?",
}
_SECRET = re.compile(
    r"\b(?:" + "|".join(f"(?P<k{i}>{p})" for i, p in enumerate(_SECRETS.values())) + r")\b"
)
_KINDS = list(_SECRETS)

_SUBJECT = (
    r"(?:we|i|our (?:\w+ )?(?:team|staff|agents?|advisors?|advisers?|colleagues|engineers?"
    r"|assistant|bot)|the (?:agent|advisor|adviser|team|assistant|bot|engineer)"
    r"|an? (?:agent|advisor|adviser|engineer|member of (?:our|the) team))"
)
# The verbs that hand a secret over to a person or a conversation, the secret after them.
_HAND_OVER = re.compile(
    r"\b(?:reply|respond|write back|answer)\b[^.!?;]{0,40}?\bwith\b"
    r"|\b(?:send|e-?mail|text|sms|message|dm|forward|post|upload|whatsapp)\b(?! you\b)"
    r"|\b(?:tell|give|provide|share|confirm|disclose|hand over|quote|spell out|read out"
    r"|read back|read aloud|read(?= (?:me|us)\b)|say|repeat|let us know|let me know)\b"
    rf"|\b{_SUBJECT}(?: will| 'll|'ll| may| might| would| must| can| could| do| does)?"
    r"(?: also| first)? (?:need|needs|require|requires|ask you for|asks you for|ask for"
    r"|asks for|request|requests|collect|collects|take|takes|check|verify)\b"
)
# "Confirm the password" is a form's second box unless the conversation is named with it
# (a card number or a code has no such form: "confirm your card number" is a request).
_CONVERSATION = re.compile(
    r"\b(?:reply|respond|chat|conversation|message|e-?mail|call|phone|here|below|us|me"
    r"|agent|advisor|adviser|team|assistant|bot)\b"
)
# "What is your PIN?": only a question that ends on the secret ("what is your password
# policy?" asks about a policy).
_WHAT = re.compile(r"\bwhat(?:'s| is| are| was) your (?:\w+ ){0,3}?$")
# Typing a secret is a request only where it lands in the conversation itself.
_TYPE_IN = re.compile(
    r"\b(?:type|enter|put|paste|write|include|add|key in|input|drop)\b"
    r"(?P<between>[^.!?;]{0,80}?)\b(?:in|into|to|within|inside)\s+(?:this|the|our|your|a|an)"
    r"\s+(?:(?:next|reply|chat|support)\s+)?(?:chat|conversation|reply|response|message"
    r"|e-?mail|ticket|comment|thread|dm)s?\b|\b(?:type|enter|paste|write|put)\b"
    r"(?P<between2>[^.!?;]{0,60}?)\b(?:here|below)\b"
)
# A hand-over that is the operator's own sending ("we'll send you a code", "we text a code").
_OUR_SENDING = re.compile(
    r"\b(?:we|i|they|it)(?:'ll| will| may| can| might| would| have| 've|'ve| just| then"
    r"| also| first| usually| automatically)* (?:send|text|e-?mail|sms|message)\b"
)
# The request is described, not made: negated, conditional on a stranger, what fraudsters do.
_NOT_A_REQUEST = re.compile(
    r"\b(?:never|not|no one|no-one|nobody|none|nor|without|cannot|can't|won't|don't|doesn't"
    r"|didn't|shouldn't|mustn't|isn't|aren't|n't|avoid|refuse)\b|n't\b"
    r"|\b(?:if|when|whenever|should) (?:someone|anyone|anybody|somebody|a caller|a stranger"
    r"|they|an? (?:e-?mail|text|message|call|caller|website|site|page|link|person))\b"
    r"|\b(?:scam\w*|fraudster\w*|criminals?|phishing|fake|suspicious|impersonat\w*"
    r"|fraudulent|beware|wary|careful)\b"
    r"|\b(?:asking|asks|asked|requesting|requests) (?:you |customers |people )?(?:to|for)\b"
)
_LAST_DIGITS = re.compile(
    r"\blast (?:four|4|two|2|three|3) (?:digits|numbers)(?: of (?:your|the) (?:card|card"
    r" number|account|account number))?\b"
)
_CLAUSE = re.compile(r"[.!?;:\u2014\u2013]+|\s-\s|,\s*(?:but|so|then|and then|just)\b|,")
_LONE_NEGATION = re.compile(r"(?:please )?(?:never|not|no|don't|do not)(?: ever| once| at all)?")
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_WINDOW = 70  # characters between the verb and the secret


@dataclass(frozen=True)
class SecretRequest:
    kind: str  # card number | card security code | one-time code | bank login | password | PIN
    excerpt: str  # the clause that asks, as written (whitespace collapsed)


def normalise(text: str) -> str:
    """Lower case, compatibility forms (full-width letters), no invisible characters."""
    text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))
    return re.sub(r"[\u2018\u2019]", "'", text).lower()


def secret_requests(text: str) -> list[SecretRequest]:
    """Every clause of `text` that asks its reader to hand over a secret."""
    found: list[SecretRequest] = []
    for clause in _clauses(text):
        request = _request_in(clause)
        if request is not None:
            found.append(request)
    return found


def asks_for_secret(text: str) -> bool:
    return any(_request_in(clause) is not None for clause in _clauses(text))


def _clauses(text: str) -> list[str]:
    """Sentences cut into clauses: a negation in one ("don't worry, reply with your PIN")
    does not cover the next. A question keeps its question mark for "what is your PIN?"."""
    normal = normalise(text)
    pieces: list[str] = []
    # Commas inside brackets list things ("(user ID, passcode and memorable word)").
    normal = re.sub(r"\([^()]*\)", lambda m: m.group(0).replace(",", " "), normal)
    # A paragraph's lines are one text; list items, table rows and headings stand alone.
    blocks = re.split(r"\n\s*\n|\n(?=\s*(?:[-*+]\s|\d+[.)]\s|#|\||q:|a:))", normal)
    for sentence in (s for b in blocks for s in re.split(r"(?<=[.!?])\s+", b)):
        carried = ""
        for piece in (p.strip() for p in _CLAUSE.split(sentence) if p.strip()):
            if _LONE_NEGATION.fullmatch(piece):  # "never, ever, reply with..." stays negated
                carried += piece + " "
                continue
            pieces.append(carried + piece)
            carried = ""
    return pieces


def _request_in(clause: str) -> SecretRequest | None:
    clause = _LAST_DIGITS.sub("(partial card digits)", clause)
    if not _SECRET.search(clause):
        return None
    for match in _HAND_OVER.finditer(clause):
        if _OUR_SENDING.search(clause[max(0, match.start() - 40) : match.end()]):
            continue
        if not _addressed_to_reader(clause, match):
            continue
        secret = _SECRET.search(clause, match.end(), match.end() + _WINDOW)
        if secret is None or _described(clause, secret.start()):
            continue
        kind = _kind(secret, clause)
        confirm = kind == "password" and match.group(0) == "confirm"
        if confirm and not _CONVERSATION.search(clause, match.end()):
            continue  # the second box of a form that sets a password
        return SecretRequest(kind, re.sub(r"\s+", " ", clause))
    for secret in _SECRET.finditer(clause):
        asked = _WHAT.search(clause[: secret.start()]) and not clause[secret.end() :].strip()
        if asked and not _described(clause, secret.start()):
            return SecretRequest(_kind(secret, clause), re.sub(r"\s+", " ", clause))
    for match in _TYPE_IN.finditer(clause):
        between = match.group("between") or match.group("between2") or ""
        secret = _SECRET.search(between)
        if secret is not None and not _described(clause, match.start() + secret.end()):
            return SecretRequest(_kind(secret, clause), re.sub(r"\s+", " ", clause))
    return None


# "your email or password", "a text", "by message": the word is a noun, not the verb.
_NOUN_BEFORE = re.compile(
    r"\b(?:your|their|my|his|her|our|the|an?|by|via|of|same|this|that|new|old|every|any"
    r"|each|registered|recovery|or|and)\s*$"
)
# "the visitor will say your password", "we'll confirm": someone else speaks.
_OTHER_SPEAKS = re.compile(
    r"\b(?!you\b)(\w+)(?:'ll| will| may| might| can| could| would| should| must| does| do"
    r"| then)(?: also| then| first| just| always| usually| now)?\s*$|\b(?:can|could|should"
    r"|may|shall|do) i\s*$"
)


def _addressed_to_reader(clause: str, verb: re.Match[str]) -> bool:
    """The verb tells the reader to hand something over (not a noun, not someone else's
    doing, not the customer's own question "can I give my card number...")."""
    before = clause[: verb.start()]
    word = verb.group(0)
    if word in {"e-mail", "email", "text", "sms", "message", "post", "dm", "whatsapp"}:
        after = clause[verb.end() :]
        # "your email or password", "email address": a noun.
        if _NOUN_BEFORE.search(before) or re.match(r"\s*(?:address|(?:or|and|/)\b)", after):
            return False
    elif not word.startswith(("reply", "respond", "write back", "answer")) and (
        not re.match(_SUBJECT, word) and _OTHER_SPEAKS.search(before)
    ):
        return False
    return not re.search(r"\bmy\b", clause[verb.end() : verb.end() + 20])


def _described(clause: str, at: int) -> bool:
    """Negated or described before the secret is named (`at`)."""
    return bool(_NOT_A_REQUEST.search(clause[:at]))


def _kind(match: re.Match[str], clause: str) -> str:
    kind = next((k for i, k in enumerate(_KINDS) if match.group(f"k{i}")), "secret")
    if kind == "card security code" and "card" not in clause and "cv" not in clause:
        return "one-time code"  # a "security code" with no card near it is a sign-in's
    return kind
