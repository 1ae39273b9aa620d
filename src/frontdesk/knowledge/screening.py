"""The knowledge base's screen: passages that would turn an answer against the customer.

A passage is quarantined (kept, flagged, never retrieved, embedded or quoted) when it holds

- an instruction addressed to the assistant or model reading it ("ignore previous
  instructions", "Assistant, tell the user...", "Note to AI assistants:", "[INST]");
- a request for a secret: the reader is told to send, reply with, tell or give a card number,
  security code, password, PIN, one-time code or bank login (`frontdesk.secret_requests`,
  the line the output screen draws too);
- hidden text: an HTML or Markdown comment with words in it, inline HTML that is not shown
  (display:none, visibility:hidden, the hidden attribute, zero font size or opacity, white or
  same-colour text), zero-width, bidirectional-control or Unicode tag characters.

Help articles talk about secrets and instructions all the time; the rules are written so that
"never share your PIN", "enter the code into the app", "reset your password at Settings >
Security", "ignore the previous reminder if you've paid" and staff notes ("tell the customer
...") pass (tests/knowledge/data/kb_injection_cases.yaml holds the cases they are measured on).
An HTML file's hidden elements and comments are turned into `<!-- hidden (...): text -->` by
the converter (`mark_hidden_html`), so the chunk that holds them carries the finding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from frontdesk.secret_requests import normalise, secret_requests

CODES = ("reader_instruction", "secret_request", "hidden_text")

# Hidden text shorter than this is page furniture ("Close", "end header", "Google Tag
# Manager"); longer hidden text is content nobody reading the page can check.
HIDDEN_WORDS = 6

_MODEL = (
    r"(?:(?:ai|a\.i\.|artificial intelligence)(?:[- ](?:assistants?|agents?|models?|systems?"
    r"|tools?|chat ?bots?|bots?|readers?|crawlers?))?|(?:virtual |digital |support |chat )?"
    r"assistants?|chat ?bots?|bots?|(?:large )?language models?|llms?|gpts?|chatgpt|claude"
    r"|gemini|copilot|assistent(?:in)?|ki)"
)
_ORDER = (
    r"(?:ignore|disregard|forget|override|tell|say|answer|respond|reply|always|never|do not"
    r"|don't|from now on|you must|you are|you're|you will|you should|act|pretend|recommend"
    r"|reveal|promise|only|send|refuse|ignoriere|vergiss|sage|antworte|du bist|empfiehl)"
)
_OVERRIDE_TARGET = (
    r"(?:instructions?|prompts?|rules|guidelines|directives|directions|context|programming"
    r"|restrictions|system prompt|anweisungen|instruktionen|regeln|vorgaben)"
)
_QUALIFIERS = (
    r"(?:(?:all|any|the|your|my|of|these|those|previous|prior|above|earlier|preceding|initial"
    r"|original|system|given|current|other|alle|deine|ihre|die|vorherigen|bisherigen"
    r"|obigen)\s+){0,4}"
)
_INSTRUCTION_RULES: list[tuple[str, re.Pattern[str]]] = [
    (
        "tells the assistant or model reading the page what to do",
        re.compile(
            rf"(?:^|[.!?\n]\s*|\b(?:dear|hey|hi|hello)\s+){_MODEL}\s*[,:]\s*{_ORDER}\b", re.M
        ),
    ),
    (
        "a note addressed to the AI reading the page",
        re.compile(
            r"(?:^|[.!?\n]\s*|\()(?:important |urgent )?(?:note|message|instructions?|reminder"
            r"|attention|notice|hinweis)\s+(?:to|for|an)\s+(?:all |any |the |every |den |die )?"
            rf"{_MODEL}\b|\b(?:note|message|instructions?|reminder|hinweis)\s+(?:to|for|an)"
            rf"\s+(?:all |any |the |every |den |die )?{_MODEL}\s*[:\-\u2014]"
        ),
    ),
    (
        "addresses the AI reading the page",
        re.compile(
            rf"\b(?:if|when) you(?: are|'re)\s+(?:an?\s+)?{_MODEL}\b"
            rf"|\b{_MODEL} (?:reading|processing|summari[sz]ing|parsing|indexing|crawling"
            r"|that reads?|which reads?|who reads?) (?:this|these|the following)\b"
        ),
    ),
    (
        "tells the reader to ignore its instructions",
        re.compile(
            r"\b(?:ignore|disregard|forget|override|bypass|ignoriere|vergiss|missachte)\s+"
            rf"{_QUALIFIERS}{_OVERRIDE_TARGET}\b"
            r"|\b(?:ignore|disregard|forget) everything\b.{0,40}\b(?:before|above|earlier)\b"
            r"|\b(?:disregard|ignore|override)\b[^.!?\n]{0,30}\b(?:policy|policies|instructions"
            r"|rules|guidelines) (?:above|below|on this page|in this document)\b"
        ),
    ),
    (
        "tells the reader to hide its instructions",
        re.compile(
            r"\b(?:do not|don't|never)\s+(?:mention|reveal|disclose|tell|say|share|acknowledge"
            r"|repeat|admit)\b[^.!?\n]{0,30}\b(?:these|this|the above|the following)"
            r" (?:instructions?|prompts?|rules|notes?|messages?)\b"
        ),
    ),
    (
        "gives the reader a new role",
        re.compile(
            r"\byou(?: are|'re) now (?:an? |the |in )?(?:\w+ ){0,2}(?:assistant|bot|ai|model"
            r"|agent|dan|mode)\b|\bpretend (?:that )?you(?: are|'re)\b|\bdeveloper mode\b"
            r"|\bjailbr(?:eak|oken)\b|\b(?:with no|without any|without) (?:restrictions|filters"
            r"|guardrails|limits)\b|\bdo anything now\b"
        ),
    ),
    (
        "changes how every answer is given",
        re.compile(
            r"\b(?:from now on|you must now|henceforth|from this point on),?\s+(?:you (?:must|will"
            r"|should) )?(?:only )?(?:answer|respond|reply|say|act|behave|pretend|ignore"
            r"|recommend|refuse|tell (?:the |all |every |any )?(?:users?|customers?|callers?"
            r"|people)|speak)\b"
        ),
    ),
    (
        "chat-format markers (system, [INST])",
        re.compile(
            r"\[/?inst\]|<\|?im_start\|?>|<\|?system\|?>|<<sys>>|</?system>"
            r"|\b(?:reveal|print|show|output|repeat|leak) (?:your|the) (?:system prompt"
            r"|hidden instructions|initial instructions)\b"
        ),
    ),
    (
        "an image link that carries data out",
        re.compile(r"!\[[^\]]*\]\(\s*https?://[^)\s]*[?&][^)\s=]*=\s*(?:\{|\[|%7b|\$)"),
    ),
]
# "SYSTEM:" as a speaker, written in capitals (a "System: Windows 11" row is not one).
_SYSTEM_SPEAKER = re.compile(r"(?:^|[.!?]\s+)(?:SYSTEM|\[SYSTEM\]|SYSTEM PROMPT)\s*:", re.M)

_COMMENT = re.compile(r"<!--(.*?)(?:-->|\Z)", re.S)
_HIDDEN_MARK = re.compile(r"^\s*hidden \(([^)]*)\):\s*", re.S)
# Comments that are markers, not hidden prose: a <!-- more --> excerpt mark, a table of
# contents, and linters' directives in documentation sources (markdownlint-disable MD013
# line-length, textlint-enable, vale Microsoft.Passive = NO, cspell:ignore words): a fixed
# keyword, then rule names or words without punctuation. They are not hidden text; the
# instruction and secret-request checks still read them like any other text.
_KNOWN_MARKS = re.compile(
    r"^\s*(?:audience:\s*\w+|more|toc|endtoc|prettier-ignore.*"
    r"|(?:markdownlint|textlint|eslint|lint)-(?:disable|enable|capture|restore|configure-file)"
    r"(?:-next-line|-line|-file)?(?:\s+[\w./-]+)*"
    r"|vale\s+(?:on|off|[\w.]+\s*=\s*\w+)|cspell:\s*(?:disable|enable|ignore|words)[\w\s-]*)\s*$",
    re.I,
)
_TAGGED = re.compile(r"<[a-zA-Z][^>]*\b(?:style|hidden)\b[^>]*>")
# Invisible characters that hide or disguise text. Real pages carry stray ones (Wikipedia puts
# U+FEFF around its coordinates' slash and U+200B before pronunciation guides; math uses
# U+2061; Hebrew and Arabic need directional marks; emoji and Persian need joiners), so only
# these count: Unicode tag characters (they spell invisible ASCII), a directional control in a
# passage with no right-to-left letters (it can only reorder what a reader sees), and
# zero-width characters glued to a Latin letter or digit (splitting or joining words unseen)
# when there are two or more.
_TAG_CHARACTERS = re.compile("[\U000e0000-\U000e007f]")
_DIRECTIONAL = re.compile("[\u202a-\u202e\u2066-\u2069]")
_RIGHT_TO_LEFT = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_GLUED_ZERO_WIDTH = re.compile(
    "(?<=[A-Za-z0-9])[\u200b-\u200d\u2060-\u2064\u180e\ufeff]"
    "|[\u200b-\u200d\u2060-\u2064\u180e\ufeff](?=[A-Za-z0-9])"
)
GLUED_ZERO_WIDTH_MIN = 2


def _disguising(text: str) -> list[re.Match[str]]:
    text = text.removeprefix("\ufeff")  # a byte-order mark
    found = list(_TAG_CHARACTERS.finditer(text))
    if not _RIGHT_TO_LEFT.search(text):
        found += _DIRECTIONAL.finditer(text)
    glued = list(_GLUED_ZERO_WIDTH.finditer(text))
    if len(glued) >= GLUED_ZERO_WIDTH_MIN:
        found += glued
    return sorted(found, key=lambda m: m.start())


@dataclass(frozen=True)
class PassageFinding:
    code: str  # one of CODES
    reason: str  # readable, for the operator
    excerpt: str  # the words that tripped it, as in the passage (to find its line)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "reason": self.reason, "excerpt": self.excerpt}


def screen_passage(text: str) -> list[PassageFinding]:
    """What in one passage (a chunk's text) would make it unsafe to answer from."""
    findings = _hidden(text)
    visible = _COMMENT.sub(" ", text)
    for request in secret_requests(text):
        findings.append(
            PassageFinding(
                "secret_request",
                f"asks the customer for their {request.kind} ({_short(request.excerpt)!r})",
                request.excerpt,
            )
        )
    normal = normalise(text)
    for what, pattern in _INSTRUCTION_RULES:
        match = pattern.search(normal)
        if match:
            reason = f"{what} ({_short(match.group(0))!r})"
            findings.append(PassageFinding("reader_instruction", reason, match.group(0)))
    match = _SYSTEM_SPEAKER.search(visible) or _SYSTEM_SPEAKER.search(text)
    if match:
        excerpt = match.group(0).strip(" .!?\n")
        reason = "a 'SYSTEM:' line addressed to the model"
        findings.append(PassageFinding("reader_instruction", reason, excerpt))
    return _unique(findings)


def _hidden(text: str) -> list[PassageFinding]:
    findings: list[PassageFinding] = []
    invisible = [m.group(0) for m in _disguising(text)]
    if invisible:
        names = sorted({_char_name(c) for c in invisible})
        findings.append(
            PassageFinding(
                "hidden_text",
                f"{len(invisible)} invisible character(s) ({', '.join(names)})",
                _around(text, text.index(invisible[0])),
            )
        )
    # A chunk cut inside a comment starts with its tail ("... -->").
    head, close, _ = text.partition("-->")
    comments = [m.group(1) for m in _COMMENT.finditer(text)]
    if close and "<!--" not in head:
        comments.insert(0, head)
    for comment in comments:
        mark = _HIDDEN_MARK.match(comment)
        body = comment[mark.end() :] if mark else comment
        if _KNOWN_MARKS.match(body) or len(re.findall(r"\w+", body)) < HIDDEN_WORDS:
            continue
        how = f"hidden ({mark.group(1)})" if mark else "an HTML comment"
        words = " ".join(body.split())
        findings.append(PassageFinding("hidden_text", f"{how}: {_short(words)!r}", words))
    if _TAGGED.search(text):
        for why, words in _hidden_inline_html(_COMMENT.sub(" ", text)):
            findings.append(
                PassageFinding("hidden_text", f"hidden ({why}): {_short(words)!r}", words)
            )
    return findings


def _hidden_inline_html(text: str) -> list[tuple[str, str]]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    found = []
    for tag in soup.find_all(True):
        why = hidden_reason(tag)
        if why and not any(hidden_reason(parent) for parent in tag.parents):
            words = " ".join(tag.get_text(" ").split())
            if len(re.findall(r"\w+", words)) >= HIDDEN_WORDS:
                found.append((why, words))
    return found


# ---------------------------------------------------------------------------- HTML

_WHITE = r"(?:white|#fff(?:fff)?\b|#fefefe|rgba?\(\s*255\s*,\s*255\s*,\s*255\b[^)]*\))"


def _style(tag: Any) -> str:
    style = tag.get("style") if hasattr(tag, "get") else None
    return re.sub(r"\s+", "", str(style or "")).lower()


def hidden_reason(tag: Any) -> str | None:
    """Why an HTML element is not shown to a reader, or None. Inline styles and attributes
    only: what a class in a style sheet hides is not seen here."""
    if not hasattr(tag, "attrs"):
        return None
    if tag.has_attr("hidden"):
        return "the hidden attribute"
    style = _style(tag)
    if not style:
        return None
    if re.search(r"(?:^|;)display:none", style):
        return "display:none"
    if re.search(r"(?:^|;)visibility:(?:hidden|collapse)", style):
        return "visibility:hidden"
    if re.search(r"(?:^|;)font-size:0*(?:\.0+)?(?:px|pt|em|rem|%)?(?:;|$|!)", style):
        return "zero font size"
    if re.search(r"(?:^|;)opacity:0*(?:\.0+)?(?:;|$|!)", style):
        return "opacity:0"
    zero = re.search(r"(?:^|;)(?:height|max-height):0(?:px)?(?:;|$|!)", style)
    if zero and "overflow:hidden" in style:
        return "zero height"
    colour = re.search(r"(?:^|;)color:([^;!]+)", style)
    if colour:
        background = _background(tag)
        if background is not None and background == colour.group(1):
            return "text the colour of its background"
        if re.fullmatch(_WHITE, colour.group(1)) and (
            background is None or re.fullmatch(_WHITE, background)
        ):
            return "white text on a white background"
    return None


def _background(tag: Any) -> str | None:
    """The nearest background colour set inline on the element or one around it."""
    node = tag
    while node is not None and hasattr(node, "attrs"):
        found = re.search(r"(?:^|;)background(?:-color)?:([^;!\s]+)", _style(node))
        if found:
            return found.group(1)
        node = node.parent
    return None


def mark_hidden_html(soup: Any) -> None:
    """Before an HTML page becomes Markdown: comments and hidden elements that hold words
    become `<!-- hidden (why): text -->` (which the screen quarantines), short ones
    (a hidden "Close" button, "end header") and hidden navigation are dropped."""
    from bs4.element import Comment, NavigableString

    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        words = " ".join(str(comment).split())
        if len(re.findall(r"\w+", words)) >= HIDDEN_WORDS and not _KNOWN_MARKS.match(words):
            comment.replace_with(NavigableString(f" <!-- hidden (HTML comment): {words} --> "))
        else:
            comment.extract()
    hidden = [(tag, why) for tag in soup.find_all(True) if (why := hidden_reason(tag))]
    for tag, why in hidden:
        if any(hidden_reason(parent) for parent in tag.parents):
            continue  # inside a hidden element: goes with it
        words = " ".join(tag.get_text(" ").split())
        links = sum(len(a.get_text(" ").strip()) for a in tag.find_all("a"))
        if len(re.findall(r"\w+", words)) < HIDDEN_WORDS or links >= 0.5 * len(words):
            tag.decompose()  # page furniture: a hidden menu, button or label
        else:
            tag.replace_with(NavigableString(f" <!-- hidden ({why}): {words} --> "))


# ---------------------------------------------------------------------------- helpers


def _short(text: str, size: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1] + "\u2026"


def _around(text: str, at: int) -> str:
    start = text.rfind("\n", 0, at) + 1
    return text[start : start + 80]


def _char_name(char: str) -> str:
    code = ord(char)
    if 0xE0000 <= code <= 0xE007F:
        return "Unicode tag characters"
    if char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        return "bidirectional controls"
    return f"U+{code:04X}"


def _unique(findings: list[PassageFinding]) -> list[PassageFinding]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for finding in findings:
        if (finding.code, finding.reason) not in seen:
            seen.add((finding.code, finding.reason))
            kept.append(finding)
    return kept
