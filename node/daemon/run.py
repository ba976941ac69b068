"""The daemon: one asyncio process that serves one node until it is told to stop.

Start-up order matters: lock the data dir, open the database and models, start the services
(the application's start-up: libp2p host, then the workers, ``daemon/lifetime.py``), bind the
owner API, and only then write ``daemon.json`` (pid and API address): its appearance is the
"ready" signal the CLI and tests wait for. Shutdown (SIGTERM, SIGINT or ``POST /api/stop``)
removes ``daemon.json`` and runs the same steps backwards (the application's cleanup).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import logging.handlers
import os
import signal
import sys
import time

from aiohttp import web

from secondme.node.access.gate import AccessGate
from secondme.node.access.peer_side import serve_peers
from secondme.node.access.service import AccessService
from secondme.node.access.store import AccessStore, AuditRetention
from secondme.node.api.services import NodeServices
from secondme.node.chat.history import ChatHistory
from secondme.node.chat.service import ChatService
from secondme.node.core.config import DataDir, NodeConfig
from secondme.node.core.datadir_lock import DataDirLock
from secondme.node.core.db import Database
from secondme.node.core.errors import ConfigError
from secondme.node.core.fsutil import atomic_write
from secondme.node.core.keystore import load_identity, read_token
from secondme.node.daemon.app import build_app
from secondme.node.groups.service import GroupService
from secondme.node.groups.store import GroupStore
from secondme.node.http.origin import is_loopback_name
from secondme.node.l2.service import TrainService
from secondme.node.l2.store import L2Store
from secondme.node.memory.l1.service import L1Service
from secondme.node.memory.recall import Recall
from secondme.node.memory.service import Memory
from secondme.node.models import locate
from secondme.node.models.embedder import Embedder
from secondme.node.models.llm import ChatModel
from secondme.node.network.service import NetworkService
from secondme.node.network.store import NetworkStore
from secondme.node.p2p.service import P2PService
from secondme.node.people.owner import OwnerStore
from secondme.node.people.peers import PeerStore
from secondme.node.people.roles import RoleStore
from secondme.protocol.clock import SystemClock
from secondme.protocol.transport.host import SmpHost

log = logging.getLogger("secondme.node")


def configure_logging(data_dir: DataDir, level: int = logging.INFO) -> None:
    data_dir.logs.mkdir(parents=True, exist_ok=True)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    to_file = logging.handlers.RotatingFileHandler(
        data_dir.logs / "node.log", maxBytes=10 * 1024 * 1024, backupCount=3
    )
    to_stderr = logging.StreamHandler(sys.stderr)
    root = logging.getLogger()
    for handler in (to_file, to_stderr):
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("aiohttp.access", "sentence_transformers", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


async def _open_services(
    data_dir: DataDir, config: NodeConfig, passphrase: str | None
) -> NodeServices:
    identity = load_identity(data_dir.identity_key, passphrase)
    token = read_token(data_dir)
    model_path = locate.chat_model_path(config.models.chat_model)
    embedder_path = locate.embedder_path(config.models.embedder)
    db = Database(data_dir.database)
    log.info("loading embedder %s", embedder_path)
    embedder = await asyncio.to_thread(Embedder, embedder_path)
    memory = Memory(data_dir, db, config.memory, embedder)
    await asyncio.to_thread(memory.open)
    log.info("loading chat model %s", model_path)
    model = ChatModel(
        model_path, context_tokens=config.models.context_tokens, threads=config.models.threads
    )
    await model.start()
    owner, roles, peers = OwnerStore(db), RoleStore(db), PeerStore(db)
    l1 = L1Service(memory, model, owner, config.memory)
    chat = ChatService(
        model=model,
        memory=memory,
        owner=owner,
        roles=roles,
        history=ChatHistory(db),
        settings=config.models,
        retrieve_k=config.memory.retrieve_k,
    )
    chat.recall = Recall(memory)
    clock = SystemClock()
    access_store = AccessStore(
        db,
        AuditRetention(
            keep_days=config.access.audit_keep_days,
            max_rows=config.access.audit_max_rows,
            coalesce_ms=config.access.audit_coalesce_s * 1000,
        ),
    )
    access_store.prune_audit(clock.now_ms())
    gate = AccessGate(identity, access_store, clock, default_policy=config.access.default_policy)
    p2p = P2PService(
        identity,
        config.p2p.listen,
        peers=peers,
        owner=owner,
        gate=gate,
        grant_holders=access_store.grant_holders,
        clock=clock,
        host=SmpHost,
    )
    access = AccessService(
        identity=identity,
        store=access_store,
        gate=gate,
        p2p=p2p,
        peers=peers,
        memory=memory,
    )
    chat.peer_notes = access.peer_notes
    network = NetworkService(
        identity=identity,
        store=NetworkStore(db),
        p2p=p2p,
        peers=peers,
        owner=owner,
        clock=clock,
        settings=config.network,
        announce=config.p2p.announce,
    )
    groups = GroupService(
        identity=identity,
        store=GroupStore(db),
        p2p=p2p,
        peers=peers,
        access=access,
        gate=gate,
        chat=chat,
        memory=memory,
        owner=owner,
        settings=config.groups,
        clock=clock,
    )
    l2 = TrainService(
        data_dir=data_dir,
        store=L2Store(db),
        memory=memory,
        model=model,
        owner=owner,
        settings=config.l2,
    )
    await l2.start()
    access.model_for = l2.model_for
    serve_peers(
        p2p,
        identity=identity,
        store=access_store,
        gate=gate,
        memory=memory,
        chat=chat,
        owner=owner,
        settings=config.access,
        model_for=l2.model_for,
    )
    return NodeServices(
        data_dir=data_dir,
        config=config,
        identity=identity,
        token=token,
        db=db,
        memory=memory,
        l1=l1,
        chat=chat,
        owner=owner,
        roles=roles,
        peers=peers,
        p2p=p2p,
        access=access,
        network=network,
        groups=groups,
        l2=l2,
    )


async def _bind(runner: web.AppRunner, host: str, port: int) -> int:
    """Listen on ``host:port`` (0: a free port); the port bound."""
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"API port {port} on {host} is in use; choose another with --api-port "
                "(0 picks a free one)"
            ) from None
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return int(runner.addresses[0][1])


async def run_daemon(data_dir: DataDir, config: NodeConfig, passphrase: str | None) -> None:
    """Serve until asked to stop. Raises :class:`NodeError` for start-up problems."""
    lock = DataDirLock(data_dir)
    lock.acquire()
    data_dir.daemon_record.unlink(missing_ok=True)  # left by a killed daemon: we hold the lock
    runner: web.AppRunner | None = None
    try:
        if not is_loopback_name(config.api.host):
            log.warning(
                "the owner API listens on %s, not loopback: anyone who can reach it and has "
                "the token controls this node",
                config.api.host,
            )
        node = await _open_services(data_dir, config, passphrase)
        runner = web.AppRunner(build_app(node), access_log=None, handle_signals=False)
        await runner.setup()  # the application's start-up starts the services
        port = await _bind(runner, config.api.host, config.api.port)
        p2p_addrs = node.p2p.addrs
        url = f"http://{config.api.host}:{port}"
        record = {
            "pid": os.getpid(),
            "api_url": url,
            "peer_id": str(node.identity.peer_id),
            "p2p": p2p_addrs,
            "started_at": time.time(),
        }
        atomic_write(data_dir.daemon_record, json.dumps(record).encode(), mode=0o600)
        log.info("ready: peer %s, owner API on %s", node.identity.peer_id, url)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, node.stop_requested.set)
        await node.stop_requested.wait()
        log.info("stopping")
    finally:
        with contextlib.suppress(FileNotFoundError):
            data_dir.daemon_record.unlink()
        if runner is not None:
            await runner.cleanup()  # ends live streams, then the services, in reverse
        lock.release()
        log.info("stopped")
