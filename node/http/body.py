"""Reading an owner request's JSON body: an object, with typed fields, or a clear 400."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from secondme.node.core.errors import InvalidRequest


async def json_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    body = await request.json()
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    return body


def field(body: dict[str, Any], name: str, kind: type, default: Any = None) -> Any:
    value = body.get(name, default)
    if value is None and default is None:
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidRequest(f"field '{name}' must be {kind.__name__}")
    return value
