"""Guards (Host, Origin, owner auth, CSRF) and error translation for every owner API route."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from secondme.node.core.errors import (
    AuthError,
    FileTooLarge,
    Forbidden,
    InvalidRequest,
    NodeError,
    disk_full,
)
from secondme.node.http.origin import host_allowed, same_origin
from secondme.node.http.sessions import BrowserSession, SessionStore

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BROWSER_SESSION = web.RequestKey("browser_session", BrowserSession)


def error_response(error: NodeError) -> web.Response:
    return web.json_response(error.to_json(), status=error.status)


PUBLIC_PATHS = frozenset({"/", "/login", "/favicon.ico"})
"""Pages that answer without owner auth: they show the app only to a browser with a session."""
CSRF_HEADER = "X-CSRF-Token"


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith("/static/")


def make_guard_middleware(
    token: str, sessions: SessionStore, cookie_name: str, bound_host: str
) -> Callable:
    """Every request names the node by its loopback name and comes from no foreign origin; then
    the owner is either a client with the token or a browser session that sends its CSRF token."""
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host", "")
        if not host_allowed(host, bound_host):
            raise Forbidden(
                f"Host {host!r} is not this node's name: the owner API answers only to "
                "127.0.0.1, localhost or [::1] (a guard against DNS rebinding)"
            )
        origin = request.headers.get("Origin")
        if origin is not None and not same_origin(origin, host):
            raise Forbidden(f"requests from another site ({origin}) are refused")
        if is_public(request.path):
            return await handler(request)
        given = request.headers.get("Authorization", "").encode()
        if given and hmac.compare_digest(given, expected):
            return await handler(request)
        session = sessions.get(request.cookies.get(cookie_name, ""))
        if session is None:
            reason = "wrong" if given else "missing"
            raise AuthError(
                f"{reason} owner token: send 'Authorization: Bearer <token>' with the token "
                "from the node's api.token file, or log in with `secondme-node open`"
            )
        if not session.csrf_matches(request.headers.get(CSRF_HEADER, "")):
            raise Forbidden(f"a browser session must send its CSRF token in {CSRF_HEADER}")
        request[BROWSER_SESSION] = session
        return await handler(request)

    return guard


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
