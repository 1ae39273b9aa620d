"""A tool from an async function: its JSON-schema parameters come from the type hints.

    @tool(description="Where a parcel is", idempotent=True)
    async def parcel_status(order_id: Annotated[str, Field(pattern=r"^KP-\\d{8}$")]) -> dict: ...

Arguments are validated against the same model before the call, so a model's malformed
call is refused with a message it can act on, and the function sees proper types.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from frontdesk.tools.base import ToolContext


class InvalidArguments(ValueError):
    pass


Approval = Callable[[dict[str, Any]], str | None]  # a reason an agent must approve, or None
Describe = Callable[[Any], str]  # the result in words for the customer


class FunctionTool:
    def __init__(
        self,
        fn: Callable[..., Awaitable[Any]],
        *,
        name: str | None = None,
        description: str | None = None,
        idempotent: bool = False,
        timeout_s: float | None = None,
        retries: int = 2,
        approval: Approval | None = None,
        describe: Describe | None = None,
    ) -> None:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"tool {fn.__name__} must be an async function")
        self.fn = fn
        self.name = name or fn.__name__
        self.description = description or inspect.getdoc(fn) or ""
        self.idempotent = idempotent
        self.timeout_s = timeout_s
        self.retries = retries if idempotent else 0  # never repeat a side effect
        self.approval = approval
        self.describe = describe
        self.model, self.wants_context = _arguments_model(fn, self.name)
        schema = self.model.model_json_schema()
        schema.pop("title", None)
        self.parameters: dict[str, Any] = schema

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        try:
            parsed = self.model.model_validate(arguments)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors()
            )
            raise InvalidArguments(problems) from exc
        return {field: getattr(parsed, field) for field in type(parsed).model_fields}

    def needs_approval(self, arguments: dict[str, Any]) -> str | None:
        return self.approval(arguments) if self.approval else None

    async def __call__(self, **arguments: object) -> object:
        return await self.run(dict(arguments), None)

    async def run(self, arguments: dict[str, Any], context: ToolContext | None) -> Any:
        values = self.validate(arguments)
        if self.wants_context:
            if context is None:
                raise InvalidArguments(f"tool {self.name} needs a context")
            values["context"] = context
        return await self.fn(**values)


def _arguments_model(fn: Callable[..., Any], name: str) -> tuple[type[BaseModel], bool]:
    hints = get_type_hints(fn, include_extras=True)
    fields: dict[str, Any] = {}
    wants_context = False
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"tool {name}: *args/**kwargs cannot be described to a model")
        annotation = hints.get(param.name, Any)
        if annotation is ToolContext:
            wants_context = True
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (annotation, default)
    model = create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    return model, wants_context


def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    idempotent: bool = False,
    timeout_s: float | None = None,
    approval: Approval | None = None,
    describe: Describe | None = None,
) -> Callable[[Callable[..., Awaitable[Any]]], FunctionTool]:
    def wrap(fn: Callable[..., Awaitable[Any]]) -> FunctionTool:
        return FunctionTool(fn, name=name, description=description, idempotent=idempotent,
                            timeout_s=timeout_s, approval=approval, describe=describe)  # fmt: skip

    return wrap
