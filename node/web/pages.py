"""The web app's routes: the page itself, login by ticket, logout, static files, QR codes.

The page and the API share one origin, so the browser's same-origin rules and the guard
middleware's Host, Origin and CSRF checks cover both. ``/`` answers without owner auth but shows
the app (with the session's CSRF token inside) only to a browser holding a live session cookie.
"""

from __future__ import annotations

import html
import io
import mimetypes
from pathlib import Path

import segno
from aiohttp import web

from secondme.node.core.errors import InvalidRequest, NotFound
from secondme.node.http.body import field, json_body
from secondme.node.http.guard import BROWSER_SESSION
from secondme.node.http.sessions import TICKET_TTL_S, SessionStore

STATIC_DIR = Path(__file__).parent / "static"
SESSIONS = web.AppKey("web_sessions", SessionStore)
COOKIE_NAME = web.AppKey("web_cookie_name", str)
CSRF_PLACEHOLDER = "__CSRF_TOKEN__"
MESSAGE_PLACEHOLDER = "<!--message-->"
MAX_QR_TEXT = 2000

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

routes = web.RouteTableDef()


def cookie_name_for(peer_id: str) -> str:
    """One cookie name per node: browsers share cookies across the ports of 127.0.0.1."""
    return f"secondme_{peer_id[-12:]}"


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every response, streams included, carries the CSP and friends; none is cached."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")


def _page(name: str, *, status: int = 200, message: str = "") -> web.Response:
    text = (STATIC_DIR / name).read_text(encoding="utf-8")
    text = text.replace(MESSAGE_PLACEHOLDER, html.escape(message))
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    session = request.app[SESSIONS].get(request.cookies.get(request.app[COOKIE_NAME], ""))
    if session is None:
        return _page("login.html")
    text = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    text = text.replace(CSRF_PLACEHOLDER, session.csrf_token)
    return web.Response(text=text, content_type="text/html", charset="utf-8")


@routes.get("/login")
async def login(request: web.Request) -> web.Response:
    """Trade a one-time ticket for a session cookie, then leave the ticket's URL at once."""
    session = request.app[SESSIONS].redeem(request.query.get("ticket", ""))
    if session is None:
        return _page(
            "login.html",
            status=403,
            message="That login link was used already or has expired. "
            "Run `secondme-node open` for a new one.",
        )
    response = web.HTTPSeeOther("/")
    response.set_cookie(
        request.app[COOKIE_NAME],
        session.session_id,
        httponly=True,
        samesite="Strict",
        path="/",
    )
    raise response


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    session = request.get(BROWSER_SESSION)
    if session is not None:
        request.app[SESSIONS].end(session.session_id)
    response = web.json_response({"logged_out": session is not None})
    response.del_cookie(request.app[COOKIE_NAME], path="/")
    return response


@routes.get("/favicon.ico")
async def favicon(_request: web.Request) -> web.Response:
    return web.Response(status=204)


@routes.get("/static/{path:.+}")
async def static(request: web.Request) -> web.FileResponse:
    root = STATIC_DIR.resolve()
    path = (root / request.match_info["path"]).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFound(f"no file {request.match_info['path']!r} in the web app")
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix == ".js":
        content_type = "text/javascript"
    return web.FileResponse(path, headers={"Content-Type": content_type})


@routes.post("/api/web/tickets")
async def new_ticket(request: web.Request) -> web.Response:
    """A one-time login link for a browser (``secondme-node open``); owner auth required."""
    ticket = request.app[SESSIONS].issue_ticket()
    return web.json_response(
        {"path": f"/login?ticket={ticket}", "expires_in_s": TICKET_TTL_S}, status=201
    )


@routes.post("/api/qr")
async def qr_code(request: web.Request) -> web.Response:
    """An SVG QR code of ``text`` (an invite token), drawn here so the page loads nothing."""
    text = field(await json_body(request), "text", str)
    if not text or len(text) > MAX_QR_TEXT:
        raise InvalidRequest(f"field 'text' must be 1 to {MAX_QR_TEXT} characters")
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False)
    return web.Response(body=out.getvalue(), content_type="image/svg+xml")
