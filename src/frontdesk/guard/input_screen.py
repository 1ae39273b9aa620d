"""Screening what comes in before anything stores it or sends it to a model: a size check,
personal-data redaction (by the tenant's policy) and a prompt-injection score with the
tenant's action. A doubt is a finding, not a refusal: by default (`flag`) a doubted message is
understood, routed and answered like any other, and the rules see the trigger
`injection_suspected`; `handoff` passes it to a team; only `block` refuses, and only on
strong evidence: a rule fires *and* the model alone scores the message at the policy's
`injection_block_threshold` (`InjectionVerdict.is_strong`). Messages are scored as written and
with their disguises undone (`guard.normalise`).

The same screen reads indirect input: retrieved passages and inbound e-mails are scored for
injected instructions too (`screen_document`, `filter_passages`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.config.settings import GuardSettings, Settings
from frontdesk.guard.injection import InjectionScreen, InjectionVerdict
from frontdesk.guard.pii import (
    PLACEHOLDER,
    NameModel,
    PiiDetector,
    PiiKind,
    Redaction,
    SpacyNames,
    luhn_valid,
)
from frontdesk.guard.pii import redact as redact_text
from frontdesk.interfaces import Screening
from frontdesk.storage.models import Tenant
from frontdesk.types import Entity, Passage

__all__ = ["InjectionDecision", "InputScreen", "luhn_valid", "redact", "stored_entities"]

InjectionDecision = Literal["allow", "block", "flag", "handoff"]

INJECTION = "prompt_injection"
DISGUISED = "injection_disguised"  # found only once base64, look-alikes... were undone
BLOCKED_REASON = "it looks like an attempt to change the assistant's instructions"


def redact(text: str, keep: Callable[[str], bool] = lambda _value: False) -> tuple[str, list[str]]:
    """Replace personal data with placeholders (all kinds); returns the text and the kinds."""
    result = redact_text(text, keep=keep)
    return result.text, [span.kind.value for span in result.spans]


def stored_entities(entities: Sequence[Entity], screening: Screening) -> list[Entity]:
    """Entities found in the customer's words as written, made to agree with the text as
    stored (`screening.text`): spans moved onto it, and an entity that overlaps redacted
    personal data takes the placeholder as its text and value ("[PHONE]"), so its raw value
    is neither stored nor returned. What the policy leaves unredacted keeps its value."""
    spans = sorted(screening.redacted_spans)
    stored = screening.text
    out: list[Entity] = []
    for entity in entities:
        start = _moved(entity.start, spans, end=False)
        end = _moved(entity.end, spans, end=True)
        redacted = any(s < entity.end and e > entity.start for s, e, _ in spans)
        text = stored[start:end]
        out.append(
            entity.model_copy(
                update={"start": start, "end": end, "text": text}
                | ({"value": text} if redacted else {})
            )
        )
    return out


def _moved(position: int, spans: Sequence[tuple[int, int, str]], *, end: bool) -> int:
    """A position in the original text, in the redacted one. Inside a redacted span: the
    placeholder's start (for an entity's start) or end (for its end)."""
    shift = 0
    for start, stop, placeholder in spans:
        if stop <= position:
            shift += len(placeholder) - (stop - start)
        elif start < position:
            return start + shift + (len(placeholder) if end else 0)
        else:
            break
    return position + shift


def _spans(redaction: Redaction) -> list[tuple[int, int, str]]:
    return [(span.start, span.end, PLACEHOLDER[span.kind]) for span in redaction.spans]


class InputScreen:
    """Implements `Guard` for inbound text. Detectors are built once per policy."""

    def __init__(
        self,
        *,
        max_chars: int = 4000,
        policy: GuardSettings | None = None,
        injection: InjectionScreen | None = None,
        name_model: NameModel | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.max_chars = max_chars
        self.settings = settings
        self.policy = policy or (settings.guard if settings else GuardSettings())
        self.injection = injection or InjectionScreen()
        self._name_model = name_model
        self._detectors: dict[tuple[str, ...], PiiDetector] = {}
        self._slugs: dict[str, str] = {}

    async def policy_for(self, session: AsyncSession, tenant_id: str) -> GuardSettings:
        """The tenant's policy: the workspace's, with `tenants.<slug>.guard` on top."""
        if self.settings is None or not self.settings.tenants:
            return self.policy
        slug = self._slugs.get(tenant_id)
        if slug is None:
            tenant = await session.get(Tenant, tenant_id)
            slug = tenant.slug if tenant is not None else ""
            self._slugs[tenant_id] = slug
        return self.settings.guard_for(slug)

    def handoff_team(self, policy: GuardSettings, teams: Sequence[str]) -> str:
        if policy.handoff_team:
            return policy.handoff_team
        return "review" if "review" in teams else next(iter(teams), "review")

    def warm_up(self) -> threading.Thread:
        """Train the injection model in the background, so the first message does not wait
        for it (it would block on the same lock if it arrived first)."""
        thread = threading.Thread(
            target=lambda: self.injection.model, name="injection-model", daemon=True
        )
        thread.start()
        return thread

    def detector(self, policy: GuardSettings) -> PiiDetector:
        kinds = tuple(sorted(policy.redact))
        use_names = policy.names_model and "name" in kinds
        key = (*kinds, "+ner" if use_names else "")
        if key not in self._detectors:
            model = None
            if use_names:
                model = self._name_model or (SpacyNames() if SpacyNames.available() else None)
            self._detectors[key] = PiiDetector({PiiKind(k) for k in kinds}, name_model=model)
        return self._detectors[key]

    def screen(self, text: str, policy: GuardSettings | None = None) -> Screening:
        policy = policy or self.policy
        if len(text) > self.max_chars:
            return Screening(
                text=redact_text(text[: self.max_chars], self.detector(policy)).text,
                findings=["too_long"],
                blocked=True,
                reason=f"message is longer than {self.max_chars} characters",
            )
        redaction = redact_text(text, self.detector(policy))
        findings = redaction.kinds
        # Scored on the original: placeholders must not hide an attack or look like one.
        verdict = self.injection.score(text)
        decision = self.decide(verdict, policy)
        if decision != "allow":
            findings.append(INJECTION)
            findings.extend(f"rule:{name}" for name in verdict.rules)
            if verdict.decoded:
                findings.append(DISGUISED)
        return Screening(
            text=redaction.text,
            findings=findings,
            injection_score=verdict.score,
            blocked=decision == "block",
            reason=BLOCKED_REASON if decision == "block" else None,
            redacted_spans=_spans(redaction),
        )

    def decide(self, verdict: InjectionVerdict, policy: GuardSettings) -> InjectionDecision:
        if not verdict.is_injection(policy.injection_threshold):
            return "allow"
        if policy.injection_action == "block" and not verdict.is_strong(
            policy.injection_block_threshold
        ):
            return "flag"  # a doubt, not strong evidence: never refused
        return policy.injection_action

    def screen_document(self, text: str, policy: GuardSettings | None = None) -> Screening:
        """An inbound e-mail or a document: redacted and scored like a message, never cut."""
        policy = policy or self.policy
        redaction = redact_text(text, self.detector(policy))
        verdict = self.injection.score(text)
        decision = self.decide(verdict, policy)
        injected = decision != "allow"
        findings = redaction.kinds + ([INJECTION] if injected else [])
        return Screening(
            text=redaction.text,
            findings=findings,
            injection_score=verdict.score,
            blocked=decision == "block",
            reason=BLOCKED_REASON if injected else None,
            redacted_spans=_spans(redaction),
        )

    def filter_passages(
        self, passages: Sequence[Passage], policy: GuardSettings | None = None
    ) -> tuple[list[Passage], list[Passage]]:
        """(kept, dropped): passages carrying injected instructions never reach a model."""
        policy = policy or self.policy
        if not policy.screen_passages or not passages:
            return list(passages), []
        kept: list[Passage] = []
        dropped: list[Passage] = []
        for passage in passages:
            # Only rule hits drop a passage: help articles are long and instruction-like
            # ("click Settings, then choose..."), which the message-trained model over-scores;
            # so the model is not asked (it was, and its score was never used).
            (dropped if self.injection.rules_of(passage.text) else kept).append(passage)
        return kept, dropped
