"""The operations assistant assembled from the workspace's settings: its target system (by
registry name) and the change plans stored beside the rest of the tenant's data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from frontdesk.config.ops_settings import OpsSettings
from frontdesk.config.settings import Settings
from frontdesk.config.workspace import Workspace
from frontdesk.errors import ConfigError
from frontdesk.ops.plans import ChangePlans
from frontdesk.registry import Registries
from frontdesk.storage.db import Database

DEFAULT_FOLDER = "ops/target"


def ops_settings(settings: Settings) -> OpsSettings:
    """`ops:` of frontdesk.yaml; its defaults where the settings carry none."""
    found = getattr(settings, "ops", None)
    return found if isinstance(found, OpsSettings) else OpsSettings()


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
    registries: Registries,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ChangePlans | None:
    spec = target_spec(workspace, settings)
    if spec is None:
        return None
    try:
        target = registries.targets.create(spec, root=workspace.root, settings=settings)
    except ConfigError as exc:
        raise ConfigError(f"ops.target {spec!r}: {exc.message}") from exc
    return ChangePlans(db, target, max_elements=settings.max_elements, clock=clock)
