"""Settings of the operations assistant (`ops:` in frontdesk.yaml)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class OpsSettings(BaseModel):
    """Which running system the operations assistant reads and changes, and how far one bulk
    change may reach. `target` names a target system by registry name: `folder:PATH` (a
    folder of JSON/YAML element files, relative to the workspace) or `http:URL` (a REST API;
    its bearer token from the environment variable `token_env`). Unset: the workspace's
    `ops/target` folder when there is one (the demo ships Kestrel's sorting network), else
    no target (the /v1/ops routes answer 409 `ops_not_configured`)."""

    model_config = ConfigDict(extra="forbid")
    target: str | None = None
    token_env: str | None = None
    timeout_s: float = Field(default=10.0, gt=0.0, le=120.0)
    # A plan whose selector matches more elements than this is refused (selector_too_broad).
    max_elements: int = Field(default=40, ge=1)
    # Four eyes: whoever made a plan cannot approve it (409 approval_needs_another_person).
    four_eyes: bool = True
