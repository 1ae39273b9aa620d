"""Screening a reply before the customer sees it.

- Personal data the customer did not give in this conversation is redacted (values compare
  normalised: "+44 20 7946 0321" and "020 7946 0321" are not the same, "JO@X.COM" and
  "jo@x.com" are), except the operator's own contact details (`own_contacts`).
- Links go only to allow-listed domains and the operator's own (and their subdomains); others
  lose their URL.
- Markdown images pointing outside are removed whole (an image URL is fetched by the
  browser without a click, which is how injected prompts exfiltrate data).
- A reply that echoes the system prompt is replaced.
- A promise of money or an action (refund, credit, cancellation) that no tool call in this
  turn granted is replaced by a hand-over sentence, unless the operator's own article says
  it word for word.

Rendering is not done here: the API returns plain text and the web page sets it with
`textContent`; `escape_html` is for any server-side HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from frontdesk.config.settings import GuardSettings
from frontdesk.guard.own_contacts import OwnContacts
from frontdesk.guard.pii import PiiDetector, normalised
from frontdesk.guard.pii import redact as redact_text
from frontdesk.secret_requests import secret_requests

PROMISE_REPLACEMENT = (
    "I can't confirm that myself; a member of our team will confirm what we can do."
)
ECHO_REPLACEMENT = "Sorry, I can't share that. How can I help with your request?"
# In place of a sentence asking the customer for a secret, whoever wrote it (a model, a
# quoted article, a template): the reply never asks for one.
SECRET_REPLACEMENT = (
    "For your security, please don't share card numbers, security codes, passwords, PINs or "
    "one-time codes in this conversation."
)

_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_MD_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HTML_IMG = re.compile(r"<img\b[^>]*>", re.I)
_BARE_URL = re.compile(r"(?<![(\w/])(?:https?://|www\.)[^\s<>\"')\]]+", re.I)

# First-person commitments to pay or act. Article sentences stating policy ("refunds are
# issued within 5 days") are not commitments; the passages check below allows them anyway.
_PROMISES: dict[str, re.Pattern[str]] = {
    "refund": re.compile(
        r"\b(?:i|we)(?:'ve|'ll| have| will| shall| am going to| are going to)?\s+"
        r"(?:just\s+|now\s+|already\s+)?(?:issued?|process(?:ed)?|approved?|refund(?:ed)?"
        r"|reimburs(?:e|ed)|sent|send|arrange(?:d)?|transferr?(?:ed)?|pa(?:y|id))\b[^.!?\n]{0,60}"
        r"\b(?:refund|reimburse|money back|£|\$|€"
        r"|\d+(?:[.,]\d+)? ?(?:eur|usd|gbp|pounds|dollars|euros))",
        re.I,
    ),
    "refund_you": re.compile(
        r"\byou(?:'ll| will)\s+(?:now\s+)?(?:(?:receive|get)\b[^.!?\n]{0,40}?"
        r"(?:\b(?:refund|compensation|credit|voucher|money back)\b|[£$€]\s?\d)"
        r"|be (?:refunded|paid|reimbursed|credited|compensated)\b)",
        re.I,
    ),
    "credit": re.compile(
        r"\b(?:i|we)(?:'ve|'ll| have| will)?\s+(?:credit(?:ed)?|compensat(?:e|ed)|add(?:ed)?)\b"
        r"[^.!?\n]{0,40}\b(?:credit|voucher|compensation|account|£|\$|€)",
        re.I,
    ),
    "cancel": re.compile(
        r"\b(?:i|we)(?:'ve|'ll| have| will)?\s+(?:cancel(?:led|ed)?|stopp?(?:ed)?|deleted?"
        r"|closed?|chang(?:e|ed)|updated?|reschedul(?:e|ed)|redirect(?:ed)?)\s+(?:your|the)\b",
        re.I,
    ),
}
# Which granted tool names cover which promise: a tool whose name contains the word.
_TOOL_WORDS: dict[str, tuple[str, ...]] = {
    "refund": ("refund", "reimburse", "payout"),
    "refund_you": ("refund", "reimburse", "payout", "credit", "compensat", "voucher"),
    "credit": ("credit", "compensat", "voucher"),
    "cancel": ("cancel", "change", "update", "reschedule", "redirect", "close", "delete"),
}
_SENTENCE = re.compile(r"\n+|[^.!?\n]*[.!?]?")  # line breaks are kept as they are


def escape_html(text: str) -> str:
    return html.escape(text, quote=True)


@dataclass
class ReplyCheck:
    text: str
    findings: list[str] = field(default_factory=list)


class OutputScreen:
    """`workspace_contacts`: the operator's contact details found in the workspace at start-up
    (`own_contacts.workspace_contacts`), kept where a policy's `from_workspace` is true."""

    def __init__(
        self, policy: GuardSettings | None = None, *, workspace_contacts: OwnContacts | None = None
    ) -> None:
        self.policy = policy or GuardSettings()
        self.workspace_contacts = workspace_contacts or OwnContacts()
        self._detector = PiiDetector()

    def screen_reply(self, reply: str, given: list[str]) -> str:
        """Only the personal-data check (the first version's interface)."""
        return self._pii(reply, given, [], self.own_contacts(self.policy))

    def own_contacts(self, policy: GuardSettings) -> OwnContacts:
        """The operator's contact details under `policy`: configured, and the workspace's."""
        configured = policy.operator_contacts
        own = OwnContacts.configured(configured)
        return own | self.workspace_contacts if configured.from_workspace else own

    def check(
        self,
        reply: str,
        *,
        given: Sequence[str],
        passages: Sequence[str] = (),
        policy: GuardSettings | None = None,
        protected: Sequence[str] = (),
        granted_tools: Collection[str] = (),
    ) -> ReplyCheck:
        """`given`: what the customer wrote in this conversation; `passages`: the operator's
        articles in this turn; `protected`: texts never to echo (system prompts);
        `granted_tools`: names of the tools that ran successfully in this turn."""
        policy = policy or self.policy
        findings: list[str] = []
        if _echoes(reply, protected, allowed=[*passages, *given]):
            return ReplyCheck(ECHO_REPLACEMENT, ["system_prompt_echo"])
        own = self.own_contacts(policy)
        text = self._pii(reply, list(given), list(passages), own)
        if text != reply:
            findings.append("pii_redacted")
        domains = [*policy.allowed_link_domains, *own.domains]
        text, removed = _strip_images(text, domains)
        if removed:
            findings.append("external_image")
        text, removed = _strip_links(text, domains)
        if removed:
            findings.append("link_not_allowed")
        text, kinds = _ungranted_promises(text, passages, granted_tools)
        findings.extend(f"ungranted_promise:{kind}" for kind in kinds)
        text, kinds = _secret_requests(text)
        findings.extend(f"secret_request:{kind}" for kind in kinds)
        return ReplyCheck(text, findings)

    def _pii(self, reply: str, given: list[str], passages: list[str], own: OwnContacts) -> str:
        allowed = {
            normalised(span.text) for text in given + passages for span in self._detector.find(text)
        } | own.values
        return redact_text(
            reply, self._detector, keep=lambda value: normalised(value) in allowed
        ).text


