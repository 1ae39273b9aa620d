"""A target system behind a REST API (JSON over HTTP), through an injected httpx client.

The API it expects (a bearer token when one is configured):

    GET  /kinds                         ["depot", ...]
    GET  /elements[?kind=K]             [{"id", "kind", "config", "text", "digest"}, ...]
    GET  /elements/{id}                 one element (404: element_not_found)
    GET  /schemas/{kind}                the kind's JSON Schema
    POST /validate                      {"configs": {id: config}, "new": {id: kind}}
                                        -> {id: [error, ...]} (new: elements not yet there)
    POST /render                        {"id", "config", "kind"} -> {"text"}
    GET  /version                       {"version": N}
    POST /changes                       {"changes": [{"id", "config", "base_digest",
                                         "kind"}], "actor", "message"} -> {"version",
                                         "changed", "digests"}; all or nothing (409
                                         element_changed, 409 element_exists for a new
                                         element (with "kind") whose id is taken, 422
                                         config_invalid); rollback removes what it created
    POST /versions/{N}/rollback         {"actor", "message"} -> the new version
    GET  /events?start&end[&element=..][&min_severity=..]   [{"ts", "element", ...}]
    GET  /metrics?start&end[&element=..]                    [{"ts", "element", "values"}]

Errors are JSON `{"error": {"code", "message"}}`; their codes are passed on unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from frontdesk.errors import (
    ConflictError,
    FrontdeskError,
    InvalidRequestError,
    NotFoundError,
)
from frontdesk.interfaces import (
    AppliedVersion,
    ElementChange,
    MetricPoint,
    Severity,
    TargetElement,
    TargetEvent,
)


class TargetUnavailableError(FrontdeskError):
    code = "target_unavailable"
    status_code = 503


_BY_STATUS: dict[int, type[FrontdeskError]] = {
    404: NotFoundError,
    409: ConflictError,
    422: InvalidRequestError,
    400: InvalidRequestError,
}


class HttpTarget:
    """A `TargetSystem` over HTTP (see the module's docstring)."""

    def __init__(self, base_url: str, *, client: httpx.AsyncClient | None = None,
                 token: str | None = None, timeout_s: float = 10.0,
                 name: str = "http") -> None:  # fmt: skip
        self.name = name
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = client or httpx.AsyncClient(timeout=timeout_s)
        self._base = base_url.rstrip("/")
        self._headers = headers

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._client.request(
                method, self._base + path, headers=self._headers, **kwargs
            )
        except httpx.HTTPError as exc:
            raise TargetUnavailableError(
                f"{self.name}: {self._base} did not answer ({type(exc).__name__})"
            ) from exc
        if response.status_code >= 400:
            try:
                error = response.json().get("error", {})
            except ValueError:
                error = {}
            message = error.get("message") or f"{self.name} answered {response.status_code}"
            cls = _BY_STATUS.get(response.status_code, TargetUnavailableError)
            raise cls(message, code=error.get("code") or cls.code)
        return response.json()

    async def kinds(self) -> list[str]:
        return list(await self._call("GET", "/kinds"))

    async def elements(self, kind: str | None = None) -> list[TargetElement]:
        params = {"kind": kind} if kind else {}
        rows = await self._call("GET", "/elements", params=params)
        return [TargetElement.model_validate(row) for row in rows]

    async def element(self, element_id: str) -> TargetElement:
        return TargetElement.model_validate(await self._call("GET", f"/elements/{element_id}"))

    async def schema(self, kind: str) -> dict[str, Any]:
        return dict(await self._call("GET", f"/schemas/{kind}"))

    async def validate(
        self, configs: dict[str, dict[str, Any]], *, new: Mapping[str, str] | None = None
    ) -> dict[str, list[str]]:
        body = {"configs": configs, "new": dict(new or {})}
        return dict(await self._call("POST", "/validate", json=body))

    async def render(self, element: TargetElement, config: dict[str, Any]) -> str:
        body = {"id": element.id, "config": config, "kind": element.kind}
        answer = await self._call("POST", "/render", json=body)
        return str(answer["text"])

    async def version(self) -> int:
        return int((await self._call("GET", "/version"))["version"])

    async def apply(
        self, changes: Sequence[ElementChange], *, actor: str, message: str
    ) -> AppliedVersion:
        body = {"changes": [c.model_dump() for c in changes], "actor": actor, "message": message}
        return AppliedVersion.model_validate(await self._call("POST", "/changes", json=body))

    async def rollback(self, version: int, *, actor: str, message: str) -> AppliedVersion:
        body = {"actor": actor, "message": message}
        answer = await self._call("POST", f"/versions/{version}/rollback", json=body)
        return AppliedVersion.model_validate(answer)

    async def events(
        self,
        start: datetime,
        end: datetime,
        *,
        elements: Sequence[str] | None = None,
        min_severity: Severity = "debug",
    ) -> list[TargetEvent]:
        params: dict[str, Any] = {"start": start.isoformat(), "end": end.isoformat(),
                                  "min_severity": min_severity}  # fmt: skip
        if elements is not None:
            params["element"] = list(elements)
        rows = await self._call("GET", "/events", params=params)
        return [TargetEvent.model_validate(row) for row in rows]

    async def metrics(
        self, start: datetime, end: datetime, *, elements: Sequence[str] | None = None
    ) -> list[MetricPoint]:
        params: dict[str, Any] = {"start": start.isoformat(), "end": end.isoformat()}
        if elements is not None:
            params["element"] = list(elements)
        rows = await self._call("GET", "/metrics", params=params)
        return [MetricPoint.model_validate(row) for row in rows]
