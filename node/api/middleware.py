"""Owner authentication and error translation for every route of the owner API."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from secondme.node.errors import AuthError, FileTooLarge, InvalidRequest, NodeError, disk_full

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(error: NodeError) -> web.Response:
    return web.json_response(error.to_json(), status=error.status)


def make_auth_middleware(token: str):
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            reason = "missing" if not given else "wrong"
            return error_response(
                AuthError(
                    f"{reason} owner token: send 'Authorization: Bearer <token>' with the "
                    "token from the node's api.token file"
                )
            )
        return await handler(request)

    return auth


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except NodeError as exc:
        return error_response(exc)
    except json.JSONDecodeError as exc:
        return error_response(InvalidRequest(f"request body is not valid JSON: {exc}"))
    except web.HTTPRequestEntityTooLarge as exc:
        return error_response(FileTooLarge(f"request body too large: {exc.text}"))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error = NodeError(exc.reason)
        error.status, error.code = exc.status, exc.reason.lower().replace(" ", "_")
        return error_response(error)
    except Exception as exc:
        if (full := disk_full(exc)) is not None:
            log.error("%s %s: %s", request.method, request.path, full.message)
            return error_response(full)
        log.exception("unexpected error in %s %s", request.method, request.path)
        return error_response(NodeError("internal error; the node's log has the details"))
