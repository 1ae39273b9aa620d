"""CLI commands for understanding: training data checks, training, evaluation."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the NLU commands to the main app (called once from `frontdesk.cli.main`)."""
