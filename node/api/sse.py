"""Server-Sent Events: one JSON object per event, flushed as it is produced."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from secondme.node.core.errors import NodeError


async def open_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    return response


async def send_event(response: web.StreamResponse, event: str | None, data: Any) -> None:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    await response.write(f"{head}data: {payload}\n\n".encode())


async def relay_events(
    response: web.StreamResponse,
    events: AsyncIterator[Any],
    to_event: Callable[[Any], tuple[str, Any] | None],
) -> web.StreamResponse:
    """Send each of ``events`` as the (name, data) ``to_event`` makes of it (``None``: skip it)
    until they end; a :class:`NodeError` on the way becomes an ``error`` event. Closes both."""
    try:
        async for item in events:
            event = to_event(item)
            if event is not None:
                await send_event(response, *event)
    except NodeError as exc:
        await send_event(response, "error", exc.to_json()["error"])
    finally:
        await events.aclose()  # type: ignore[attr-defined]
    await response.write_eof()
    return response
