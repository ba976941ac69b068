"""Discovery server: registrations/s and lookups/s with 10,000 registered peers, beside rendezvous.

Ours: a real :class:`DiscoveryServer` (libp2p host on 127.0.0.1, the endpoint's checks, the
service, the store) on SQLite (a WAL file in the temp dir, ``synchronous=NORMAL``) and on
PostgreSQL (the tests' throwaway cluster: ``fsync=off``, ``synchronous_commit=off``, in
``/dev/shm`` when it has room; skipped without PostgreSQL binaries). Its rate limit is lifted
(``DiscoveryLimits(requests_per_s=1e6, burst=10**6)``): the bench measures the work, not the
limiter. 10,000 peers (``--peers``) are preloaded through the store API (one network, one
multi-use invite, one signed record each), then client hosts (``SmpHost`` + ``DiscoveryClient``,
themselves members) ask over the wire:

* register: a member sends its record again with a higher ``seq`` (records signed beforehand,
  outside the timing; the request's envelope is signed in the timing);
* lookup: ``DiscoveryClient.lookup`` of a random member (the record comes back verified);
* members page: one ``disc.members`` request of 1,000 members, every record in it verified by the
  client as ``DiscoveryClient.members`` does (the verification's share is printed too).

Baseline, same machine, same run, one after the other (never at the same time): py-libp2p's own
rendezvous (``libp2p.discovery.rendezvous``: ``RendezvousService`` on one host,
``RendezvousClient`` on the others, on trio). Its hosts are built as
``protocol/transport/trio_host.py`` builds ours (Noise XX with our cancel-safe wrapper, yamux,
one connection per peer, no auto-dialler, no dial retries), so the transports are the same. The
10,000 registrations are inserted straight into its in-memory table: its own ``register``
refuses a namespace's 1,001st peer (``MAX_REGISTRATIONS = 1000``), and checks that cap before it
looks whether the peer is already there, so the cap is raised for the run (re-registrations of
known peers would fail otherwise). Its ops: register (the same peers register again), discover
``limit=1`` (the nearest it has to a lookup: it cannot ask for one given peer) and discover
``limit=1000``.

Each server runs in its own spawned process by default, as in production, with every client in
this process: ours as five ``SmpHost`` (five trio threads beside this asyncio loop), theirs as five
hosts on one trio loop; the server's CPU time per request is read from ``/proc``, which the
clients' own cost cannot blur. ``--in-process`` runs server and clients in one process (then
ours pays GIL hand-offs between its eight threads that the single-threaded rendezvous does not).

Per op: p50/p95 latency of sequential requests from one client, and throughput with several
clients (``--clients``) each keeping ``--inflight`` lookups in flight; registrations go one at
a time per client (a peer's records must arrive in ``seq`` order), and so do pages (each is
~400 KB). Both sides are measured the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import logging
import multiprocessing
import os
import platform
import random
import secrets
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import percentiles, report

from secondme.discovery.client import DiscoveryClient
from secondme.discovery.server import DiscoveryServer
from secondme.discovery.service import HOUR_MS, DiscoveryLimits
from secondme.discovery.store import open_store
from secondme.discovery.store.base import DiscoveryStore, JoinOutcome
from secondme.protocol.clock import SystemClock
from secondme.protocol.discovery import MemberPage, Members
from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.invites import Role
from secondme.protocol.records import PeerRecord
from secondme.protocol.replay import DEFAULT_MAX_PER_PEER
from secondme.protocol.transport.host import SmpHost
from secondme.protocol.transport.limits import TransportLimits

LOOPBACK = "/ip4/127.0.0.1/tcp/0"
PAGE = 1000
NAMESPACE = "secondme-bench"
RECORD_TTL_MS = 2 * HOUR_MS
WARMUP = 3
"""Untimed registers and lookups per client before any timing (dials, caches, code paths);
one untimed page each too."""
SERVER_START_TIMEOUT_S = 120.0

Op = Callable[[Any], Awaitable[None]]
WITHOUT_CHECKS = "  without the client's record checks"
CHECKS = f"  the client's checks of {PAGE} records"


# -- the population -------------------------------------------------------------------------


@dataclass
class Population:
    """The registered peers, their preloaded records (seq 1) and where they say they listen."""

    network: str
    identities: list[Identity]
    records: list[PeerRecord]
    addrs: list[str]
    """Each peer's transport address, without ``/p2p/<peer>``."""

    @property
    def peers(self) -> list[PeerId]:
        return [identity.peer_id for identity in self.identities]

    def sign(self, index: int, seq: int, expires_ms: int) -> PeerRecord:
        identity = self.identities[index]
        return PeerRecord.sign(
            identity,
            addrs=(f"{self.addrs[index]}/p2p/{identity.peer_id}",),
            display_name=f"peer {index}",
            profile={"city": "Lisbon"},
            seq=seq,
            expires_ms=expires_ms,
        )


