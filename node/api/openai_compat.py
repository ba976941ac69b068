"""An OpenAI-compatible endpoint, so any OpenAI client can talk to the owner's Second Me.

``POST /v1/chat/completions`` (streaming and not) and ``GET /v1/models``, in the shapes the
official ``openai`` client parses. The node adds the owner's persona and retrieved memory to
the messages it is given; the client keeps the conversation.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from aiohttp import web

from secondme.node.api.routes import services
from secondme.node.api.sse import open_stream, send_event
from secondme.node.core.errors import InvalidRequest
from secondme.node.http.body import field, json_body
from secondme.node.models.llm import Finished, Piece

routes = web.RouteTableDef()
MODEL_ID = "secondme"
_ROLES = ("system", "user", "assistant")


def _messages(body: dict[str, Any]) -> list[dict[str, str]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty list")
    cleaned = []
    for number, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in (*_ROLES, "developer"):
            raise InvalidRequest(f"messages[{number}] needs a role in {', '.join(_ROLES)}")
        content = message.get("content")
        if isinstance(content, list):  # content parts: keep the text ones
            content = "".join(
                p.get("text", "")
                for p in content
                if isinstance(p, dict) and p.get("type") == "text"
            )
        if not isinstance(content, str):
            raise InvalidRequest(f"messages[{number}].content must be text")
        role = "system" if message["role"] == "developer" else message["role"]
        cleaned.append({"role": role, "content": content})
    if not any(m["role"] == "user" for m in cleaned):
        raise InvalidRequest("'messages' needs at least one user message")
    return cleaned


@routes.get("/v1/models")
async def models(request: web.Request) -> web.Response:
    node = services(request)
    return web.json_response(
        {
            "object": "list",
            "data": [
                {
                    "id": MODEL_ID,
                    "object": "model",
                    "created": int(node.started_at),
                    "owned_by": str(node.identity.peer_id),
                }
            ],
        }
    )


@routes.post("/v1/chat/completions")
async def chat_completions(request: web.Request) -> web.StreamResponse:
    node = services(request)
    body = await json_body(request)
    messages = _messages(body)
    max_tokens = field(body, "max_tokens", int) or field(body, "max_completion_tokens", int)
    temperature = field(body, "temperature", float)
    stream = bool(body.get("stream", False))
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    model = body.get("model") if isinstance(body.get("model"), str) else MODEL_ID
    events = node.chat.complete_openai(messages, max_tokens=max_tokens, temperature=temperature)

    def chunk(delta: dict[str, str], finish: str | None) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    if not stream:
        parts: list[str] = []
        finished = Finished("stop", 0, 0)
        async for event in events:
            if isinstance(event, Piece):
                parts.append(event.text)
            else:
                finished = event
        return web.json_response(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(parts)},
                        "finish_reason": finished.finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": finished.prompt_tokens,
                    "completion_tokens": finished.completion_tokens,
                    "total_tokens": finished.prompt_tokens + finished.completion_tokens,
                },
            }
        )

    response = await open_stream(request)
    await send_event(response, None, chunk({"role": "assistant", "content": ""}, None))
    try:
        async for event in events:
            if isinstance(event, Piece):
                await send_event(response, None, chunk({"content": event.text}, None))
            else:
                await send_event(response, None, chunk({}, event.finish_reason))
    finally:
        await events.aclose()
    await send_event(response, None, "[DONE]")
    await response.write_eof()
    return response
