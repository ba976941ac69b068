"""SMP over libp2p: what SmpHost adds to a bare py-libp2p stream, and what py-libp2p costs.

Two hosts on loopback; by default the responder runs in a separate process (spawned with
multiprocessing), so the two py-libp2p stacks do not share one GIL. On the same two hosts:

(a) ``SmpHost.request`` round trip, 64-byte payload, echoed by the responder's handler: the full
    path (asyncio -> bridge -> trio -> new stream, protocol negotiation pipelined with the frame
    -> handler on the responder's asyncio loop -> frame back -> bridge -> asyncio);
(b) a bare py-libp2p echo on a raw protocol id registered for the bench, timed inside the trio
    thread: ``host.new_stream`` (which negotiates the protocol: one round trip), same framing,
    no bridge, no handler hop;
(b2) the same bare echo, but negotiated the way SmpHost does it (hello + proposal + frame in one
    write: one round trip less). (a)/(b2) is what the bridge and the handler hop cost;
(c) cold connect: disconnect, then ``connect`` (TCP + Noise XX + yamux negotiation);
(d) a 1 MiB payload echoed through ``SmpHost.request``; MB/s counts both directions (2 MiB).

(a), (b) and (b2) alternate in rounds so that drift in machine load hits them alike.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import percentiles, report

from secondme.protocol.framing import MAX_FRAME_SIZE, encode_frame
from secondme.protocol.identity import PeerId
from secondme.protocol.transport import SmpHost, TransportLimits
from secondme.protocol.transport.streamio import FrameReader, read_frame, write_frame

RAW_ECHO_PROTOCOL = "/secondme/bench/raw-echo/1.0.0"
LOOPBACK = "/ip4/127.0.0.1/tcp/0"
LIMITS = TransportLimits(max_streams_per_peer=64)


async def echo(peer: PeerId, payload: bytes) -> bytes:
    return payload


async def raw_echo(stream: Any) -> None:
    """The bench's bare libp2p handler: one frame in, the same frame out (trio side)."""
    payload = await read_frame(stream, max_size=MAX_FRAME_SIZE)
    if payload is not None:
        await write_frame(stream, payload, max_size=MAX_FRAME_SIZE)
    await stream.close()


async def register_raw_echo(libp2p_host: Any) -> None:
    libp2p_host.set_stream_handler(RAW_ECHO_PROTOCOL, raw_echo)


async def start_responder() -> SmpHost:
    host = SmpHost(os.urandom(32), [LOOPBACK], echo, limits=LIMITS)
    await host.start()
    await host.call_in_libp2p(register_raw_echo)
    return host


async def serve_until_told(pipe: Connection) -> None:
    host = await start_responder()
    try:
        pipe.send(host.addrs[0])
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
    finally:
        await host.close()


def responder_process(pipe: Connection) -> None:
    asyncio.run(serve_until_told(pipe))


async def raw_echo_round_trips(
    requester: SmpHost, server: PeerId, payload: bytes, count: int
) -> list[float]:
    """Milliseconds per bare echo, timed inside the requester's trio thread."""
    from libp2p.peer.id import ID

    remote = ID(server.multihash)

    async def run(libp2p_host: Any) -> list[float]:
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            stream = await libp2p_host.new_stream(remote, [RAW_ECHO_PROTOCOL])
            await write_frame(stream, payload, max_size=MAX_FRAME_SIZE)
            await read_frame(stream, max_size=MAX_FRAME_SIZE)
            await stream.close()
            samples.append((time.perf_counter() - started) * 1000)
        return samples

    return await requester.call_in_libp2p(run)


async def pipelined_echo_round_trips(
    requester: SmpHost, server: PeerId, payload: bytes, count: int
) -> list[float]:
    """Like :func:`raw_echo_round_trips`, with the negotiation pipelined into the first write."""
    from libp2p.peer.id import ID

    remote = ID(server.multihash)
    hello, proposal = b"/multistream/1.0.0\n", RAW_ECHO_PROTOCOL.encode() + b"\n"
    opening = encode_frame(hello) + encode_frame(proposal)

    async def run(libp2p_host: Any) -> list[float]:
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            stream = await libp2p_host.get_network().new_stream(remote)
            await stream.write(opening + encode_frame(payload))
            frames = FrameReader(stream, max_size=MAX_FRAME_SIZE)
            assert await frames.next() == hello and await frames.next() == proposal
            assert await frames.next() == payload
            await stream.close()
            samples.append((time.perf_counter() - started) * 1000)
        return samples

    return await requester.call_in_libp2p(run)


