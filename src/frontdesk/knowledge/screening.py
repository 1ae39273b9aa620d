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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from frontdesk.knowledge.chunking import fence_step, strip_comments
from frontdesk.secret_requests import SecretRequest, normalise, secret_requests

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
# A maintainer's note about the source, not text for its readers: it names a generator, a
# file to edit or a licence, or asks editors not to touch a generated block ("autogenerated
# options start - DO NOT EDIT - instead edit fs.RegInfo in backend/s3/s3.go", "Docs generated
# by help.go", "TODO: ..."). Chunking takes every comment out of the passage, so such a note
# reaches no model and holds nothing back; a comment with instructions or a request for a
# secret is a finding whatever else it says.
_SOURCE_NOTE = re.compile(
    r"\b(?:auto-?generated|generated (?:by|from|with|using)|(?:do not|don't|never) (?:edit"
    r"|modify|change|remove|delete|touch|translate)|instead edit|(?:re)?generate[sd]?"
    r"|rebuild|todo|fixme|xxx|copyright|licen[cs]ed? under|spdx-license-identifier)\b|\u00a9"
    r"|(?<![/\w.:-])(?:[\w.-]+/)*[\w-]+\.(?:go|py|js|mjs|ts|tsx|rb|rs|java|kt|c|h|cc|cpp|cs"
    r"|php|sh|ps1|ya?ml|json|toml|ini|cfg|tmpl|j2|mdx?|rst)\b",
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
    hidden: bool = False  # found in a comment chunking took out of the passage

    def as_dict(self) -> dict[str, Any]:
        found = {"code": self.code, "reason": self.reason, "excerpt": self.excerpt}
        return {**found, "hidden": True} if self.hidden else found


def screen_passage(text: str, hidden: Sequence[str] = ()) -> list[PassageFinding]:
    """What in one passage would make it unsafe to answer from. `text`: the passage as
    indexed; `hidden`: the comments chunking took out of it (ChunkDraft.hidden). Comments still
    in `text` (a passage stored before chunking took them out) are read as hidden too."""
    visible, inline = strip_comments(text)
    comments = [*hidden, *inline]
    findings = _hidden(visible, comments)
    prose, code = _prose_and_code(visible)
    requests = [(r, False) for r in secret_requests(prose) + _fenced_requests(code)]
    requests += [(r, True) for comment in comments for r in secret_requests(comment)]
    for request, in_comment in requests:
        reason = f"asks the customer for their {request.kind} ({_short(request.excerpt)!r})"
        findings.append(PassageFinding("secret_request", reason, request.excerpt, in_comment))
    shown = normalise(visible)
    normal = normalise("\n".join([visible, *comments]))
    for what, pattern in _INSTRUCTION_RULES:
        match = pattern.search(normal)
        if match:
            reason = f"{what} ({_short(match.group(0))!r})"
            in_comment = match.group(0) not in shown
            findings.append(
                PassageFinding("reader_instruction", reason, match.group(0), in_comment)
            )
    for where, in_comment in [(visible, False), *((c, True) for c in comments)]:
        match = _SYSTEM_SPEAKER.search(where)
        if match:
            excerpt = match.group(0).strip(" .!?\n")
            reason = "a 'SYSTEM:' line addressed to the model"
            findings.append(PassageFinding("reader_instruction", reason, excerpt, in_comment))
            break
    return _unique(findings)


def _prose_and_code(text: str) -> tuple[str, str]:
    """The passage's prose (fenced lines blanked, so paragraphs end there) and the lines
    inside its code fences (the fence lines themselves left out: ```text is no verb)."""
    prose: list[str] = []
    code: list[str] = []
    fence: tuple[str, int] | None = None
    for line in text.split("\n"):
        opening = fence is None
        fence, fenced = fence_step(line, fence)
        prose.append("" if fenced else line)
        if fenced and not (opening or fence is None):
            code.append(line)
    return "\n".join(prose), "\n".join(code)


# A line of a CLI's option list ("  --sftp-key-file string   Path to PEM-encoded private key
# file", "-p, --password string"): it describes an option.
_OPTION_LINE = re.compile(r"^\s*(?:-\w,?\s+)?--?\w[\w.-]*")
# Inside code a request is an imperative to the reader to hand a secret over, first in its
# clause ("reply with your card number", "Support: please send us your password"); an
# option's description ("Email for login", "Upload chunk size") or a CLI's prompt ("Confirm
# the password:", "Get AWS credentials from runtime") is not one.
_IMPERATIVE = re.compile(
    r"^(?:(?:please|kindly|now|then|just|and|so|also|first)\s+)*(?:(?:reply|respond|write back"
    r"|answer)\b.*\bwith\b|(?:send|e-?mail|text|message|dm|forward|whatsapp|tell|give|share"
    r"|disclose|hand over|read out|read back|read aloud|read|spell out|say|repeat"
    r"|let (?:us|me) know)\b)"
)


def _fenced_requests(code: str) -> list[SecretRequest]:
    found = []
    for line in code.split("\n"):
        if not line.strip() or _OPTION_LINE.match(line):
            continue
        for request in secret_requests(line):
            if _IMPERATIVE.match(request.excerpt):
                found.append(request)
    return found


def _hidden(text: str, comments: Sequence[str]) -> list[PassageFinding]:
    findings: list[PassageFinding] = []
    seen = "\n".join([text, *comments])
    invisible = [m.group(0) for m in _disguising(seen)]
    if invisible:
        names = sorted({_char_name(c) for c in invisible})
        at = seen.index(invisible[0])
        findings.append(
            PassageFinding(
                "hidden_text",
                f"{len(invisible)} invisible character(s) ({', '.join(names)})",
                _around(seen, at),
                at > len(text),
            )
        )
    for comment in comments:
        mark = _HIDDEN_MARK.match(comment)
        body = comment[mark.end() :] if mark else comment
        if _KNOWN_MARKS.match(body) or len(re.findall(r"\w+", body)) < HIDDEN_WORDS:
            continue
        is_comment = mark is None or mark.group(1) == "HTML comment"
        if is_comment and _SOURCE_NOTE.search(body):
            continue  # a maintainer's note (its instructions, if any, are caught below)
        how = f"hidden ({mark.group(1)})" if mark else "an HTML comment"
        words = " ".join(body.split())
        findings.append(PassageFinding("hidden_text", f"{how}: {_short(words)!r}", words, True))
    if _TAGGED.search(text):
        for why, words in _hidden_inline_html(text):
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