def make_population(count: int) -> Population:
    expires_ms = SystemClock().now_ms() + RECORD_TTL_MS
    population = Population(
        network=secrets.token_hex(16),
        identities=[Identity.generate() for _ in range(count)],
        records=[],
        addrs=[f"/ip4/10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}/tcp/4001" for n in range(count)],
    )
    population.records = [population.sign(n, 1, expires_ms) for n in range(count)]
    return population


def limits_for(population: Population) -> DiscoveryLimits:
    return DiscoveryLimits(
        requests_per_s=1e6, burst=10**6, max_members=max(100_000, len(population.records) + 1)
    )


def preload(store: DiscoveryStore, population: Population) -> str:
    """Create the network (peer 0 owns it), join every other peer, store every record; returns
    what it took, for the report."""
    now = SystemClock().now_ms()
    owner = str(population.identities[0].peer_id)
    store.create_network(population.network, "bench", owner, now, max_owned=32)
    invite_id = secrets.token_hex(16)
    max_members = limits_for(population).max_members
    joins_ms = []
    began = time.perf_counter()
    for identity in population.identities[1:]:
        started = time.perf_counter()
        outcome = store.join(
            network=population.network,
            invite_id=invite_id,
            uses=len(population.identities),
            role=Role.MEMBER.value,
            peer=str(identity.peer_id),
            now_ms=now,
            expires_ms=now + 24 * HOUR_MS,
            max_members=max_members,
        )
        joins_ms.append((time.perf_counter() - started) * 1000)
        if outcome != JoinOutcome.JOINED:
            raise RuntimeError(f"preloading a member failed: {outcome}")
    joined = time.perf_counter()
    for record in population.records:
        if not store.put_record(str(record.peer), record.seq, record.expires_ms, record.encoded):
            raise RuntimeError("preloading a record failed")
    hundredth = max(1, len(joins_ms) // 100)
    first, last = percentiles(joins_ms[:hundredth])[0], percentiles(joins_ms[-hundredth:])[0]
    return (
        f"{time.perf_counter() - began:.1f} s: joins {joined - began:.1f} s ({first:.2f} ms each "
        f"at first, {last:.2f} ms at {len(joins_ms):,} members), records "
        f"{time.perf_counter() - joined:.1f} s"
    )


# -- the plan and the figures ---------------------------------------------------------------


def split(total: int, workers: int) -> int:
    """Requests per worker so that ``workers`` of them make about ``total``."""
    return max(1, round(total / workers))


@dataclass(frozen=True)
class Plan:
    clients: int
    inflight: int
    latency_ops: int
    throughput_ops: int
    pages: int

    def records_needed(self, index: int) -> int:
        """Fresh records client ``index`` registers (0 measures latency, the others rate)."""
        if index == 0:
            return WARMUP + self.latency_ops
        return WARMUP + split(self.throughput_ops, self.clients)

    def requests_per_client(self) -> int:
        """The most requests one client sends to one server in a run (warm-up included)."""
        latency = 2 * WARMUP + 1 + 2 * self.latency_ops + self.pages
        rate = (
            2 * WARMUP
            + 1
            + split(self.throughput_ops, self.clients)
            + self.inflight * split(self.throughput_ops, self.clients * self.inflight)
            + split(self.pages, self.clients)
        )
        return max(latency, rate)


@dataclass
class Figures:
    latency_ms: list[float]
    rate: float | None
    done: int
    shape: str
    server_cpu_ms: float | None = None
    """Server CPU time (all its threads) per request in the throughput run, when known."""

    def row(self) -> str:
        p50, p95 = percentiles(self.latency_ms)
        latency = f"p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  (n={len(self.latency_ms)})"
        if self.rate is None:
            return f"{latency}   ({self.shape})"
        cpu = "" if self.server_cpu_ms is None else f"   server CPU {self.server_cpu_ms:6.2f} ms/op"
        return f"{latency}   {self.rate:7,.0f} ops/s  ({self.shape}, {self.done} ops){cpu}"


def prepared_records(population: Population, plan: Plan) -> list[list[PeerRecord]]:
    """Per client, the records it registers in turn: seq 2, 3, ... (the preload holds seq 1)."""
    expires_ms = SystemClock().now_ms() + RECORD_TTL_MS
    return [
        [
            population.sign(index, seq, expires_ms)
            for seq in range(2, plan.records_needed(index) + 2)
        ]
        for index in range(plan.clients + 1)
    ]


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (all its threads), from ``/proc``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class ServerProcess:
    """A server in a spawned process: ``main(pipe, *args)`` sends its address when it listens,
    serves until it receives anything, then sends a dict of notes and returns."""

    def __init__(self, main: Callable[..., None], *args: Any) -> None:
        self._main = main
        self._args = args
        self.addr = ""
        self.notes: dict[str, str] = {}

    def __enter__(self) -> ServerProcess:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=self._main, args=(child, *self._args), daemon=True)
        self._process.start()
        child.close()
        try:
            if not self._pipe.poll(SERVER_START_TIMEOUT_S):
                raise RuntimeError(f"the server did not start in {SERVER_START_TIMEOUT_S:g} s")
            self.addr = self._pipe.recv()
        except BaseException:
            self._stop()
            raise
        return self

    def cpu_s(self) -> float | None:
        return process_cpu_s(self._process.pid)

    def __exit__(self, *exc_info: object) -> None:
        self._stop()

    def _stop(self) -> None:
        with contextlib.suppress(OSError, EOFError):
            self._pipe.send("stop")
            if self._pipe.poll(30):
                self.notes = self._pipe.recv()
        self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._pipe.close()
        if self._process.exitcode:
            raise RuntimeError(f"the server process exited with {self._process.exitcode}")


