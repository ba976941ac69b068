"""The owner API for scoped access: grants, revocation, asking peers, context, the audit log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from secondme.node.access.service import AskResult
from secondme.node.api.routes import path_peer, services, string_list
from secondme.node.api.sse import open_stream, relay_events
from secondme.node.core.config import DEFAULT_POLICIES, save_config
from secondme.node.core.errors import InvalidRequest, NotFound
from secondme.node.http.body import field, json_body
from secondme.node.memory.scope import topic_names
from secondme.protocol.grants import ABILITIES, MEMORY_LAYERS, Scope

routes = web.RouteTableDef()
MAX_EXPIRY_S = 366 * 86_400


def scope_from_body(body: dict[str, Any], *, required: bool = True) -> Scope | None:
    names = ("tags", "topics", "layers", "profile", "profile_only")
    if not required and not any(body.get(name) for name in names):
        return None
    try:
        return Scope(
            tags=tuple(string_list(body, "tags")),
            topics=tuple(string_list(body, "topics")),
            layers=tuple(string_list(body, "layers") or MEMORY_LAYERS),
            profile=bool(field(body, "profile", bool, False)),
            profile_only=bool(field(body, "profile_only", bool, False)),
        )
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None


def _expiry(body: dict[str, Any], *, required: bool) -> float | None:
    expires = field(body, "expires_s", float)
    if expires is None:
        if required:
            raise InvalidRequest("field 'expires_s' (seconds from now) is required")
        return None
    if not 0 < expires <= MAX_EXPIRY_S:
        raise InvalidRequest(f"field 'expires_s' must be between 1 and {MAX_EXPIRY_S}")
    return expires


def _named(request: web.Request, grant: dict) -> dict:
    """``grant`` with ``topic_names``: for a grant this node issued, its topics as they are
    named now (they are bound by id); for others, the names their labels carry."""
    node = services(request)
    own = grant["issuer"] == node.access.me
    scope = Scope.from_json(grant["scope"])
    return {**grant, "topic_names": topic_names(scope, node.memory.l1 if own else None)}


@routes.get("/api/grants")
async def grants_list(request: web.Request) -> web.Response:
    listed = services(request).access.grants()
    return web.json_response(
        {direction: [_named(request, g) for g in grants] for direction, grants in listed.items()}
    )


@routes.post("/api/grants")
async def grants_create(request: web.Request) -> web.Response:
    """Grant a known peer abilities within a scope; the token is sent to it at once."""
    body = await json_body(request)
    peer = field(body, "peer", str)
    if not peer:
        raise InvalidRequest("field 'peer' names a known peer (name or peer id)")
    abilities = string_list(body, "abilities")
    if not abilities:
        raise InvalidRequest(f"field 'abilities' lists some of {', '.join(ABILITIES)}")
    uses = field(body, "uses", int)
    grant = await services(request).access.grant(
        peer,
        abilities=abilities,
        scope=scope_from_body(body),
        expires_in_s=_expiry(body, required=True),
        max_uses=uses,
        rate=field(body, "rate", str),
        delegable=bool(field(body, "delegable", bool, False)),
    )
    return web.json_response(_named(request, grant), status=201)


@routes.post("/api/grants/{grant}/delegate")
async def grants_delegate(request: web.Request) -> web.Response:
    """Hand a received, delegable grant on to another peer, narrowed if asked."""
    body = await json_body(request)
    peer = field(body, "peer", str)
    if not peer:
        raise InvalidRequest("field 'peer' names the peer to hand the grant on to")
    grant = await services(request).access.delegate(
        request.match_info["grant"],
        peer,
        abilities=string_list(body, "abilities") or None,
        scope=scope_from_body(body, required=False),
        expires_in_s=_expiry(body, required=False),
    )
    return web.json_response(_named(request, grant), status=201)


@routes.delete("/api/grants/{grant}")
async def grants_revoke(request: web.Request) -> web.Response:
    return web.json_response(await services(request).access.revoke(request.match_info["grant"]))


@routes.post("/api/peers/{peer}/ask")
async def peers_ask(request: web.Request) -> web.StreamResponse:
    """Ask a peer's node a question; it answers as its owner, within its grant to us.

    With ``"stream": true`` the answer comes as Server-Sent Events: ``token`` events as the
    peer's model writes, then ``done`` with the result (or ``error``).
    """
    body = await json_body(request)
    question = (field(body, "question", str) or "").strip()
    if not question:
        raise InvalidRequest("field 'question' is required")
    access = services(request).access
    peer, grant_id = path_peer(request), field(body, "grant", str)
    if not field(body, "stream", bool, False):
        result = await access.ask(peer, question, grant_id=grant_id)
        return web.json_response(result.to_json())
    events = access.ask_stream(peer, question, grant_id=grant_id)
    try:
        first = await anext(events)  # errors before the first piece are plain HTTP errors
    except StopAsyncIteration:
        raise InvalidRequest("the peer sent no answer") from None
    response = await open_stream(request)

    async def from_first() -> AsyncIterator[str | AskResult]:
        yield first
        async for event in events:
            yield event

    def ask_event(event: str | AskResult) -> tuple[str, dict]:
        if isinstance(event, AskResult):
            return "done", event.to_json()
        return "token", {"text": event}

    try:
        return await relay_events(response, from_first(), ask_event)
    finally:
        await events.aclose()


@routes.post("/api/peers/{peer}/context")
async def peers_context(request: web.Request) -> web.Response:
    """Fetch and keep what a peer shares on a topic (a sealed context bundle)."""
    body = await json_body(request)
    topic = (field(body, "topic", str) or "").strip()
    if not topic:
        raise InvalidRequest("field 'topic' is required")
    k = field(body, "k", int)
    result = await services(request).access.fetch_context(
        path_peer(request), topic, k=k, grant_id=field(body, "grant", str)
    )
    return web.json_response(result, status=201)


@routes.get("/api/peers/{peer}/profile")
async def peers_profile(request: web.Request) -> web.Response:
    return web.json_response(await services(request).access.read_profile(path_peer(request)))


@routes.get("/api/context")
async def context_list(request: web.Request) -> web.Response:
    """Context bundles peers shared with this node (opened items, not the sealed bytes)."""
    return web.json_response(services(request).access.store.contexts())


@routes.delete("/api/context/{bundle}")
async def context_forget(request: web.Request) -> web.Response:
    if not services(request).access.store.forget_context(request.match_info["bundle"]):
        raise NotFound(f"no context bundle {request.match_info['bundle']!r}")
    return web.json_response({"forgotten": request.match_info["bundle"]})


@routes.get("/api/audit")
async def audit_log(request: web.Request) -> web.Response:
    """Every request peers made: who, under which grant, the decision, what was shared."""
    query = request.query
    try:
        limit = int(query.get("limit", "200"))
        since = int(query["since_ms"]) if "since_ms" in query else None
    except ValueError:
        raise InvalidRequest("limit and since_ms must be integers") from None
    if not 1 <= limit <= 10_000:
        raise InvalidRequest("limit must be between 1 and 10000")
    entries = services(request).access.audit(peer=query.get("peer"), since_ms=since, limit=limit)
    return web.json_response(entries)


@routes.get("/api/access/policy")
async def policy_get(request: web.Request) -> web.Response:
    return web.json_response({"default_policy": services(request).access.gate.default_policy})


@routes.put("/api/access/policy")
async def policy_set(request: web.Request) -> web.Response:
    """What peers without a grant get: ``refuse`` or ``public-profile``; kept in config."""
    node = services(request)
    body = await json_body(request)
    policy = field(body, "default_policy", str)
    if policy not in DEFAULT_POLICIES:
        raise InvalidRequest(f"default_policy must be one of {', '.join(DEFAULT_POLICIES)}")
    config = node.config.with_changes("access", default_policy=policy)
    save_config(node.data_dir.config, config)
    node.config = config
    node.access.gate.default_policy = policy
    return web.json_response({"default_policy": policy})
