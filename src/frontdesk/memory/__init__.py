"""Conversation memory: what the assistant knows of the conversation so far."""
