"""Decisions: which action a turn takes, from the operator's ordered rules; when to escalate;
and whether a retrained model may replace the current one."""

from frontdesk.policy.ownership import owning_team

__all__ = ["owning_team"]
