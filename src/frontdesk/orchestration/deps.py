"""What the stages need, assembled once per process by `runtime.open_runtime`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from frontdesk.config.rules import RulesConfig
from frontdesk.config.settings import Settings
from frontdesk.guard.input_screen import OutputScreen
from frontdesk.interfaces import ChatModel, EntityExtractor, Guard, IntentClassifier, Retriever
from frontdesk.observability.metrics import Metrics
from frontdesk.policy.rules_router import RuleRouter
from frontdesk.storage.db import Database


@dataclass
class Deps:
    settings: Settings
    rules: RulesConfig
    db: Database
    classifier: IntentClassifier
    extractor: EntityExtractor
    retriever: Retriever
    chat_model: ChatModel
    router: RuleRouter
    input_guard: Guard
    output_guard: OutputScreen
    metrics: Metrics
    clock: Callable[[], datetime]
