"""Evaluation: scoring retrieval and understanding against golden data."""
