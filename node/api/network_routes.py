"""The owner API for networks: create, list, members, remove, leave, close; invites; join."""

from __future__ import annotations

from aiohttp import web

from secondme.node.api.routes import services, string_list
from secondme.node.core.errors import InvalidRequest
from secondme.node.http.body import field, json_body

routes = web.RouteTableDef()


@routes.get("/api/networks")
async def networks_list(request: web.Request) -> web.Response:
    """Networks this node is in; with ``?sync=1``, member counts are read from the discovery
    servers first (a server that does not answer leaves its ``sync_error``)."""
    network = services(request).network
    if request.query.get("sync") in ("1", "true", "yes"):
        await network.sync_all()
    return web.json_response(network.list())


@routes.post("/api/networks")
async def networks_create(request: web.Request) -> web.Response:
    """Create a network owned by this node on the given discovery server(s)."""
    body = await json_body(request)
    name = field(body, "name", str)
    if not name:
        raise InvalidRequest("field 'name' names the new network")
    network = await services(request).network.create(name, string_list(body, "discovery"))
    return web.json_response(network.to_json(), status=201)


@routes.post("/api/networks/refresh")
async def networks_refresh(request: web.Request) -> web.Response:
    """Register with every discovery server and read the member lists now."""
    return web.json_response(await services(request).network.refresh())


@routes.get("/api/networks/members")
@routes.get("/api/networks/{network}/members")
async def networks_members(request: web.Request) -> web.Response:
    """Members with their online state; without ``{network}``, of the only network."""
    probe = request.query.get("probe", "1") not in ("0", "false", "no")
    network = request.match_info.get("network")
    members = await services(request).network.members(network, probe=probe)
    return web.json_response(members)


@routes.delete("/api/networks/members/{peer}")
@routes.delete("/api/networks/{network}/members/{peer}")
async def networks_remove_member(request: web.Request) -> web.Response:
    """Remove a member (owner only); without ``{network}``, from the only network."""
    info = request.match_info
    removed = await services(request).network.remove(info.get("network"), info["peer"])
    return web.json_response(removed)


@routes.post("/api/networks/{network}/leave")
async def networks_leave(request: web.Request) -> web.Response:
    network = await services(request).network.leave(request.match_info["network"])
    return web.json_response(network.to_json())


@routes.delete("/api/networks/{network}")
async def networks_close(request: web.Request) -> web.Response:
    network = await services(request).network.close_network(request.match_info["network"])
    return web.json_response(network.to_json())


@routes.get("/api/invites")
async def invites_list(request: web.Request) -> web.Response:
    return web.json_response(services(request).network.invites())


@routes.post("/api/invites")
async def invites_create(request: web.Request) -> web.Response:
    """Sign an invite token: ``network`` (optional when this node is in one), ``uses``,
    ``expires_s``, ``role`` (member or inviter)."""
    body = await json_body(request)
    uses = field(body, "uses", int, 1)
    expires_s = field(body, "expires_s", float, 86_400.0)
    role = field(body, "role", str, "member")
    invite = services(request).network.invite(
        field(body, "network", str), uses=uses, expires_s=expires_s, role=role
    )
    return web.json_response(invite, status=201)


@routes.delete("/api/invites/{invite}")
async def invites_revoke(request: web.Request) -> web.Response:
    revoked = await services(request).network.revoke_invite(request.match_info["invite"])
    return web.json_response(revoked)


@routes.post("/api/join")
async def join(request: web.Request) -> web.Response:
    """Redeem an invite token: become a member and connect to the other members."""
    body = await json_body(request)
    token = field(body, "token", str)
    if not token:
        raise InvalidRequest("field 'token' holds the invite token (it starts with smi1)")
    return web.json_response(await services(request).network.join(token), status=201)
