"""A target system kept as a folder of JSON/YAML files, under version.

    elements/<kind>/<id>.yaml|.yml|.json   one element each (the kind is the folder's name,
                                           singular or plural: depots/ holds kind "depot")
    schemas/<kind>.schema.json             the JSON Schema of each kind
    events/*.jsonl                         {"ts", "element", "severity", "code", "message"}
    metrics/*.jsonl                        {"ts", "element", <name>: <number>, ...}
    .history/                              written by apply: HEAD (the version number),
                                           v<N>/manifest.json and v<N>/before/<path> (the exact
                                           bytes version N replaced), audit.jsonl

Every apply writes all files of a change set or none (staged next to their targets, renamed
in; a failure puts back what was renamed), under a lock file, as one numbered version whose
snapshot holds the bytes it replaced: rollback restores them byte for byte. A new element
(a change with a `kind`) gets a file in its kind's folder, with the suffix most of that
folder's files have (`<kind>s/<id>.yaml` for a kind with no folder yet); its version records
that the file did not exist, so rolling it back removes the file again.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from frontdesk.errors import ConfigError, ConflictError, InvalidRequestError, NotFoundError
from frontdesk.interfaces import (
    SEVERITIES,
    AppliedVersion,
    ElementChange,
    MetricPoint,
    Severity,
    TargetElement,
    TargetEvent,
)
from frontdesk.ops.validation import check_schema, validate_configs

SUFFIXES = (".yaml", ".yml", ".json")
HISTORY = ".history"
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump_element(filename: str, config: dict[str, Any]) -> bytes:
    """How an element is written: block YAML in the file's key order (lists of scalars on
    one line), or JSON indented by two; the demo's files were written by this, so a diff
    shows only the lines a change touches."""
    if filename.endswith(".json"):
        return (json.dumps(config, indent=2, ensure_ascii=False) + "\n").encode()
    text = yaml.dump(config, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=None, width=100)  # fmt: skip
    return str(text).encode()


def _load(path: Path, data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data) if path.suffix == ".json" else yaml.load(data, Loader=_Loader)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix[1:].upper()} ({exc})") from exc
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: an element file holds one mapping")
    return value


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _kind_of(folder: str) -> str:
    return folder[:-1] if folder.endswith("s") else folder


def _time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class _Stored:
    path: Path
    kind: str
    data: bytes
    config: dict[str, Any]


class FolderTarget:
    """A `TargetSystem` over a folder (see the module's docstring)."""

    def __init__(self, root: Path | str, *, name: str = "folder") -> None:
        self.root = Path(root)
        self.name = name
        self._thread_lock = threading.Lock()
        self._cache: dict[Path, tuple[int, int, _Stored]] = {}
        self._log_cache: dict[Path, tuple[int, int, list[dict[str, Any]]]] = {}
        self._schema_cache: dict[Path, tuple[int, int, dict[str, Any]]] = {}
        if not (self.root / "elements").is_dir():
            raise ConfigError(
                f"{self.root}: not a target folder (it needs elements/<kind>/<id>.yaml files)"
            )

    # Reading -------------------------------------------------------------------------

    def _scan(self) -> dict[str, _Stored]:
        found: dict[str, _Stored] = {}
        for folder in sorted(p for p in (self.root / "elements").iterdir() if p.is_dir()):
            for path in sorted(folder.iterdir()):
                if path.suffix not in SUFFIXES or not path.is_file():
                    continue
                stat = path.stat()
                cached = self._cache.get(path)
                if cached and cached[:2] == (stat.st_mtime_ns, stat.st_size):
                    stored = cached[2]
                else:
                    data = path.read_bytes()
                    stored = _Stored(path, _kind_of(folder.name), data, _load(path, data))
                    self._cache[path] = (stat.st_mtime_ns, stat.st_size, stored)
                if path.stem in found:
                    raise ConfigError(f"{path}: element id {path.stem!r} is used twice")
                found[path.stem] = stored
        return found

    def _schemas(self) -> dict[str, dict[str, Any]]:
        schemas: dict[str, dict[str, Any]] = {}
        folder = self.root / "schemas"
        for path in sorted(folder.glob("*.schema.json")) if folder.is_dir() else []:
            kind = path.name.removesuffix(".schema.json")
            stat = path.stat()
            cached = self._schema_cache.get(path)
            if cached and cached[:2] == (stat.st_mtime_ns, stat.st_size):
                schemas[kind] = cached[2]
                continue
            try:
                schemas[kind] = json.loads(path.read_bytes())
            except ValueError as exc:
                raise ConfigError(f"{path}: not valid JSON ({exc})") from exc
            check_schema(kind, schemas[kind])  # against the meta-schema: once per version
            self._schema_cache[path] = (stat.st_mtime_ns, stat.st_size, schemas[kind])
        return schemas

    @staticmethod
    def _element(element_id: str, stored: _Stored) -> TargetElement:
        return TargetElement(id=element_id, kind=stored.kind, config=stored.config,
                             text=stored.data.decode(), digest=_digest(stored.data))  # fmt: skip

    async def kinds(self) -> list[str]:
        found = await asyncio.to_thread(self._scan)
        return sorted({s.kind for s in found.values()})

    async def elements(self, kind: str | None = None) -> list[TargetElement]:
        found = await asyncio.to_thread(self._scan)
        return [self._element(i, s) for i, s in found.items() if kind in (None, s.kind)]

    async def element(self, element_id: str) -> TargetElement:
        found = await asyncio.to_thread(self._scan)
        if element_id not in found:
            raise NotFoundError(f"no element {element_id!r} in {self.name}",
                                code="element_not_found")  # fmt: skip
        return self._element(element_id, found[element_id])

    async def schema(self, kind: str) -> dict[str, Any]:
        schemas = self._schemas()  # a few stat calls once cached
        if kind not in schemas:
            raise NotFoundError(f"no schema for kind {kind!r}", code="kind_not_found")
        return schemas[kind]

    def _validate(
        self,
        found: dict[str, _Stored],
        configs: dict[str, dict[str, Any]],
        new: Mapping[str, str] | None = None,
    ) -> dict[str, list[str]]:
        kinds = {i: s.kind for i, s in found.items()}
        kinds.update(new or {})
        ids: dict[str, set[str]] = {}
        for i, kind in kinds.items():
            ids.setdefault(kind, set()).add(i)
        return validate_configs(self._schemas(), kinds, configs, ids)

    async def validate(
        self, configs: dict[str, dict[str, Any]], *, new: Mapping[str, str] | None = None
    ) -> dict[str, list[str]]:
        found = await asyncio.to_thread(self._scan)
        unknown = [i for i in configs if i not in found and i not in (new or {})]
        if unknown:
            raise NotFoundError(f"no element {unknown[0]!r} in {self.name}",
                                code="element_not_found")  # fmt: skip
        return await asyncio.to_thread(self._validate, found, configs, new)

    def _new_path(self, found: dict[str, _Stored], element_id: str, kind: str) -> Path:
        """Where a new element of `kind` goes: its kind's folder, the suffix most used there."""
        same = [s.path for s in found.values() if s.kind == kind]
        if same:
            suffix = Counter(p.suffix for p in same).most_common(1)[0][0]
            return same[0].parent / f"{element_id}{suffix}"
        return self.root / "elements" / f"{kind}s" / f"{element_id}.yaml"

    async def render(self, element: TargetElement, config: dict[str, Any]) -> str:
        found = await asyncio.to_thread(self._scan)
        stored = found.get(element.id)
        path = stored.path if stored else self._new_path(found, element.id, element.kind)
        return dump_element(path.name, config).decode()

    # Versions ------------------------------------------------------------------------

    @property
    def _history(self) -> Path:
        return self.root / HISTORY

    def _head(self) -> int:
        head = self._history / "HEAD"
        return int(head.read_text().strip()) if head.is_file() else 0

    async def version(self) -> int:
        return await asyncio.to_thread(self._head)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time: a thread lock within this process, a lock file across."""
        with self._thread_lock:
            self._history.mkdir(exist_ok=True)
            with (self._history / "lock").open("a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def _write_version(
        self,
        writes: dict[Path, bytes | None],
        *,
        actor: str,
        message: str,
        rollback_of: int | None = None,
    ) -> AppliedVersion:
        """Snapshot what `writes` replaces, then write all of it or nothing. A path whose
        new bytes are None is removed; one that did not exist has None as its `before`."""
        version = self._head() + 1
        folder = self._history / f"v{version:06d}"
        before: dict[str, str | None] = {}
        after: dict[str, str | None] = {}
        for path, data in writes.items():
            rel = path.relative_to(self.root).as_posix()
            before[rel] = None
            if path.is_file():
                saved = folder / "before" / rel
                saved.parent.mkdir(parents=True, exist_ok=True)
                saved.write_bytes(path.read_bytes())
                before[rel] = _digest(saved.read_bytes())
            after[rel] = None if data is None else _digest(data)
        staged: list[tuple[Path, Path]] = []
        done: list[Path] = []
        try:
            for path, data in writes.items():
                temp = path.with_name(f".{path.name}.{version}.tmp")
                if data is None:
                    os.replace(path, temp)  # removed: kept aside until the rest is in
                    done.append(path)
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                temp.write_bytes(data)
                staged.append((temp, path))
            for temp, path in staged:
                os.replace(temp, path)
                done.append(path)
        except BaseException:
            for path in done:  # put back what was already renamed in (or aside)
                rel = path.relative_to(self.root).as_posix()
                if before[rel] is None:
                    path.unlink(missing_ok=True)
                else:
                    path.write_bytes((folder / "before" / rel).read_bytes())
            for temp, _ in staged:
                temp.unlink(missing_ok=True)
            raise
        for path, data in writes.items():
            if data is None:
                path.with_name(f".{path.name}.{version}.tmp").unlink(missing_ok=True)
        now = datetime.now(UTC).isoformat()
        ids = {path.relative_to(self.root).as_posix(): path.stem for path in writes}
        manifest = {"version": version, "at": now, "actor": actor, "message": message,
                    "rollback_of": rollback_of, "files": ids, "before": before,
                    "after": after}  # fmt: skip
        folder.mkdir(parents=True, exist_ok=True)  # a version that only creates saves nothing
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        with (self._history / "audit.jsonl").open("a") as log:
            entry = {"version": version, "at": now, "actor": actor, "message": message,
                     "elements": sorted(ids.values()), "rollback_of": rollback_of}  # fmt: skip
            log.write(json.dumps(entry) + "\n")
        head = self._history / "HEAD.tmp"
        head.write_text(f"{version}\n")
        os.replace(head, self._history / "HEAD")
        return AppliedVersion(
            version=version,
            changed=sorted(ids.values()),
            digests={ids[rel]: digest for rel, digest in after.items() if digest is not None},
            rollback_of=rollback_of,
        )

    def _apply(self, changes: Sequence[ElementChange], actor: str, message: str) -> AppliedVersion:
        with self._locked():
            found = self._scan()
            taken = [c.id for c in changes if c.kind is not None and c.id in found]
            if taken:
                raise ConflictError(
                    f"already in {self.name}: {', '.join(taken)}; a new element needs a free id",
                    code="element_exists",
                )
            new = {c.id: c.kind for c in changes if c.kind is not None}
            unknown = [c.id for c in changes if c.id not in found and c.id not in new]
            if unknown:
                raise NotFoundError(f"no element {unknown[0]!r} in {self.name}",
                                    code="element_not_found")  # fmt: skip
            moved = [
                c.id for c in changes
                if c.id in found and c.base_digest is not None
                and c.base_digest != _digest(found[c.id].data)
            ]  # fmt: skip
            if moved:
                raise ConflictError(
                    f"changed since the plan was made: {', '.join(moved)}; make a new plan",
                    code="element_changed",
                )
            errors = self._validate(found, {c.id: c.config for c in changes}, new)
            bad = {i: e for i, e in errors.items() if e}
            if bad:
                first = next(iter(bad))
                raise InvalidRequestError(f"{first}: {bad[first][0]} (and {len(bad) - 1} more)"
                                          if len(bad) > 1 else f"{first}: {bad[first][0]}",
                                          code="config_invalid")  # fmt: skip
            writes: dict[Path, bytes | None] = {}
            for c in changes:
                path = found[c.id].path if c.id in found else self._new_path(found, c.id, new[c.id])
                writes[path] = dump_element(path.name, c.config)
            return self._write_version(writes, actor=actor, message=message)

    async def apply(
        self, changes: Sequence[ElementChange], *, actor: str, message: str
    ) -> AppliedVersion:
        if not changes:
            raise InvalidRequestError("a change set needs at least one element",
                                      code="empty_change")  # fmt: skip
        return await asyncio.to_thread(self._apply, changes, actor, message)

    def _rollback(self, version: int, actor: str, message: str) -> AppliedVersion:
        with self._locked():
            manifest_path = self._history / f"v{version:06d}" / "manifest.json"
            if not manifest_path.is_file():
                raise NotFoundError(f"{self.name} has no version {version}",
                                    code="version_not_found")  # fmt: skip
            manifest = json.loads(manifest_path.read_text())
            writes: dict[Path, bytes | None] = {}
            moved = []
            for rel, after in manifest["after"].items():
                path = self.root / rel
                now = _digest(path.read_bytes()) if path.is_file() else None
                if now != after:
                    moved.append(manifest["files"][rel])
                saved = manifest_path.parent / "before" / rel
                writes[path] = None if manifest["before"][rel] is None else saved.read_bytes()
            if moved:
                raise ConflictError(
                    f"changed since version {version}: {', '.join(moved)}; "
                    "roll back the later versions first",
                    code="element_changed",
                )
            return self._write_version(writes, actor=actor, message=message, rollback_of=version)

    async def rollback(self, version: int, *, actor: str, message: str) -> AppliedVersion:
        return await asyncio.to_thread(self._rollback, version, actor, message)

    # Events and metrics --------------------------------------------------------------

    def _rows(self, folder: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        base = self.root / folder
        for path in sorted(base.glob("*.jsonl")) if base.is_dir() else []:
            stat = path.stat()
            cached = self._log_cache.get(path)
            if not cached or cached[:2] != (stat.st_mtime_ns, stat.st_size):
                lines = path.read_text().splitlines()
                parsed = [json.loads(line) for line in lines if line.strip()]
                for row in parsed:
                    row["ts"] = _time(row["ts"])
                cached = (stat.st_mtime_ns, stat.st_size, parsed)
                self._log_cache[path] = cached
            rows.extend(cached[2])
        return rows

    async def events(
        self,
        start: datetime,
        end: datetime,
        *,
        elements: Sequence[str] | None = None,
        min_severity: Severity = "debug",
    ) -> list[TargetEvent]:
        rows = await asyncio.to_thread(self._rows, "events")
        wanted = set(elements) if elements is not None else None
        floor = SEVERITIES.index(min_severity)
        return [
            TargetEvent(**row)
            for row in rows
            if start <= row["ts"] < end
            and (wanted is None or row["element"] in wanted)
            and SEVERITIES.index(row["severity"]) >= floor
        ]

    async def metrics(
        self, start: datetime, end: datetime, *, elements: Sequence[str] | None = None
    ) -> list[MetricPoint]:
        rows = await asyncio.to_thread(self._rows, "metrics")
        wanted = set(elements) if elements is not None else None
        return [
            MetricPoint(
                ts=row["ts"],
                element=row["element"],
                values={k: float(v) for k, v in row.items() if k not in ("ts", "element")},
            )
            for row in rows
            if start <= row["ts"] < end and (wanted is None or row["element"] in wanted)
        ]
