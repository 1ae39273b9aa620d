"""The operations assistant assembled from the workspace's settings: its target system (by
registry name) and the change plans stored beside the rest of the tenant's data. Kept out of
orchestration so `frontdesk ops ...` starts without loading the assistant's models."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from frontdesk.config.ops_settings import OpsSettings
from frontdesk.config.settings import Settings
from frontdesk.config.workspace import Workspace
from frontdesk.errors import ConfigError, ConflictError
from frontdesk.ops.plans import ChangePlans
from frontdesk.registry import Registries
from frontdesk.storage.db import Database

DEFAULT_FOLDER = "ops/target"


def _folder_target(*, model: str, root: Path, **_: Any) -> Any:
    from frontdesk.ops.folder import FolderTarget

    return FolderTarget(root / model, name=f"folder:{model}")


def _http_target(*, model: str, settings: OpsSettings, **options: Any) -> Any:
    from frontdesk.ops.http_target import HttpTarget

    token = os.environ.get(settings.token_env) if settings.token_env else None
    return HttpTarget(model, client=options.get("http_client"), token=token,
                      timeout_s=settings.timeout_s, name=f"http:{model}")  # fmt: skip


def register_targets(registries: Registries) -> None:
    """The built-in target systems (orchestration.builtins registers them with the rest)."""
    registries.targets.register("folder", _folder_target)
    registries.targets.register("http", _http_target)


def ops_settings(settings: Settings) -> OpsSettings:
    """`ops:` of frontdesk.yaml."""
    return settings.ops


def target_spec(workspace: Workspace, settings: OpsSettings) -> str | None:
    """The target's registry name: as set, else the workspace's ops/target folder if any."""
    if settings.target:
        return settings.target
    if (workspace.root / DEFAULT_FOLDER / "elements").is_dir():
        return f"folder:{DEFAULT_FOLDER}"
    return None


def build_ops(
    workspace: Workspace,
    settings: OpsSettings,
    db: Database,
    registries: Registries | None = None,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ChangePlans | None:
    spec = target_spec(workspace, settings)
    if spec is None:
        return None
    if registries is None:  # the built-in kinds without importing every other part
        registries = Registries()
        register_targets(registries)
        if spec.partition(":")[0] not in registries.targets.names():
            registries = Registries().load_plugins()  # a plugin's target kind
    try:
        target = registries.targets.create(spec, root=workspace.root, settings=settings)
    except ConfigError as exc:
        raise ConfigError(f"ops.target {spec!r}: {exc.message}") from exc
    return ChangePlans(db, target, max_elements=settings.max_elements, clock=clock,
                       four_eyes=settings.four_eyes)  # fmt: skip


def cached_plans(
    holder: Any, workspace: Workspace, settings: Settings, db: Database
) -> ChangePlans:
    """The workspace's change plans, built on first use and kept on `holder` (an app's
    state, shared by the API and the console); 409 ops_not_configured without a target."""
    plans: ChangePlans | None = getattr(holder, "ops_plans", None)
    if plans is None:
        plans = build_ops(workspace, ops_settings(settings), db)
        if plans is None:
            raise ConflictError(
                "no target system is configured: set ops.target in frontdesk.yaml or add "
                "the workspace's ops/target folder",
                code="ops_not_configured",
            )
        holder.ops_plans = plans
    return plans
