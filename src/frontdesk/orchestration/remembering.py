"""Memory in the pipeline: the message's language, the customer profile and the running
summary. The memory capability (frontdesk.memory) holds the logic; these are its hooks:

- `load_memory` (from `load_context`): detect the language of the message; the profile
  (read with the conversation by the Assistant, else one query by the conversation's
  customer_ref) into `turn.profile`.
- `remember` (a stage after `screen_output`): greet a known name on a new conversation's
  first reply, update the running summary (the `summarise` model when configured, else
  extractive), record the language on the conversation and what the turn taught on the
  profile (one write). Never fails a turn: a problem here is logged, the reply stands.
- `customer_facts`, `handoff_memory`, `no_answer_reply`, `localised_when`: what the rules,
  the hand-off and the fixed replies take from the memory.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.config.reply_languages import ReplyKind, reply_for
from frontdesk.config.reply_languages import localise_when as _localise_when
from frontdesk.config.settings import Settings
from frontdesk.handoff.summary import outcome
from frontdesk.interfaces import ChatMessage, ChatRequest
from frontdesk.llm.service import LlmService
from frontdesk.memory.profile import ProfileView, given_name, load_profile, save_profile, view_of
from frontdesk.memory.summary import TurnNotes, estimate_tokens, update_summary
from frontdesk.nlu.language import detect_language
from frontdesk.orchestration.deps import Deps
from frontdesk.orchestration.turn import Turn
from frontdesk.policy.rules_router import CustomerFacts
from frontdesk.storage.models import CustomerProfile
from frontdesk.text import NAME_MARK, render_name
from frontdesk.types import Action

log = logging.getLogger(__name__)

EXTRACTIVE = "extractive"
SUMMARY_INSTRUCTIONS = (
    "You keep a running summary of a customer support conversation for the human agent who "
    "may take it over. Update the summary with the latest exchange. Keep: what the customer "
    "wants (each request), facts they gave (order numbers, amounts, dates), and what was done "
    "(answers and their sources, tool results, hand-offs). Plain text, no greeting, at most "
    "{words} words. Reply with the summary only."
)
_GREETING_WORD = re.compile(
    r"^(hello|hi|hey|hola|hallo|bonjour|salut|ciao|olá|ola|hoi)(?=[!,.\s])", re.IGNORECASE
)


def warm_up(deps: Deps) -> None:
    """Load the language detector's model now (a second or more), not on the first message."""
    detection = deps.rules.language_detection
    detect_language("warm up the language model", languages=detection.languages, min_words=1)


async def load_memory(turn: Turn, deps: Deps) -> None:
    detection = deps.rules.language_detection
    turn.language = detect_language(
        turn.message.text,
        languages=detection.languages,
        min_words=detection.min_words,
        min_confidence=detection.min_confidence,
    )
    ref = turn.conversation.customer_ref
    if not ref or not deps.settings.memory.profiles:
        turn.profile_row = None
        return
    if not turn.profile_read:  # read with the conversation, by the Assistant
        turn.profile_row = await load_profile(turn.session, ref)
    turn.profile = view_of(turn.profile_row, ref, new_conversation=_new_conversation(turn))


def _new_conversation(turn: Turn) -> bool:
    """This turn is the conversation's first (nothing remembered of it yet)."""
    return turn.conversation.summary is None


def customer_facts(turn: Turn) -> CustomerFacts | None:
    """The profile as the rules see it (`known_customer`, `profile:`)."""
    profile = turn.profile
    if profile is None:
        return None
    return CustomerFacts(
        contacts=profile.contacts,
        known=profile.known,
        named=profile.display_name is not None or given_name(turn.message.text) is not None,
        facts=frozenset(profile.facts) | {e.type for e in turn.entities},
    )


async def remember(turn: Turn, deps: Deps) -> None:
    try:
        await _remember(turn, deps)
    except Exception:  # memory is a help, never the reason a customer gets no reply
        log.exception("could not update the memory of conversation %s", turn.conversation.id)


async def _remember(turn: Turn, deps: Deps) -> None:
    memory = deps.settings.memory
    new = _new_conversation(turn)
    # From the words as written (redaction hides names), and only where names are remembered.
    name = given_name(turn.message.text) if memory.remember_names else None
    notes = turn_notes(turn, deps)  # before the greeting: the summary holds no name
    reply = turn.reply_text
    if new and not turn.silent and memory.greet_by_name and turn.sink is None:
        known = turn.profile.display_name if turn.profile is not None else None
        if known and not name:  # stored with a reference: the name stays on the profile
            turn.stored_reply = greet(turn.reply_text, NAME_MARK, turn.language)
            turn.reply_text = render_name(turn.stored_reply, known)
    summary, writer = await write_summary(
        deps.llm, turn.conversation.summary, notes, customer_said=turn.text,
        reply=reply, budget_tokens=memory.summary_tokens,
        tenant_id=turn.message.tenant_id,
    )  # fmt: skip
    turn.conversation.summary = summary
    if writer != EXTRACTIVE:
        turn.decision["summary_model"] = writer
    if turn.language:
        turn.conversation.language = turn.language
    ref = turn.conversation.customer_ref
    if ref and memory.profiles:
        facts = {
            e.type: str(e.text)
            for e in turn.entities
            if e.type in memory.profile_facts and not str(e.text).startswith("[")
        }
        await save_profile(
            turn.session, turn.profile_row, ref, now=turn.now,
            channel=turn.message.channel.value, new_conversation=new, name=name,
            language=turn.language, facts=facts,
        )  # fmt: skip