def cpu_per_op(cpu: Callable[[], float | None], before: float | None, done: int) -> float | None:
    after = cpu()
    if before is None or after is None:
        return None
    return (after - before) * 1000 / done


# -- ours -----------------------------------------------------------------------------------


def ours_server_main(pipe: Connection, target: str, seed: bytes, limits: DiscoveryLimits) -> None:
    """The entry of a spawned discovery server process (``target``: a path or a URL)."""
    asyncio.run(_serve_ours(pipe, target, seed, limits))


async def _serve_ours(pipe: Connection, target: str, seed: bytes, limits: DiscoveryLimits) -> None:
    store = open_store(target)
    try:
        server = DiscoveryServer(Identity.from_seed(seed), [LOOPBACK], store, limits=limits)
        await server.start()
        try:
            pipe.send(server.addrs[0])
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        finally:
            await server.close()
    finally:
        store.close()
    pipe.send({})


async def _unused_handler(peer: PeerId, payload: bytes) -> bytes:
    raise RuntimeError("a bench client serves nothing")


@dataclass
class OurClient:
    api: DiscoveryClient
    records: Iterator[PeerRecord]


async def ours_sequential(op: Op, client: OurClient, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await op(client)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def ours_rate(
    op: Op, clients: Sequence[OurClient], inflight: int, total: int
) -> tuple[float, int, str]:
    per_worker = split(total, len(clients) * inflight)

    async def worker(client: OurClient) -> None:
        for _ in range(per_worker):
            await op(client)

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in clients for _ in range(inflight)))
    done = per_worker * len(clients) * inflight
    return done / (time.perf_counter() - started), done, f"{len(clients)}×{inflight} in flight"


