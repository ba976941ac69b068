"""The node as an MCP server (stdio): its memory and its voice as tools for MCP clients.

Every tool is one call to the owner API with the owner token, exactly what the CLI does, so an MCP
client passes the same authorisation path and sees nothing the owner's own CLI would not. A
tool's arguments are data, never a route: they go into request bodies, and a peer goes into a
path only as a checked, quoted segment (:func:`peer_path`). The client to the daemon follows
``daemon.json``: the MCP server outlives daemon restarts, and a tool called while no daemon
runs answers with that, not a crash.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from secondme import node as node_package
from secondme.node.cli.client import NodeClient, peer_path
from secondme.node.core.config import DataDir
from secondme.node.core.errors import NodeError, NotRunning

INSTRUCTIONS = (
    "Tools of the owner's Second Me node: search_memory finds passages of the owner's own notes "
    "and documents; ask_self answers a question as the owner would, grounded in that memory; "
    "list_topics and get_profile give what the node has learned of the owner; list_peers and "
    "ask_peer reach other people's nodes, within the grants they gave this one."
)


def hit_label(hit: dict[str, Any]) -> str:
    """Where a search hit came from: a document's name, an L1 record's title, or a peer."""
    source = hit.get("source") or {}
    if hit.get("layer") == "peer":
        return f"shared by {hit.get('peer')}: {hit.get('title')}"
    if source:
        name = source.get("name") or source.get("path")
        turns = source.get("turns")
        where = (
            f"turns {turns[0]}–{turns[1]}" if turns else f"part {source.get('chunk_index', 0) + 1}"
        )
        when = f", {source['when']}" if source.get("when") else ""
        return f"{name}, {where}{when}"
    if hit.get("from"):
        return f"{hit.get('kind', 'memory')}: {hit.get('title')} (from {hit['from']})"
    return f"{hit.get('kind', 'memory')}: {hit.get('title')}"


def format_hits(hits: list[dict[str, Any]]) -> str:
    if not hits:
        return "No memory matches."
    return "\n\n".join(
        f"[{i}] {hit_label(hit)} (score {hit['score']:.3f})\n{hit['text'].strip()}"
        for i, hit in enumerate(hits, 1)
    )


class DaemonLink:
    """One owner-API client, kept while ``daemon.json`` names the same daemon: a new client per
    call would cost more than the call (a fresh connection and HTTP client each time)."""

    def __init__(self, data_dir: DataDir) -> None:
        self._data_dir = data_dir
        self._record: bytes | None = None
        self._client: NodeClient | None = None
        self._lock = threading.Lock()  # tools run in worker threads, maybe several at once

    def client(self) -> NodeClient:
        try:
            record = self._data_dir.daemon_record.read_bytes()
        except OSError:
            record = None
        with self._lock:
            if self._client is None or record != self._record:
                self._drop()
                self._client = NodeClient.for_data_dir(self._data_dir)  # NotRunning if none
                self._record = record
            return self._client

    def forget(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client, self._record = None, None


def build_server(data_dir: DataDir) -> MCPServer:
    """The MCP server for the node of ``data_dir`` (the daemon must be running to answer)."""
    server = MCPServer("secondme-node", version=node_package.__version__, instructions=INSTRUCTIONS)

    link = DaemonLink(data_dir)

    async def call(work: Callable[[NodeClient], Any]) -> Any:
        def run() -> Any:
            try:
                return work(link.client())
            except NotRunning as exc:
                link.forget()
                raise ToolError(exc.message) from None
            except NodeError as exc:
                raise ToolError(exc.message) from None

        return await anyio.to_thread.run_sync(run)

    @server.tool()
    async def search_memory(query: str, k: int = 5, layer: str = "all") -> str:
        """Search the owner's memory. layer: "l0" (passages of documents and notes), "l1" (the
        node's own insights, topics and entities) or "all". Returns the best k matches."""
        body = {"query": query, "k": k, "layer": layer}
        return format_hits(await call(lambda api: api.post("/api/memory/search", body)))

    @server.tool()
    async def ask_self(question: str, role: str | None = None) -> str:
        """Ask the owner's Second Me; it answers as the owner, from the owner's memory, and names
        its sources. role: a role-play persona the owner made (see the node's roles)."""

        def ask(api: NodeClient) -> str:
            body = {"message": question, **({"role": role} if role else {})}
            answer, sources, used = [], [], None
            for event, data in api.stream("/api/chat", body):
                if event == "sources":
                    sources = [hit_label(hit) for hit in data["sources"]]
                elif event == "grounding":
                    used = [sources[n - 1] for n in data["used"] if 0 < n <= len(sources)]
                elif event == "token":
                    answer.append(data["text"])
                elif event == "error":
                    raise NodeError(data["message"])
            if used is not None:  # the memories the answer rests on, not all it was given
                sources = used
            cited = "".join(f"\n- {s}" for s in sources)
            return "".join(answer).strip() + (f"\n\nSources:{cited}" if sources else "")

        return await call(ask)

    @server.tool()
    async def list_topics() -> str:
        """The topics the node found across the owner's memory, with their descriptions."""
        topics = await call(lambda api: api.get("/api/memory/topics"))
        if not topics:
            return "No topics yet: the node makes them once it has read some documents."
        return "\n".join(
            f"- {t['name']} ({len(t['documents'])} documents): {t['description']}" for t in topics
        )

    @server.tool()
    async def get_profile() -> str:
        """The owner's profile (biography) as the node wrote it from their memory."""
        profile = await call(lambda api: api.get("/api/memory/profile"))
        if not profile["version"]:
            return "No profile yet: the node writes one once it has read some documents."
        return f"(profile version {profile['version']})\n{profile['third_person']}"

    @server.tool()
    async def list_peers() -> str:
        """Other people's nodes this node knows, with whether they are online."""
        peers = await call(lambda api: api.get("/api/peers"))
        if not peers:
            return "This node knows no peers yet."
        return "\n".join(
            f"- {p['name'] or p['display_name'] or '(no name)'} {p['peer_id']} "
            + ("online" if p["online"] else "offline")
            for p in peers
        )

    @server.tool()
    async def ask_peer(peer: str, question: str) -> str:
        """Ask another person's node; it answers as its owner, within the grant its owner gave
        this node (without one the peer refuses). peer: a peer ID or a peer's name, as
        list_peers shows them (letters, digits, '.', '_', '-')."""
        result = await call(lambda api: api.post(peer_path(peer, "ask"), {"question": question}))
        return result["answer"]

    return server


def serve(data_dir: DataDir) -> None:
    """Serve MCP over stdin/stdout until the client closes them."""
    server = build_server(data_dir)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a log line per API call
    server.run("stdio")