def greet(reply: str, name: str, language: str | None) -> str:
    """The reply, greeting the customer by name: "Hello! ..." becomes "Hello Maria! ..."."""
    if match := _GREETING_WORD.match(reply):
        return f"{reply[: match.end()]} {name}{reply[match.end() :]}"
    template = reply_for(language, "greeting") or "Hi {name}!"
    return f"{template.format(name=name)} {reply}".strip()


async def name_to_show(
    session: AsyncSession, customer_ref: str | None, settings: Settings
) -> str | None:
    """The name a stored reply's reference renders as: the profile's, while there is one and
    names are remembered; else None (the reference renders as nothing)."""
    memory = settings.memory
    if not customer_ref or not memory.profiles or not memory.remember_names:
        return None
    return profile_name(await load_profile(session, customer_ref), settings)


def profile_name(profile: CustomerProfile | None, settings: Settings) -> str | None:
    """`name_to_show` for a profile already read."""
    memory = settings.memory
    if profile is None or not memory.profiles or not memory.remember_names:
        return None
    return profile.display_name


def turn_notes(turn: Turn, deps: Deps) -> TurnNotes:
    """What this turn adds to the running summary."""
    intent = turn.intent.name if turn.intent and not turn.intent.out_of_scope else None
    given: dict[str, str] = {}
    for entity in turn.entities:
        value = entity.value
        if isinstance(value, dict):
            value = value.get("amount", entity.text)
        given[entity.type] = str(value if value is not None else entity.text)
    route = turn.route.model_dump(mode="json") if turn.route else {}
    citations = [c.model_dump(mode="json") for c in turn.citations]
    done = outcome(route, turn.decision, citations)
    if turn.route is not None and turn.route.action is Action.CLARIFY:
        done = f"asked: {turn.reply_text[:80]}"
    if turn.ticket_id and "handed off" in done:
        done += f" (ticket {turn.ticket_id[:8].upper()})"
    if turn.language and turn.language not in ("en", None):
        done = f"[{turn.language}] {done}" if done else f"wrote in {turn.language}"
    return TurnNotes(intent=intent, given=given, outcomes=[done] if done else [])


async def write_summary(
    llm: LlmService,
    previous: str | None,
    notes: TurnNotes,
    *,
    customer_said: str,
    reply: str,
    budget_tokens: int,
    tenant_id: str,
) -> tuple[str, str]:
    """The new running summary and who wrote it: the `summarise` model when one is
    configured (through the router: retries, breaker, budgets), else or on its failure the
    extractive update."""
    if llm.router.chain("summarise"):
        words = max(10, budget_tokens * 3 // 4)
        messages = [
            ChatMessage(role="system", content=SUMMARY_INSTRUCTIONS.format(words=words)),
            ChatMessage(
                role="user",
                content=f"Summary so far:\n{previous or '(none)'}\n\nCustomer: {customer_said}"
                f"\nAssistant: {reply}\n\nThis turn, as notes:\n"
                f"{update_summary(None, notes, budget_tokens)}",
            ),
        ]
        request = ChatRequest(
            messages=messages, purpose="summarise", tenant_id=tenant_id, max_tokens=budget_tokens
        )
        try:
            routed = await llm.router.complete(request)
        except Exception as exc:  # no model could: the extractive summary, as without one
            log.warning("summarise model unavailable, extractive summary: %s", exc)
        else:
            text = " ".join(routed.result.text.split())
            if text:
                if estimate_tokens(text) > budget_tokens:
                    text = text[: budget_tokens * 4].rsplit(" ", 1)[0]
                return text, routed.model
    return update_summary(previous, notes, budget_tokens), EXTRACTIVE


def handoff_memory(turn: Turn, deps: Deps) -> dict[str, Any]:
    """What a hand-off summary takes from the memory: the running summary with this turn,
    and the customer profile."""
    memory: dict[str, Any] = {
        "conversation_summary": update_summary(
            turn.conversation.summary, turn_notes(turn, deps), deps.settings.memory.summary_tokens
        ),
        "language": turn.language,
    }
    if turn.profile is not None:
        memory["customer"] = _brief(turn.profile, turn)
    return memory


def _brief(profile: ProfileView, turn: Turn) -> dict[str, Any]:
    brief = profile.brief()
    brief["named"] = brief["named"] or given_name(turn.message.text) is not None
    return brief


def no_answer_reply(turn: Turn, deps: Deps) -> str:
    """The reply when the knowledge base has no answer, in the customer's language."""
    return (
        reply_for(turn.language, "no_answer", deps.rules.languages.replies)
        or deps.settings.assistant.no_answer_reply
    )


def localised_when(turn: Turn, deps: Deps, template: str, when: str) -> str:
    """The hand-off's reply time in the language of its template, when the template is one
    of the table's (or rules.yaml's) for the customer's language."""
    overrides = deps.rules.languages.replies
    kinds: tuple[ReplyKind, ...] = ("handoff", "unanswerable")
    for kind in kinds:
        if template == reply_for(turn.language, kind, overrides):
            return _localise_when(when, turn.language)
    return when