async def ours_clients(
    servers: list[str],
    population: Population,
    records: list[list[PeerRecord]],
    plan: Plan,
    seed: int,
    cpu: Callable[[], float | None],
) -> dict[str, Figures]:
    clock = SystemClock()
    hosts: list[SmpHost] = []
    rng = random.Random(seed)
    peers = population.peers
    expected_page = min(PAGE, len(peers))
    verify_ms: list[float] = []

    async def register(client: OurClient) -> None:
        await client.api.register(servers, next(client.records))

    async def lookup(client: OurClient) -> None:
        await client.api.lookup(servers, rng.choice(peers))

    async def members(client: OurClient) -> None:
        page = await client.api.call(servers, Members(network=population.network, limit=PAGE))
        assert isinstance(page, MemberPage)
        started = time.perf_counter()
        for member in page.members:
            record = PeerRecord.decode(member.record)  # raises if forged or altered
            if str(record.peer) != member.peer:
                raise RuntimeError(f"a record of {record.peer} served as {member.peer}'s")
        verify_ms.append((time.perf_counter() - started) * 1000)
        if len(page.members) != expected_page:
            raise RuntimeError(f"a page of {len(page.members)} members, not {expected_page}")

    try:
        clients = []
        for index in range(plan.clients + 1):
            identity = population.identities[index]
            host = SmpHost(identity.seed, [LOOPBACK], _unused_handler)
            hosts.append(host)
            await host.start()
            api = DiscoveryClient(identity, host, clock)
            clients.append(OurClient(api, iter(records[index])))
        for client in clients:
            for op, count in ((register, WARMUP), (lookup, WARMUP), (members, 1)):
                for _ in range(count):
                    await op(client)

        latency, rated = clients[0], clients[1:]
        figures = {}
        for name, op, inflight, total in (
            ("register", register, 1, plan.throughput_ops),
            ("lookup", lookup, plan.inflight, plan.throughput_ops),
            (f"members page {PAGE}", members, 1, plan.pages),
        ):
            verify_ms.clear()
            samples = await ours_sequential(
                op, latency, plan.pages if op is members else plan.latency_ops
            )
            verified = list(verify_ms)
            before = cpu()
            rate, done, shape = await ours_rate(op, rated, inflight, total)
            figures[name] = Figures(samples, rate, done, shape, cpu_per_op(cpu, before, done))
            if op is members:
                figures[WITHOUT_CHECKS] = Figures(
                    [total - part for total, part in zip(samples, verified, strict=True)],
                    None,
                    len(verified),
                    "the same requests, less the record checks",
                )
                figures[CHECKS] = Figures(
                    verified, None, len(verified), "PeerRecord.decode of each, in the same run"
                )
        return figures
    finally:
        for host in hosts:
            await host.close()


def run_ours(
    target: str,
    population: Population,
    records: list[list[PeerRecord]],
    plan: Plan,
    seed: int,
    in_process: bool,
) -> dict[str, Figures]:
    limits = limits_for(population)
    if not in_process:
        with ServerProcess(ours_server_main, target, os.urandom(32), limits) as server:
            return asyncio.run(
                ours_clients([server.addr], population, records, plan, seed, server.cpu_s)
            )

    async def together() -> dict[str, Figures]:
        store = open_store(target)
        server = DiscoveryServer(Identity.generate(), [LOOPBACK], store, limits=limits)
        try:
            await server.start()
            return await ours_clients(
                server.addrs[:1], population, records, plan, seed, lambda: None
            )
        finally:
            await server.close()
            store.close()

    return asyncio.run(together())


# -- py-libp2p rendezvous -------------------------------------------------------------------


