"""A workspace is a directory: frontdesk.yaml, knowledge/, nlu/, rules.yaml, .frontdesk/ state."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from frontdesk.config.forms import FormsConfig
from frontdesk.config.rules import RulesConfig
from frontdesk.config.rules_checks import clean_loc, expected_fields, fill_lines, team_problems
from frontdesk.config.settings import Settings
from frontdesk.config.yaml_lines import LocatedYaml, load_located_yaml
from frontdesk.errors import ConfigError


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def at(cls, root: Path | str) -> Workspace:
        path = Path(root).expanduser().resolve()
        if not path.is_dir():
            raise ConfigError(
                f"{path}: workspace directory not found (create one with `frontdesk init DIR`)"
            )
        if not (path / "frontdesk.yaml").is_file():
            raise ConfigError(
                f"{path}: not a frontdesk workspace (no frontdesk.yaml); {_hint(path)}"
            )
        return cls(path)

    @property
    def config_file(self) -> Path:
        return self.root / "frontdesk.yaml"

    @property
    def rules_file(self) -> Path:
        return self.root / "rules.yaml"

    @property
    def forms_file(self) -> Path:
        return self.root / "forms.yml"

    @property
    def knowledge_dir(self) -> Path:
        return self.root / "knowledge"

    @property
    def nlu_dir(self) -> Path:
        return self.root / "nlu"

    @property
    def state_dir(self) -> Path:
        """Generated state: the SQLite database, trained models. Safe to delete. Its owner's
        only (0700): it holds customers' messages and the widget key."""
        path = self.root / ".frontdesk"
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.stat().st_mode & 0o077:
            path.chmod(0o700)
        return path


def _hint(path: Path) -> str:
    """What to do instead: name a workspace found just below `path` (`make run` creates
    ./workspace), else say how to name or create one."""
    try:
        below = sorted(p for p in path.iterdir() if (p / "frontdesk.yaml").is_file())
    except OSError:
        below = []
    if below:
        name = below[0].name
        return (
            f"{name}/ below it is one: add `-w {name}` to the command "
            f"or set FRONTDESK_WORKSPACE={below[0]}"
        )
    return (
        "name one with `-w DIR` or FRONTDESK_WORKSPACE=DIR, or create one with `frontdesk init DIR`"
    )


def load_settings(workspace: Workspace) -> Settings:
    located = load_located_yaml(workspace.config_file)
    data = located.data if located.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(f"{located.where(())}: expected a mapping of settings at the top level")
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, located, env_prefix="FRONTDESK_")) from exc


def load_rules(workspace: Workspace) -> RulesConfig:
    located = load_located_yaml(workspace.rules_file)
    data = located.data
    if not isinstance(data, dict):
        raise ConfigError(f"{located.where(())}: expected a mapping with 'teams' and 'rules'")
    try:
        rules = RulesConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, located, model=RulesConfig)) from exc
    fill_lines(rules, located, str(workspace.rules_file))
    problems = team_problems(rules, located)
    if problems:
        raise ConfigError("\n".join(problems))
    return rules


def load_forms(workspace: Workspace) -> FormsConfig:
    """forms.yml (Rasa-style forms, slots and questions); none when the file is absent."""
    path = workspace.forms_file
    if not path.is_file():
        return FormsConfig(source=str(path))
    located = load_located_yaml(path)
    data = located.data if located.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(f"{located.where(())}: expected a mapping with 'forms' and 'slots'")
    try:
        forms = FormsConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, located, model=FormsConfig)) from exc
    forms.source = str(path)
    for loc, line in located.lines.items():
        if len(loc) in (2, 3) and loc[0] in ("forms", "slots", "responses"):
            forms.lines[".".join(str(part) for part in loc)] = line
    problems = forms.problems()
    if problems:
        raise ConfigError("\n".join(problems))
    return forms


def _describe(
    exc: ValidationError,
    located: LocatedYaml,
    env_prefix: str = "",
    model: type[BaseModel] | None = None,
) -> str:
    """One line per error: where (file:line or the variable), the field, what was wrong.
    With `model`, an unknown key also lists the keys allowed there."""
    lines = []
    for error in exc.errors():
        loc: tuple[Any, ...] = tuple(error["loc"])
        if model is not None:
            loc = clean_loc(loc, located, missing=error["type"] == "missing")
        field = ".".join(str(part) for part in loc) or "(top level)"
        env_name = env_prefix + "__".join(str(part) for part in loc).upper()
        where = (
            f"environment variable {env_name}"
            if env_prefix and env_name in os.environ
            else located.where(loc)
        )
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field (check the spelling; see the documented settings)"
            allowed = expected_fields(model, loc) if model is not None else None
            if allowed:
                message = f"unknown field {loc[-1]!r}; expected one of: {', '.join(allowed)}"
        got = error.get("input")
        suffix = f" (got {got!r})" if error["type"] != "missing" and _short(got) else ""
        lines.append(f"{where}: {field}: {message}{suffix}")
    return "\n".join(lines)


def _short(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and len(repr(value)) <= 60
