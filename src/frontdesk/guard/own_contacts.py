"""The operator's own contact details: the phone numbers, e-mail addresses and link domains
it publishes. Text the assistant writes (replies, hand-off messages) keeps them: a fraud line
in a hand-off message is not a customer's personal data, and a link to the operator's own
site is not an outside link (`OutputScreen`).

They come from `guard.operator_contacts` and, unless its `from_workspace` is false, from what
the workspace publishes already, found once at start-up: the text files of its knowledge/
folder and every message of rules.yaml. Links count by their host (an address with http://,
https:// or www.); a domain written without them ("kestrel-refunds.example" in an article
about phishing) is not taken for the operator's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from frontdesk.config.settings import OperatorContacts
from frontdesk.guard.pii import PiiDetector, PiiKind, normalised

# Files of the knowledge folder read for contacts; others (PDF, Word) are left out, and so is
# anything larger than MAX_FILE_BYTES: this runs at every start-up.
TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".html", ".htm", ".rst", ".yaml", ".yml"})
MAX_FILE_BYTES = 1_000_000

_LINK_HOST = re.compile(
    r"(?:\bhttps?://|(?<![\w.@/-])www\.)([\w-]+(?:\.[\w-]+)*\.[a-z]{2,}|\d{1,3}(?:\.\d{1,3}){3})\b",
    re.I,
)
_DETECTOR = PiiDetector({PiiKind.PHONE, PiiKind.EMAIL})


@dataclass(frozen=True)
class OwnContacts:
    """Normalised: phone numbers as digits, e-mail addresses and domains in lower case."""

    phones: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls, phones: Iterable[str] = (), emails: Iterable[str] = (), domains: Iterable[str] = ()
    ) -> OwnContacts:
        return cls(
            frozenset(normalised(p) for p in phones if p.strip()),
            frozenset(normalised(e) for e in emails if e.strip()),
            frozenset(filter(None, map(_domain, domains))),
        )

    @classmethod
    def configured(cls, settings: OperatorContacts) -> OwnContacts:
        return cls.of(settings.phones, settings.emails, settings.domains)

    def __or__(self, other: OwnContacts) -> OwnContacts:
        return OwnContacts(
            self.phones | other.phones, self.emails | other.emails, self.domains | other.domains
        )

    @property
    def values(self) -> frozenset[str]:
        """Phone numbers and e-mail addresses, compared as `pii.normalised` compares them."""
        return self.phones | self.emails


def find_contacts(texts: Iterable[str]) -> OwnContacts:
    """The phone numbers and e-mail addresses (as the personal-data screen finds them) and the
    hosts of links in `texts`."""
    phones: set[str] = set()
    emails: set[str] = set()
    domains: set[str] = set()
    for text in texts:
        for span in _DETECTOR.find(text):
            (phones if span.kind is PiiKind.PHONE else emails).add(span.text)
        domains.update(match.group(1) for match in _LINK_HOST.finditer(text))
    return OwnContacts.of(phones, emails, domains)


def workspace_contacts(knowledge_dir: Path | None, *configs: object) -> OwnContacts:
    """Contacts in the text files under `knowledge_dir` and in every string of `configs`
    (rules.yaml as loaded: `rules.model_dump()`)."""
    texts: list[str] = []
    if knowledge_dir is not None and knowledge_dir.is_dir():
        for path in sorted(knowledge_dir.rglob("*")):
            if (
                path.suffix.lower() in TEXT_SUFFIXES
                and not any(part.startswith(".") for part in path.relative_to(knowledge_dir).parts)
                and path.is_file()
                and path.stat().st_size <= MAX_FILE_BYTES
            ):
                texts.append(path.read_text("utf-8", errors="replace"))
    for config in configs:
        texts.extend(_strings(config))
    return find_contacts(texts)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _domain(value: str) -> str:
    """ "https://www.Example.com/help" -> "example.com"."""
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", value.strip().lower()).split("/")[0]
    host = host.split(":")[0].strip(".")
    return host[4:] if host.startswith("www.") else host