class _QuietEof(logging.Filter):
    """Counts, and keeps off stderr, the error RendezvousService logs when a client closes its
    stream after the answer: it reads on for a next message, gets ``StreamEOF`` (not the clean
    ``IncompleteReadError`` it expects) and logs ``Error handling stream from <peer>: `` with an
    empty reason. The request was answered by then. Any other message passes."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Error handling stream from ") and message.endswith(": "):
            self.count += 1
            return False
        return True


def rendezvous_host(seed: bytes) -> Any:
    """A py-libp2p host built as ``TrioHost._build_host`` builds ours, minus our handler."""
    from libp2p import new_host
    from libp2p.crypto.ed25519 import create_new_key_pair
    from libp2p.crypto.x25519 import create_new_key_pair as create_new_x25519_key_pair
    from libp2p.custom_types import TProtocol
    from libp2p.network.config import ConnectionConfig, RetryConfig
    from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
    from libp2p.security.noise.transport import Transport as NoiseTransport
    from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
    from libp2p.stream_muxer.yamux.yamux import Yamux

    from secondme.protocol.transport.connections import DialOnDemand
    from secondme.protocol.transport.noise import CancelSafeNoise

    key_pair = create_new_key_pair(seed)
    noise = CancelSafeNoise(
        NoiseTransport(
            libp2p_keypair=key_pair, noise_privkey=create_new_x25519_key_pair().private_key
        )
    )
    limits = TransportLimits()
    config = ConnectionConfig(
        max_connections_per_peer=1,
        min_connections=0,
        low_watermark=0,
        dial_timeout=limits.dial_timeout_s,
        inbound_stream_protocol_negotiation_timeout=max(1.0, limits.first_byte_timeout_s),
        outbound_stream_protocol_negotiation_timeout=max(1.0, limits.request_timeout_s),
    )
    host = new_host(
        key_pair=key_pair,
        sec_opt={NOISE_PROTOCOL_ID: noise},
        muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},
        connection_config=config,
    )
    swarm = host.get_network()
    swarm.retry_config = RetryConfig(max_retries=0)
    swarm.auto_connector = DialOnDemand(swarm, config.auto_connect_interval)
    return host


async def running_host(stack: contextlib.AsyncExitStack, seed: bytes) -> Any:
    import multiaddr

    host = rendezvous_host(seed)
    await stack.enter_async_context(host.run([multiaddr.Multiaddr(LOOPBACK)]))
    # Closed before leaving host.run (the exit stack is LIFO), as our TrioHost does.
    stack.push_async_callback(host.close)
    return host


@contextlib.asynccontextmanager
async def rendezvous_server(
    entries: Sequence[tuple[bytes, str]],
) -> AsyncIterator[tuple[str, Callable[[], dict[str, str]]]]:
    """A RendezvousService preloaded with ``entries`` (peer ID multihash, transport address);
    yields its ``/p2p/`` address and a function that returns notes for the report."""
    import multiaddr
    from libp2p.discovery.rendezvous import RendezvousService
    from libp2p.discovery.rendezvous import service as rendezvous_service
    from libp2p.peer.id import ID

    cap = rendezvous_service.MAX_REGISTRATIONS
    rendezvous_service.MAX_REGISTRATIONS = max(cap, len(entries) + 1)
    quiet = _QuietEof()
    service_log = logging.getLogger(rendezvous_service.__name__)
    service_log.addFilter(quiet)
    try:
        async with contextlib.AsyncExitStack() as stack:
            host = await running_host(stack, os.urandom(32))
            service = RendezvousService(host)
            table = service.registrations.setdefault(NAMESPACE, {})
            began = time.perf_counter()
            for multihash, addr in entries:
                peer = ID(multihash)
                table[peer] = rendezvous_service.RegistrationRecord(
                    peer, [multiaddr.Multiaddr(addr).to_bytes()], NAMESPACE, RECORD_TTL_MS // 1000
                )
            notes = {
                "MAX_REGISTRATIONS": f"{cap} per namespace, raised to "
                f"{rendezvous_service.MAX_REGISTRATIONS} for the run",
                "preload": f"{len(table):,} registrations inserted into "
                f"RendezvousService.registrations in {time.perf_counter() - began:.2f} s",
            }

            def final_notes() -> dict[str, str]:
                notes["registrations at the end"] = f"{len(table):,}"
                notes["StreamEOF after answering"] = (
                    f"{quiet.count} streams: the service logs an error when a client closes "
                    "after reading its answer (harmless; kept off stderr)"
                )
                return notes

            yield str(host.get_addrs()[0]), final_notes
    finally:
        service_log.removeFilter(quiet)
        rendezvous_service.MAX_REGISTRATIONS = cap


def rendezvous_server_main(pipe: Connection, entries: list[tuple[bytes, str]]) -> None:
    """The entry of a spawned rendezvous server process."""
    import trio

    trio.run(_serve_rendezvous, pipe, entries)


async def _serve_rendezvous(pipe: Connection, entries: list[tuple[bytes, str]]) -> None:
    import trio

    async with rendezvous_server(entries) as (addr, final_notes):
        pipe.send(addr)
        await trio.to_thread.run_sync(pipe.recv)
        notes = final_notes()
    pipe.send(notes)


async def rendezvous_clients(
    server_addr: str,
    population: Population,
    plan: Plan,
    cpu: Callable[[], float | None],
) -> dict[str, Figures]:
    import multiaddr
    import trio
    from libp2p.discovery.rendezvous import RendezvousClient
    from libp2p.peer.peerinfo import info_from_p2p_addr

    server = info_from_p2p_addr(multiaddr.Multiaddr(server_addr))
    expected_page = min(PAGE, len(population.records))
    ttl_s = RECORD_TTL_MS // 1000

    async def register(client: RendezvousClient) -> None:
        await client.register(NAMESPACE, ttl=ttl_s)

    async def discover_one(client: RendezvousClient) -> None:
        peers, _ = await client.discover(NAMESPACE, limit=1)
        if len(peers) != 1:
            raise RuntimeError(f"discover limit=1 gave {len(peers)} peers")

    async def discover_page(client: RendezvousClient) -> None:
        peers, _ = await client.discover(NAMESPACE, limit=PAGE)
        if len(peers) != expected_page:
            raise RuntimeError(f"discover limit={PAGE} gave {len(peers)} peers")

    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for index in range(plan.clients + 1):
            host = await running_host(stack, population.identities[index].seed)
            await host.connect(server)
            clients.append(RendezvousClient(host, server.peer_id))
        for client in clients:
            for op, count in ((register, WARMUP), (discover_one, WARMUP), (discover_page, 1)):
                for _ in range(count):
                    await op(client)

        async def sequential(op: Op, n: int) -> list[float]:
            samples = []
            for _ in range(n):
                began = time.perf_counter()
                await op(clients[0])
                samples.append((time.perf_counter() - began) * 1000)
            return samples

        async def rate(op: Op, inflight: int, total: int) -> tuple[float, int, str]:
            rated = clients[1:]
            per_worker = split(total, len(rated) * inflight)

            async def worker(client: RendezvousClient) -> None:
                for _ in range(per_worker):
                    await op(client)

            began = time.perf_counter()
            async with trio.open_nursery() as nursery:
                for client in rated:
                    for _ in range(inflight):
                        nursery.start_soon(worker, client)
            done = per_worker * len(rated) * inflight
            return done / (time.perf_counter() - began), done, f"{len(rated)}×{inflight} in flight"

        figures = {}
        for name, op, inflight, total in (
            ("register", register, 1, plan.throughput_ops),
            ("discover limit=1", discover_one, plan.inflight, plan.throughput_ops),
            (f"discover limit={PAGE}", discover_page, 1, plan.pages),
        ):
            samples = await sequential(op, plan.pages if op is discover_page else plan.latency_ops)
            before = cpu()
            speed, done, shape = await rate(op, inflight, total)
            figures[name] = Figures(samples, speed, done, shape, cpu_per_op(cpu, before, done))
        return figures


def run_rendezvous(
    population: Population, plan: Plan, in_process: bool
) -> tuple[dict[str, Figures], dict[str, str]]:
    import trio

    entries = [
        (identity.peer_id.multihash, addr)
        for identity, addr in zip(population.identities, population.addrs, strict=True)
    ]
    if not in_process:
        with ServerProcess(rendezvous_server_main, entries) as server:
            figures = trio.run(rendezvous_clients, server.addr, population, plan, server.cpu_s)
        return figures, server.notes

    async def together() -> tuple[dict[str, Figures], dict[str, str]]:
        async with rendezvous_server(entries) as (addr, final_notes):
            figures = await rendezvous_clients(addr, population, plan, lambda: None)
            return figures, final_notes()

    return trio.run(together)


# -- backends -------------------------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    label: str
    figures: dict[str, Figures] | None
    setup: list[tuple[str, str]]


def run_backend(
    name: str,
    label: str,
    target: str,
    population: Population,
    records: list[list[PeerRecord]],
    args: argparse.Namespace,
) -> Outcome:
    store = open_store(target)
    try:
        preloaded = preload(store, population)
    finally:
        store.close()
    began = time.perf_counter()
    figures = run_ours(target, population, records, args.plan, args.seed, args.in_process)
    return Outcome(
        name,
        label,
        figures,
        [
            (f"{name} preload via the store API", preloaded),
            (f"{name} requests over the wire", f"{time.perf_counter() - began:.1f} s"),
        ],
    )


def sqlite_backend(population, records, args) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="bench-discovery-") as tmp:
        return run_backend(
            "SQLite",
            f"ours, SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL, in {tmp})",
            str(Path(tmp) / "discovery.sqlite"),
            population,
            records,
            args,
        )


def postgres_backend(population, records, args) -> Outcome:
    import psycopg

    from tests.postgres_server import PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer()
    except PostgresUnavailable as exc:
        return Outcome(
            "PostgreSQL", "ours, PostgreSQL: skipped", None, [("PostgreSQL", f"skipped: {exc}")]
        )
    with server:
        url = server.fresh_database("bench")
        with psycopg.connect(url) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
        where = "/dev/shm" if str(server.root).startswith("/dev/shm") else str(server.root)
        return run_backend(
            "PostgreSQL",
            f"ours, PostgreSQL {version} (test cluster: fsync=off, synchronous_commit=off, "
            f"in {where}; 4 store connections)",
            url,
            population,
            records,
            args,
        )


# -- main -----------------------------------------------------------------------------------

DIFFERENCES = [
    ("ours: envelopes", "every request and answer is a signed SMP envelope (Ed25519 sign and"),
    ("", "verify each way), checked for freshness and replay"),
    ("ours: records", "register decodes the peer record and verifies its signature, seq must"),
    ("", "rise, TTL bounded; clients verify every record they get back"),
    ("ours: membership", "register needs a membership, lookup a shared network, a page that"),
    ("", "the asker is a member: one or two indexed queries each"),
    ("ours: durable", "every register is a committed transaction; store calls run on the"),
    ("", "store's thread(s); asyncio <-> trio bridge hops on both client and server"),
    ("ours: wire", "protocol negotiation pipelined with the request (one round trip)"),
    ("theirs: memory", "a dict, gone on restart; addresses stored as sent, nothing signed"),
    ("theirs: auth", "register checks only that the Noise peer registers itself; anyone"),
    ("", "connected may discover any namespace"),
    ("theirs: discover", "scans the whole namespace for expired entries and copies it to a list"),
    ("", "on every call (O(registrations)); limit=1 returns the first registration,"),
    ("", "not a chosen peer (it has no lookup)"),
    ("theirs: wire", "new_stream negotiates the protocol first (one more round trip); all on"),
    ("", "one trio loop, no thread hops"),
]


def ratio_rows(ours: dict[str, Figures], theirs: dict[str, Figures], name: str):
    pairs = (
        ("register", "register", "register"),
        ("lookup", "discover limit=1", "lookup vs discover limit=1"),
        (f"members page {PAGE}", f"discover limit={PAGE}", f"page {PAGE} vs discover {PAGE}"),
        (WITHOUT_CHECKS, f"discover limit={PAGE}", "  the page without its record checks"),
    )
    rows = []
    for mine, other, label in pairs:
        a, b = ours[mine], theirs[other]
        (a50, a95), (b50, b95) = percentiles(a.latency_ms), percentiles(b.latency_ms)
        text = f"latency p50 {a50 / b50:5.2f}×  p95 {a95 / b95:5.2f}×"
        if a.rate and b.rate:
            text += f"   ops/s {a.rate / b.rate:5.2f}×"
        if a.server_cpu_ms and b.server_cpu_ms:
            text += f"   server CPU/op {a.server_cpu_ms / b.server_cpu_ms:5.2f}×"
        rows.append((f"{name}: {label}", text))
    return rows


def load_average() -> str:
    return "  ".join(f"{a:.2f}" for a in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", type=int, default=10_000, help="registered peers preloaded")
    parser.add_argument(
        "--ops",
        type=int,
        default=600,
        help="register and lookup requests per throughput run; latency runs take half as many",
    )
    parser.add_argument("--pages", type=int, default=10, help="member pages per run of each kind")
    parser.add_argument("--clients", type=int, default=4, help="client hosts in throughput runs")
    parser.add_argument("--inflight", type=int, default=4, help="requests in flight per client")
    parser.add_argument(
        "--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres"
    )
    parser.add_argument("--no-rendezvous", action="store_true", help="skip the baseline")
    parser.add_argument(
        "--in-process", action="store_true", help="servers in this process (own threads)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the lookup targets")
    parser.add_argument(
        "--quick", action="store_true", help="1,000 peers, 200 ops, 6 pages: a smoke run"
    )
    args = parser.parse_args()
    if args.quick:
        args.peers, args.ops, args.pages = min(args.peers, 1000), min(args.ops, 200), 6
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(backends) - {"sqlite", "postgres"}:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    if args.clients < 1 or args.inflight < 1 or args.peers <= args.clients:
        parser.error("need --clients >= 1, --inflight >= 1 and --peers > --clients")
    plan = Plan(args.clients, args.inflight, max(1, args.ops // 2), args.ops, args.pages)
    if plan.requests_per_client() >= DEFAULT_MAX_PER_PEER:
        parser.error(
            f"one client would send {plan.requests_per_client()} requests, more than the server's "
            f"replay window holds per peer ({DEFAULT_MAX_PER_PEER} in 2 min); lower --ops/--pages"
        )
    args.plan = plan

    wall = time.perf_counter()
    load_at_start = load_average()
    began = time.perf_counter()
    population = make_population(args.peers)
    records = prepared_records(population, plan)
    signed = sum(map(len, records)) + len(population.records)
    setup = [
        ("identities + signed records", f"{signed:,} signed in {time.perf_counter() - began:.1f} s")
    ]

    outcomes: list[Outcome] = []
    failed = False
    for backend in backends:
        run = sqlite_backend if backend == "sqlite" else postgres_backend
        try:
            outcome = run(population, records, args)
        except Exception as exc:
            import traceback

            traceback.print_exc()
            outcome = Outcome(
                backend, f"ours, {backend}: FAILED", None, [(backend, f"failed: {exc!r}")]
            )
            failed = True
        outcomes.append(outcome)
        setup += outcome.setup

    theirs: dict[str, Figures] | None = None
    notes: dict[str, str] = {}
    if not args.no_rendezvous:
        began = time.perf_counter()
        try:
            theirs, notes = run_rendezvous(population, plan, args.in_process)
            took = f"{time.perf_counter() - began:.1f} s"
        except Exception as exc:
            import traceback

            traceback.print_exc()
            took, failed = f"failed: {exc!r}", True
        setup.append(("rendezvous run (preload + requests)", took))
    setup.append(("load average 1/5/15 min", f"start {load_at_start}; end {load_average()}"))

    where = "this process" if args.in_process else "its own process"
    report(
        f"Discovery, {args.peers:,} registered peers in one network, loopback; "
        f"Python {platform.python_version()}, py-libp2p {importlib.metadata.version('libp2p')}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        [
            ("layout", f"each server in {where}; all clients in this process"),
            (
                "latency",
                f"sequential requests from one client: {plan.latency_ops} registers, "
                f"{plan.latency_ops} lookups, {plan.pages} pages",
            ),
            (
                "throughput",
                f"{plan.clients} other clients; {plan.inflight} lookups in flight per client, "
                "registrations and pages 1",
            ),
            *setup,
        ],
    )
    for outcome in outcomes:
        if outcome.figures is None:
            report(outcome.label, outcome.setup)
        else:
            report(outcome.label, [(name, fig.row()) for name, fig in outcome.figures.items()])
    if theirs is not None:
        report(
            "py-libp2p rendezvous (RendezvousService, in memory), same hosts and transport",
            [(name, fig.row()) for name, fig in theirs.items()]
            + [(f"note: {key}", value) for key, value in notes.items()],
        )
        rows = []
        for outcome in outcomes:
            if outcome.figures is not None:
                rows += ratio_rows(outcome.figures, theirs, outcome.name)
        if rows:
            report("ours / rendezvous (above 1: ours slower or costlier, except ops/s)", rows)
        report("What each does that the other does not (read the ratios with this)", DIFFERENCES)
    print(f"\nwall time {time.perf_counter() - wall:.0f} s")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
