"""A throwaway copy of a workspace to evaluate in: the same settings, rules, training data,
knowledge and trained models, and a database of its own, so the conversations and tickets an
evaluation creates never land in the workspace's real database."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from frontdesk.config.workspace import Workspace

# Settings that would point the copy back at shared state.
_SHARED = ("database_url",)


@contextmanager
def scratch_workspace(workspace: Workspace) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="frontdesk-eval-") as tmp:
        root = Path(tmp) / workspace.root.name
        shutil.copytree(
            workspace.root,
            root,
            ignore=shutil.ignore_patterns(".frontdesk", ".git", "__pycache__"),
        )
        models = workspace.root / ".frontdesk" / "models"
        if models.is_dir():  # no retraining for the copy
            shutil.copytree(models, root / ".frontdesk" / "models")
        config = root / "frontdesk.yaml"
        data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        if isinstance(data, dict):
            for key in _SHARED:
                data.pop(key, None)
            data["auto_migrate"] = True
            config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        shared = [k for k in os.environ if k.startswith("FRONTDESK_DATABASE")]
        saved = {k: os.environ.pop(k) for k in shared}
        try:
            yield root
        finally:
            os.environ.update(saved)
