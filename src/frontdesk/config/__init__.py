"""Workspace configuration: files, settings, rules. Built by a factory, never at import."""

from frontdesk.config.rules import RuleCondition, RuleConfig, RulesConfig, RuleThen, TeamConfig
from frontdesk.config.settings import Settings
from frontdesk.config.workspace import Workspace, load_rules, load_settings

__all__ = [
    "RuleCondition",
    "RuleConfig",
    "RuleThen",
    "RulesConfig",
    "Settings",
    "TeamConfig",
    "Workspace",
    "load_rules",
    "load_settings",
]
