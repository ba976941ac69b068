"""The owner API for group discussions: create, accept, discuss, watch, say, transcripts."""

from __future__ import annotations

from aiohttp import web

from secondme.node.api.access_routes import scope_from_body
from secondme.node.api.routes import path_peer, services, string_list
from secondme.node.api.sse import open_stream, relay_events
from secondme.node.core.errors import InvalidRequest
from secondme.node.groups.store import StoredMessage
from secondme.node.http.body import field, json_body

routes = web.RouteTableDef()


@routes.get("/api/groups")
async def groups_list(request: web.Request) -> web.Response:
    return web.json_response(services(request).groups.list())


@routes.post("/api/groups")
async def groups_create(request: web.Request) -> web.Response:
    """A group moderated by this node; each member is invited at once. ``scope`` fields say
    what this node's own turns may draw on (none: the public profile only);
    ``share_relevance`` whether its turns show how relevant its memory was (default: the
    ``groups.share_relevance`` setting)."""
    body = await json_body(request)
    name = field(body, "name", str) or ""
    created = await services(request).groups.create(
        name,
        string_list(body, "members"),
        topic=field(body, "topic", str, "") or "",
        scope=scope_from_body(body, required=False),
        share_relevance=field(body, "share_relevance", bool),
    )
    return web.json_response(created, status=201)


@routes.get("/api/groups/{group}")
async def groups_get(request: web.Request) -> web.Response:
    groups = services(request).groups
    return web.json_response(groups.describe(groups.find(request.match_info["group"])))


@routes.post("/api/groups/{group}/accept")
async def groups_accept(request: web.Request) -> web.Response:
    """Join a group this node was invited to, within a scope (``decline``: refuse it);
    ``share_relevance``: tell its moderator how relevant this node's memory is to each
    message (coarsely; default: the ``groups.share_relevance`` setting)."""
    body = await json_body(request)
    decline = bool(field(body, "decline", bool, False))
    answer = await services(request).groups.accept(
        request.match_info["group"],
        scope=None if decline else scope_from_body(body, required=False),
        accept=not decline,
        share_relevance=field(body, "share_relevance", bool),
    )
    return web.json_response(answer)


@routes.post("/api/groups/{group}/relevance")
async def groups_relevance(request: web.Request) -> web.Response:
    """Whether this node tells the group how relevant its memory is to what is said
    (``share``: true or false)."""
    body = await json_body(request)
    share = field(body, "share", bool)
    if share is None:
        raise InvalidRequest("field 'share' (true or false) is required")
    return web.json_response(
        services(request).groups.share_relevance(request.match_info["group"], share)
    )


@routes.post("/api/groups/{group}/scope")
async def groups_scope(request: web.Request) -> web.Response:
    body = await json_body(request)
    scope = scope_from_body(body)
    assert scope is not None
    return web.json_response(services(request).groups.set_scope(request.match_info["group"], scope))


@routes.post("/api/groups/{group}/discuss")
async def groups_discuss(request: web.Request) -> web.Response:
    """Start a discussion (moderator only); without ``question`` and with ``resume``, go on
    with the interrupted one. Read it with ``watch``."""
    body = await json_body(request)
    question = field(body, "question", str)
    if question is None and not field(body, "resume", bool, False):
        raise InvalidRequest("field 'question' is required (or 'resume': true)")
    started = services(request).groups.discuss(
        request.match_info["group"],
        question,
        rounds=field(body, "rounds", int),
        until=field(body, "until", str, "rounds"),
        budget_s=field(body, "budget_s", int),
    )
    return web.json_response(started, status=202)


@routes.post("/api/groups/{group}/stop")
async def groups_stop(request: web.Request) -> web.Response:
    return web.json_response(services(request).groups.stop(request.match_info["group"]))


@routes.post("/api/groups/{group}/say")
async def groups_say(request: web.Request) -> web.Response:
    body = await json_body(request)
    text = field(body, "text", str) or ""
    return web.json_response(await services(request).groups.say(request.match_info["group"], text))


@routes.post("/api/groups/{group}/watch")
async def groups_watch(request: web.Request) -> web.StreamResponse:
    """The transcript after ``after`` as Server-Sent Events (``message``), live; the stream
    ends after the discussion's ``end`` message unless ``follow``."""
    body = await json_body(request)
    groups = services(request).groups
    after = field(body, "after", int, 0)
    follow = bool(field(body, "follow", bool, False))
    group = groups.find(request.match_info["group"])
    events = groups.watch(group.group_id, after=after, follow=follow)
    response = await open_stream(request)

    def to_event(message: StoredMessage | None) -> tuple[str | None, dict | str]:
        if message is None:  # nothing new for a while: a keep-alive
            return "ping", {}
        return "message", groups.message_json(message)

    return await relay_events(response, events, to_event)


@routes.get("/api/groups/{group}/transcript")
async def groups_transcript(request: web.Request) -> web.Response:
    return web.json_response(services(request).groups.transcript(request.match_info["group"]))


@routes.get("/api/groups/{group}/summary")
async def groups_summary(request: web.Request) -> web.Response:
    return web.json_response(services(request).groups.summary(request.match_info["group"]))


@routes.post("/api/groups/{group}/leave")
async def groups_leave(request: web.Request) -> web.Response:
    return web.json_response(await services(request).groups.leave(request.match_info["group"]))


@routes.delete("/api/groups/{group}/members/{peer}")
async def groups_remove(request: web.Request) -> web.Response:
    info = request.match_info
    return web.json_response(
        await services(request).groups.remove(info["group"], path_peer(request))
    )


@routes.post("/api/groups/{group}/moderate")
async def groups_moderate(request: web.Request) -> web.Response:
    """Hand moderation to a member (``to``: a peer name or ID; this node moderates), or
    continue a group whose moderator's node is gone for good (``take``: true, ``reason``
    optional). Either is written in the transcript and delivered to every member."""
    body = await json_body(request)
    to = field(body, "to", str)
    take = bool(field(body, "take", bool, False))
    if (to is None) == (not take):
        raise InvalidRequest("give either 'to' (a member) or 'take': true")
    answer = await services(request).groups.moderate(
        request.match_info["group"], to=to, take=take, reason=field(body, "reason", str)
    )
    return web.json_response(answer)


@routes.post("/api/groups/{group}/close")
async def groups_close(request: web.Request) -> web.Response:
    return web.json_response(
        await services(request).groups.close_group(request.match_info["group"])
    )
