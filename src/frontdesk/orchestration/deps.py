"""What the stages need, assembled once per process by `runtime.open_runtime`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from frontdesk.config.forms import FormsConfig
from frontdesk.config.rules import RulesConfig
from frontdesk.config.settings import Settings
from frontdesk.guard.input_screen import InputScreen
from frontdesk.guard.output_screen import OutputScreen
from frontdesk.handoff.desk import Desk
from frontdesk.interfaces import EntityExtractor, IntentClassifier, Retriever
from frontdesk.knowledge.answerability import AnswerabilityModel
from frontdesk.llm.service import LlmService
from frontdesk.observability.metrics import Metrics
from frontdesk.orchestration.batching import TurnBatching
from frontdesk.policy.rules_router import RuleRouter
from frontdesk.storage.db import Database
from frontdesk.tools.registry import ToolRegistry


@dataclass
class Deps:
    settings: Settings
    rules: RulesConfig
    db: Database
    classifier: IntentClassifier
    extractor: EntityExtractor
    retriever: Retriever
    llm: LlmService
    router: RuleRouter
    input_guard: InputScreen
    output_guard: OutputScreen
    metrics: Metrics
    clock: Callable[[], datetime]
    tools: ToolRegistry | None = None
    desk: Desk | None = None  # hand-off: tickets, live console events, webhooks
    # Whether the knowledge base answers a question; None: off (any passage counts).
    answerability: AnswerabilityModel | None = None
    forms: FormsConfig | None = None  # forms.yml; None: no dialogue state is tracked
    # Concurrent turns' model work in small batches (performance.batching); None: off.
    batching: TurnBatching | None = None
