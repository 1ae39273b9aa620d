"""Decisions: which action a turn takes, from the operator's ordered rules."""
