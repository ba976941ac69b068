"""The owner API's routes: status, identity, owner profile, roles, memory, chat.

Handlers translate HTTP to calls on :class:`NodeServices` and back; they hold no logic of
their own. Every route sits behind the owner-token middleware.
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import time
from typing import Any

from aiohttp import web

from secondme import node as node_package
from secondme.node.api.services import NodeServices
from secondme.node.api.sse import open_stream, relay_events, send_event
from secondme.node.chat.service import Grounding, Sources
from secondme.node.core.config import VECTOR_BACKENDS, save_config
from secondme.node.core.errors import InvalidRequest, NotFound
from secondme.node.http.body import field, json_body
from secondme.node.memory.documents import DocumentRecord
from secondme.node.memory.l1.facts import parse_when
from secondme.node.models.llm import Finished, Piece
from secondme.node.people.naming import check_peer_ref

routes = web.RouteTableDef()
SEARCH_LAYERS = {"l0": ("l0",), "l1": ("l1",), "all": ("l0", "l1")}
SERVICES = web.AppKey("services", NodeServices)


def services(request: web.Request) -> NodeServices:
    return request.app[SERVICES]


def path_peer(request: web.Request) -> str:
    """The path's ``{peer}``, refused unless it can name a peer (a peer ID or a name): text
    that no peer is called by is a mistake or an attempt, and is never looked up."""
    return check_peer_ref(request.match_info["peer"])


def string_list(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f"field '{name}' must be a list of strings")
    return value


# -- node --------------------------------------------------------------------------------------


@routes.get("/api/status")
async def status(request: web.Request) -> web.Response:
    node = services(request)
    return web.json_response(
        {
            "peer_id": str(node.identity.peer_id),
            "version": node_package.__version__,
            "pid": os.getpid(),
            "python": sys.version.split()[0],
            "data_dir": str(node.data_dir.root),
            "uptime_s": round(time.time() - node.started_at, 1),
            "schema_version": node.db.schema_version,
            "p2p": {"listen": node.p2p.addrs, "peers": len(node.peers.list())},
            "access": node.access.summary(),
            "chat_model": node.chat.model.name,
            "generation_queue": node.chat.model.pending,
            "l2": node.l2.summary(),
            "memory": node.memory.stats(),
        }
    )


@routes.get("/api/id")
async def identity(request: web.Request) -> web.Response:
    node = services(request)
    return web.json_response(
        {
            "peer_id": str(node.identity.peer_id),
            "public_key": node.identity.public_key.hex(),
            "listen": node.p2p.addrs,
            "api": f"http://{request.host}",
        }
    )


@routes.post("/api/stop")
async def stop(request: web.Request) -> web.Response:
    services(request).stop_requested.set()
    return web.json_response({"stopping": True})


# -- owner profile and roles -------------------------------------------------------------------


@routes.get("/api/me")
async def me_show(request: web.Request) -> web.Response:
    return web.json_response(services(request).owner.get().to_json())


@routes.patch("/api/me")
async def me_set(request: web.Request) -> web.Response:
    body = await json_body(request)
    values = body.get("fields", {})
    public = body.get("public", {})
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise InvalidRequest("'fields' must map field names to strings")
    if not isinstance(public, dict) or not all(isinstance(v, bool) for v in public.values()):
        raise InvalidRequest("'public' must map field names to true or false")
    return web.json_response(services(request).owner.update(values, public).to_json())


@routes.get("/api/roles")
async def roles_list(request: web.Request) -> web.Response:
    return web.json_response([r.to_json() for r in services(request).roles.list()])


@routes.post("/api/roles")
async def roles_add(request: web.Request) -> web.Response:
    body = await json_body(request)
    name = field(body, "name", str)
    prompt = field(body, "system_prompt", str)
    if not name or not prompt:
        raise InvalidRequest("a role needs 'name' and 'system_prompt'")
    role = services(request).roles.add(
        name,
        prompt,
        description=field(body, "description", str, ""),
        layers=tuple(string_list(body, "layers") or ["l0"]),
        replace=field(body, "replace", bool, False),
    )
    return web.json_response(role.to_json(), status=201)


@routes.get("/api/roles/{name}")
async def roles_get(request: web.Request) -> web.Response:
    return web.json_response(services(request).roles.get(request.match_info["name"]).to_json())


@routes.delete("/api/roles/{name}")
async def roles_remove(request: web.Request) -> web.Response:
    services(request).roles.remove(request.match_info["name"])
    return web.json_response({"removed": request.match_info["name"]})


# -- memory ------------------------------------------------------------------------------------


@routes.post("/api/memory/ingest")
async def memory_ingest(request: web.Request) -> web.Response:
    """The file's raw bytes in the body; its ``path``, any ``tag``s, optionally its ``mtime``
    (modification time, epoch seconds: the memory's time when nothing else tells it) and ``me``
    (the speaker who is the owner in a chat export) in the query."""
    path = request.query.get("path", "").strip()
    if not path:
        raise InvalidRequest("query parameter 'path' names the file being ingested")
    mtime = ingest_mtime(request.query.get("mtime"))
    data = await request.read()
    me = request.query.get("me", "").strip() or None
    if me is not None and len(me) > 200:
        raise InvalidRequest("query parameter 'me' is a speaker's name: at most 200 characters")
    result = await services(request).memory.ingest(
        path, data, request.query.getall("tag", []), mtime, me
    )
    return web.json_response(result.to_json())


def ingest_mtime(raw: str | None) -> float | None:
    """The ``mtime`` query parameter as epoch seconds; a clear error for anything else."""
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 <= value < 253_402_300_800:  # before year 10000
        raise InvalidRequest(f"query parameter 'mtime' must be epoch seconds, not {raw[:40]!r}")
    return value


@routes.get("/api/memory/documents")
async def memory_documents(request: web.Request) -> web.Response:
    """Each with ``l1``: its own L1 job's state (and error), or ``null`` where L1 has none."""
    node = services(request)
    docs = node.memory.documents.list(tag=request.query.get("tag"))
    l1 = node.l1.document_states()
    return web.json_response([{**d.to_json(), "l1": l1.get(d.id)} for d in docs])


def document_or_404(request: web.Request) -> DocumentRecord:
    doc = services(request).memory.documents.get(request.match_info["doc_id"])
    if doc is None:
        raise NotFound(f"no document with id {request.match_info['doc_id']}")
    return doc


@routes.get("/api/memory/documents/{doc_id}")
async def memory_document(request: web.Request) -> web.Response:
    return web.json_response(document_or_404(request).to_json())


@routes.delete("/api/memory/documents/{doc_id}")
async def memory_forget(request: web.Request) -> web.Response:
    node = services(request)
    doc = document_or_404(request)
    removed = await node.memory.forget(doc)
    node.l1.documents_forgotten()
    return web.json_response({"forgot": doc.to_json(), "vector_points_removed": removed})


@routes.get("/api/memory/documents/{doc_id}/insight")
async def memory_insight(request: web.Request) -> web.Response:
    """A document's L1 insight (title, overview, key points, summary), once L1 has made it."""
    node = services(request)
    doc = document_or_404(request)
    insight = node.memory.l1.insights.get(doc.id)
    if insight is not None and insight["content_hash"] != doc.content_hash:
        insight = None  # made from an older version of the file
    return web.json_response({"document": doc.to_json(), "insight": insight})


@routes.get("/api/memory/status")
async def memory_status(request: web.Request) -> web.Response:
    """L1 work: pending, running, done and failed jobs, and recordings being transcribed.
    ``?wait=SECONDS`` first waits (up to that long) until no work is pending."""
    node = services(request)
    wait = request.query.get("wait")
    if wait is not None:
        try:
            seconds = float(wait)
        except ValueError:
            raise InvalidRequest("query parameter 'wait' must be a number of seconds") from None
        deadline = time.monotonic() + max(0.0, min(seconds, 24 * 3600))
        await node.memory.transcriptions.wait_idle(deadline - time.monotonic())
        await node.l1.wait_idle(max(0.0, deadline - time.monotonic()))
    return web.json_response({**node.l1.status(), "memory": node.memory.stats()})


@routes.get("/api/memory/topics")
async def memory_topics(request: web.Request) -> web.Response:
    return web.json_response(services(request).memory.l1.topics.list())


@routes.delete("/api/memory/topics/{topic}")
async def memory_forget_topic(request: web.Request) -> web.Response:
    """Forget a topic and the documents that are mostly about it (more than half their chunks)."""
    node = services(request)
    topic = node.memory.l1.topics.find(request.match_info["topic"])
    if topic is None:
        raise NotFound(f"no topic {request.match_info['topic']!r}")
    in_topic = set(topic["chunks"])
    forgot = []
    for entry in topic["documents"]:
        doc = node.memory.documents.get(entry["doc_id"])
        if doc is None:
            continue
        chunks = [c.id for c in node.memory.documents.chunks_of(doc.id)]
        if chunks and sum(c in in_topic for c in chunks) * 2 > len(chunks):
            await node.memory.forget(doc)
            forgot.append(doc.to_json())
    gone = node.memory.l1.topics.remove(topic["id"])
    node.memory.collect_garbage(gone)
    node.l1.documents_forgotten()
    return web.json_response({"forgot_topic": topic["name"], "forgot_documents": forgot})


@routes.get("/api/memory/profile")
async def memory_profile(request: web.Request) -> web.Response:
    """The newest profile version, or ``?version=N``; an empty profile while memory is empty."""
    l1 = services(request).memory.l1
    version = request.query.get("version")
    if version is not None and not version.isdigit():
        raise InvalidRequest("query parameter 'version' must be a positive number")
    profile = l1.profiles.get(int(version) if version else None)
    versions = l1.profiles.versions()
    if profile is None and version:
        raise NotFound(f"no profile version {version} (versions: {versions or 'none yet'})")
    empty = {"version": 0, "first_person": "", "third_person": "", "recently": "", "topics": []}
    return web.json_response({**(profile or empty), "versions": versions})


@routes.get("/api/memory/facts")
async def memory_facts(request: web.Request) -> web.Response:
    """What memory says about the owner and the people they name: the current facts, those
    true ``?at=DATE``, only ``?about=NAME`` (repeatable), or every statement with ``?all=1``."""
    query = request.query
    at = None
    if query.get("at"):
        try:
            at = parse_when(query["at"])
        except ValueError as exc:
            raise InvalidRequest(f"query parameter 'at': {exc}") from None
    facts = await asyncio.to_thread(
        services(request).memory.l1.facts.facts,
        at=at,
        about=query.getall("about", []),
        include_ended=query.get("all") in ("1", "true", "yes"),
    )
    return web.json_response({"at": at, "facts": [f.to_json() for f in facts]})


@routes.get("/api/memory/entities")
async def memory_entities(request: web.Request) -> web.Response:
    """The entity graph; ``?name=`` one entity and its neighbours, ``?kind=`` one kind."""
    query = request.query
    return web.json_response(
        services(request).memory.l1.entities.list(name=query.get("name"), kind=query.get("kind"))
    )


@routes.post("/api/memory/search")
async def memory_search(request: web.Request) -> web.Response:
    body = await json_body(request)
    query = field(body, "query", str)
    if not query or not query.strip():
        raise InvalidRequest("field 'query' must be a non-empty string")
    k = field(body, "k", int, 10)
    if not 1 <= k <= 200:
        raise InvalidRequest("field 'k' must be between 1 and 200")
    layer = field(body, "layer", str, "l0")
    if layer not in SEARCH_LAYERS:
        raise InvalidRequest(f"field 'layer' must be one of {', '.join(SEARCH_LAYERS)}")
    hits = await services(request).memory.search(
        query, k=k, tags=string_list(body, "tags"), layers=SEARCH_LAYERS[layer]
    )
    return web.json_response([h.to_json() for h in hits])


@routes.post("/api/memory/reindex")
async def memory_reindex(request: web.Request) -> web.Response:
    """Rebuild the vector store from SQLite, optionally into another backend."""
    node = services(request)
    body = await json_body(request)
    backend = field(body, "backend", str, node.config.memory.vector_backend)
    url = field(body, "qdrant_url", str, node.config.memory.qdrant_url)
    if backend not in VECTOR_BACKENDS:
        raise InvalidRequest(f"backend must be one of {', '.join(VECTOR_BACKENDS)}")
    config = node.config.with_changes("memory", vector_backend=backend, qdrant_url=url)
    started = time.perf_counter()
    count = await asyncio.to_thread(node.memory.reindex, config.memory)
    save_config(node.data_dir.config, config)
    node.config = config
    return web.json_response(
        {
            "backend": backend,
            "points": count,
            "seconds": round(time.perf_counter() - started, 2),
        }
    )


# -- chat --------------------------------------------------------------------------------------


@routes.post("/api/chat")
async def chat(request: web.Request) -> web.StreamResponse:
    """Streams ``sources`` (the memories given to the model, dated), then ``token`` events (only
    sentences the memories support), ``grounding`` (which sources the answer used, or that the
    node did not remember), then ``done`` (or ``error``) as SSE."""
    node = services(request)
    body = await json_body(request)
    message = field(body, "message", str)
    if not message or not message.strip():
        raise InvalidRequest("field 'message' must be a non-empty string")
    events = node.chat.chat(
        message,
        session_id=field(body, "session_id", str),
        role=field(body, "role", str),
    )
    first = await anext(events)  # errors before streaming (unknown role) become plain JSON
    assert isinstance(first, Sources)
    response = await open_stream(request)
    await send_event(
        response,
        "sources",
        {"session_id": first.session_id, "sources": [h.to_json() for h in first.hits]},
    )

    def chat_event(event: Piece | Grounding | Finished) -> tuple[str, dict] | None:
        if isinstance(event, Piece):
            return "token", {"text": event.text}
        if isinstance(event, Grounding):
            return "grounding", event.to_json()
        if isinstance(event, Finished):
            done = {
                "session_id": first.session_id,
                "finish_reason": event.finish_reason,
                "completion_tokens": event.completion_tokens,
            }
            return "done", done
        return None

    return await relay_events(response, events, chat_event)


@routes.get("/api/chat/sessions")
async def chat_sessions(request: web.Request) -> web.Response:
    return web.json_response(services(request).chat.history.sessions())


@routes.get("/api/chat/sessions/{session_id}")
async def chat_session(request: web.Request) -> web.Response:
    messages = services(request).chat.history.messages(request.match_info["session_id"], limit=1000)
    if not messages:
        raise NotFound(f"no chat session {request.match_info['session_id']!r}")
    return web.json_response(messages)


# -- peers -------------------------------------------------------------------------------------


@routes.get("/api/peers")
async def peers_list(request: web.Request) -> web.Response:
    """Known peers, each with the networks it shares with this node and whether it is
    connected now (``peers`` in the CLI)."""
    node = services(request)
    connected = {str(p) for p in node.p2p.host.connected_peers()}
    shared = node.network.store.networks_of_peers()
    return web.json_response(
        [
            {**p.to_json(), "online": p.peer_id in connected, "networks": shared.get(p.peer_id, [])}
            for p in node.peers.list()
        ]
    )


@routes.post("/api/peers")
async def peers_add(request: web.Request) -> web.Response:
    """Dial a peer by its full multiaddr (ending in /p2p/<peer id>) and remember it."""
    body = await json_body(request)
    multiaddr = field(body, "multiaddr", str)
    if not multiaddr:
        raise InvalidRequest("field 'multiaddr' names the peer, ending in /p2p/<peer id>")
    peer = await services(request).p2p.add_peer(multiaddr, field(body, "name", str))
    return web.json_response(peer.to_json(), status=201)


@routes.delete("/api/peers/{peer}")
async def peers_remove(request: web.Request) -> web.Response:
    node = services(request)
    peer = node.peers.remove(path_peer(request))
    await node.p2p.forget(peer)
    return web.json_response({"removed": peer.to_json()})


@routes.post("/api/peers/{peer}/ping")
async def peers_ping(request: web.Request) -> web.Response:
    node = services(request)
    body = await json_body(request)
    count = field(body, "count", int, 1)
    if not 1 <= count <= 100:
        raise InvalidRequest("field 'count' must be between 1 and 100")
    peer = node.peers.resolve(path_peer(request))
    rtts = [round(await node.p2p.ping(peer), 3) for _ in range(count)]
    return web.json_response({"peer_id": peer.peer_id, "rtt_ms": rtts})


@routes.post("/api/peers/{peer}/hello")
async def peers_hello(request: web.Request) -> web.Response:
    node = services(request)
    peer = node.peers.resolve(path_peer(request))
    answer = await node.p2p.hello(peer)
    return web.json_response(
        {
            "peer_id": peer.peer_id,
            "display_name": answer.display_name,
            "versions": [str(v) for v in answer.versions],
            "profile": dict(answer.profile),
            "agent": answer.agent,
        }
    )
