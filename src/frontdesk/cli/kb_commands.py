"""CLI commands for the knowledge base: lint, ingest, search."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the knowledge-base commands to the main app (called once from `frontdesk.cli.main`)."""
