"""Structured output: a reply validated against a pydantic model, with one repair attempt
(the model sees its own output and the validation errors) before giving up."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from frontdesk.interfaces import ChatMessage, ChatRequest, Purpose
from frontdesk.llm.errors import StructuredOutputError
from frontdesk.llm.router import Ledger, ModelRouter

M = TypeVar("M", bound=BaseModel)

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


def extract_json(text: str) -> str:
    """The JSON object in a reply, without code fences or chatter around it."""
    text = _FENCE.sub("", text.strip())
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if start != -1 and end > start else text


def _instruction(schema: type[BaseModel]) -> ChatMessage:
    return ChatMessage(
        role="system",
        content=(
            "Reply with one JSON object only, no prose, that validates against this JSON "
            f"Schema:\n{json.dumps(schema.model_json_schema(), separators=(',', ':'))}"
        ),
    )


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()
    )[:800]


async def structured(
    router: ModelRouter,
    schema: type[M],
    messages: Sequence[ChatMessage],
    *,
    purpose: Purpose,
    tenant_id: str = "",
    ledger: Ledger | None = None,
) -> M:
    request = ChatRequest(
        messages=[_instruction(schema), *messages],
        purpose=purpose,
        tenant_id=tenant_id,
        json_output=True,
        temperature=0.0,
    )
    routed = await router.complete(request, ledger)
    try:
        return schema.model_validate_json(extract_json(routed.result.text))
    except ValidationError as first:
        problem = _errors(first)
    repair = request.model_copy(
        update={
            "messages": [
                *request.messages,
                ChatMessage(role="assistant", content=routed.result.text),
                ChatMessage(
                    role="user",
                    content=f"That JSON is not valid: {problem}. Reply with the corrected "
                    "JSON object only.",
                ),
            ]
        }
    )
    routed = await router.complete(repair, ledger)
    try:
        return schema.model_validate_json(extract_json(routed.result.text))
    except ValidationError as second:
        raise StructuredOutputError(
            f"{routed.model} gave invalid {schema.__name__} twice: {_errors(second)}"
        ) from second
