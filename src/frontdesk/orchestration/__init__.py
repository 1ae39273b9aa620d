"""Orchestration: the Assistant, its fixed list of stages over one Turn, and assembly."""

from frontdesk.orchestration.assistant import Assistant
from frontdesk.orchestration.runtime import Runtime, open_runtime

__all__ = ["Assistant", "Runtime", "open_runtime"]