def domain_allowed(url: str, allowed: Collection[str]) -> bool:
    if url.startswith(("#", "/")) and not url.startswith("//"):
        return True  # relative to the page that shows it
    target = url if "://" in url or url.startswith("//") else f"https://{url}"
    try:
        host = (urlsplit(target).hostname or "").lower().rstrip(".")
    except ValueError:
        return False
    if not host:
        return False
    for domain in allowed:
        domain = domain.lower().strip().lstrip(".")
        if host == domain or host.endswith("." + domain):
            return True
    return False


def _strip_images(text: str, allowed: Collection[str]) -> tuple[str, bool]:
    removed = False

    def image(match: re.Match[str]) -> str:
        nonlocal removed
        url = match.group(2)
        if url.startswith(("http:", "https:", "//", "data:")) and not domain_allowed(url, allowed):
            removed = True
            return ""
        return match.group(0)

    text = _MD_IMAGE.sub(image, text)
    if _HTML_IMG.search(text):
        removed = True
        text = _HTML_IMG.sub("", text)
    return text, removed


def _strip_links(text: str, allowed: Collection[str]) -> tuple[str, bool]:
    removed = False

    def link(match: re.Match[str]) -> str:
        nonlocal removed
        if domain_allowed(match.group(2), allowed):
            return match.group(0)
        removed = True
        return match.group(1)

    def bare(match: re.Match[str]) -> str:
        nonlocal removed
        url = match.group(0).rstrip(".,;:!?")
        if domain_allowed(url, allowed):
            return match.group(0)
        removed = True
        return "[link removed]" + match.group(0)[len(url) :]

    text = _MD_LINK.sub(link, text)
    return _BARE_URL.sub(bare, text), removed


def _shingles(text: str, size: int = 8) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + size]) for i in range(max(0, len(words) - size + 1))}


def _echoes(reply: str, protected: Sequence[str], allowed: Sequence[str] = ()) -> bool:
    """Three runs of eight words from a protected text, or a fifth of its runs. Runs that
    also occur in the passages or the customer's words do not count (prompts embed both)."""
    reply_shingles = _shingles(reply)
    for text in allowed:
        reply_shingles -= _shingles(text)
    if not reply_shingles:
        return False
    for text in protected:
        shingles = _shingles(text)
        if not shingles:
            continue
        shared = len(shingles & reply_shingles)
        if shared >= 3 or shared >= max(1, len(shingles) // 5):
            return True
    return False


def _ungranted_promises(
    text: str, passages: Sequence[str], granted_tools: Collection[str]
) -> tuple[str, list[str]]:
    granted = " ".join(granted_tools).lower()
    sources = " ".join(re.sub(r"\s+", " ", p.lower()) for p in passages)
    kinds: list[str] = []
    out: list[str] = []
    replaced = False
    for match in _SENTENCE.finditer(text):
        sentence = match.group(0)
        if not sentence:
            continue
        kind = next((k for k, p in _PROMISES.items() if p.search(sentence)), None)
        if kind is not None:
            covered = any(word in granted for word in _TOOL_WORDS[kind])
            quoted = re.sub(r"\s+", " ", sentence.strip().lower()) in sources
            if not covered and not quoted:
                kinds.append(kind)
                if not replaced:
                    lead = sentence[: len(sentence) - len(sentence.lstrip())]
                    out.append(lead + PROMISE_REPLACEMENT)
                    replaced = True
                continue
        out.append(sentence)
    return "".join(out), sorted(set(kinds))


def _secret_requests(text: str) -> tuple[str, list[str]]:
    """Sentences asking the customer for a card number, security code, password, PIN or
    one-time code give way to SECRET_REPLACEMENT (once), even when an article says them."""
    kinds: list[str] = []
    out: list[str] = []
    for match in _SENTENCE.finditer(text):
        sentence = match.group(0)
        found = secret_requests(sentence) if sentence.strip() else []
        if not found:
            out.append(sentence)
            continue
        if not kinds:
            lead = sentence[: len(sentence) - len(sentence.lstrip())]
            out.append(lead + SECRET_REPLACEMENT)
        kinds.extend(request.kind for request in found)
    return "".join(out), sorted(set(kinds))
