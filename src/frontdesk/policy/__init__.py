"""Decisions: which action a turn takes, from the operator's ordered rules; when to escalate;
and whether a retrained model may replace the current one."""
