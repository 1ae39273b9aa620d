"""Models that write answers: the extractive default, and (later) LLM adapters and a router."""