async def smp_round_trips(
    requester: SmpHost, server: PeerId, payload: bytes, count: int
) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = await requester.request(server, payload)
        samples.append((time.perf_counter() - started) * 1000)
        assert response == payload
    return samples


async def measure(server_addr: str, args: argparse.Namespace) -> None:
    requester = SmpHost(os.urandom(32), [LOOPBACK], echo, limits=LIMITS)
    await requester.start()
    try:
        server = await requester.connect(server_addr)
        small = os.urandom(64)
        await smp_round_trips(requester, server, small, 50)
        await raw_echo_round_trips(requester, server, small, 50)
        await pipelined_echo_round_trips(requester, server, small, 50)

        smp: list[float] = []
        raw: list[float] = []
        pipelined: list[float] = []
        per_round = max(1, args.requests // args.rounds)
        for _ in range(args.rounds):
            smp += await smp_round_trips(requester, server, small, per_round)
            raw += await raw_echo_round_trips(requester, server, small, per_round)
            pipelined += await pipelined_echo_round_trips(requester, server, small, per_round)

        connects = []
        for _ in range(args.connects):
            await requester.disconnect(server)
            started = time.perf_counter()
            await requester.connect(server_addr)
            connects.append((time.perf_counter() - started) * 1000)

        big = os.urandom(1024 * 1024)
        await requester.request(server, big)
        big_ms = await smp_round_trips(requester, server, big, args.big)
    finally:
        await requester.close()

    smp_med, smp_p95 = percentiles(smp)
    raw_med, raw_p95 = percentiles(raw)
    pip_med, pip_p95 = percentiles(pipelined)
    con_med, con_p95 = percentiles(connects)
    big_med, big_p95 = percentiles(big_ms)
    mib = 1024 * 1024
    report(
        f"SMP transport, loopback, responder in {args.where}; {platform.processor() or ''}"
        f" {os.cpu_count()} CPUs",
        [
            ("(a) SmpHost.request 64 B", f"median {smp_med:.2f} ms, p95 {smp_p95:.2f} ms"),
            ("    samples", str(len(smp))),
            ("(b) bare libp2p echo 64 B", f"median {raw_med:.2f} ms, p95 {raw_p95:.2f} ms"),
            ("    ratio a/b (median)", f"{smp_med / raw_med:.2f}"),
            ("(b2) bare echo, pipelined", f"median {pip_med:.2f} ms, p95 {pip_p95:.2f} ms"),
            ("    ratio a/b2 (median)", f"{smp_med / pip_med:.2f}"),
            ("(c) cold connect", f"median {con_med:.2f} ms, p95 {con_p95:.2f} ms"),
            ("    samples", str(len(connects))),
            ("(d) 1 MiB round trip", f"median {big_med:.1f} ms, p95 {big_p95:.1f} ms"),
            ("    throughput (2 MiB moved)", f"{2 * mib / (big_med / 1000) / 1e6:.1f} MB/s"),
        ],
    )


async def measure_in_process(args: argparse.Namespace) -> None:
    responder = await start_responder()
    try:
        await measure(responder.addrs[0], args)
    finally:
        await responder.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="64-byte round trips per kind")
    parser.add_argument("--rounds", type=int, default=5, help="alternations of (a), (b), (b2)")
    parser.add_argument(
        "--connects", type=int, default=30, help="cold connects (a responder admits 50, then 10/s)"
    )
    parser.add_argument("--big", type=int, default=20, help="1 MiB round trips")
    parser.add_argument(
        "--in-process", action="store_true", help="responder in this process (its own thread)"
    )
    args = parser.parse_args()
    if args.in_process:
        args.where = "this process (own thread)"
        asyncio.run(measure_in_process(args))
        return
    args.where = "a separate process"
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    responder = context.Process(target=responder_process, args=(theirs,), daemon=True)
    responder.start()
    try:
        asyncio.run(measure(ours.recv(), args))
    finally:
        ours.send("stop")
        responder.join(timeout=30)


if __name__ == "__main__":
    main()
