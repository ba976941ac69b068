"""Start, close and misuse: nothing left behind, clear errors for calls at the wrong time."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from secondme.protocol.identity import PeerId
from secondme.protocol.transport import (
    HostClosed,
    HostStateError,
    ListenFailed,
    SmpHost,
)
from tests.integration.transport.conftest import FAST_LIMITS, LOOPBACK, echo

pytestmark = pytest.mark.timeout(60)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
async def test_close_leaves_no_thread_or_socket_and_can_be_called_twice():
    threads_before, fds_before = set(threading.enumerate()), open_fds()

    server = SmpHost(os.urandom(32), [LOOPBACK], echo, limits=FAST_LIMITS)
    client = SmpHost(os.urandom(32), [LOOPBACK], echo, limits=FAST_LIMITS)
    await server.start()
    await client.start()
    await client.connect(server.addrs[0])
    assert await client.request(server.peer_id, b"hi") == b"hi"
    assert await server.request(client.peer_id, b"back") == b"back"
    assert len(set(threading.enumerate()) - threads_before) == 2

    await client.close()
    await server.close()
    await server.close()
    await client.close()

    assert set(threading.enumerate()) == threads_before
    assert open_fds() == fds_before
    assert client.connected_peers() == []


async def test_calls_at_the_wrong_time_are_refused():
    host = SmpHost(os.urandom(32), [LOOPBACK], echo, limits=FAST_LIMITS)
    with pytest.raises(HostStateError):
        await host.request(host.peer_id, b"not started")
    async with host:
        with pytest.raises(HostStateError):
            await host.start()
    with pytest.raises(HostClosed):
        await host.request(host.peer_id, b"closed")
    with pytest.raises(HostStateError):
        await host.start()


async def test_a_request_in_flight_when_the_host_closes_fails_with_host_closed(make_host):
    started = asyncio.Event()

    async def never(peer: PeerId, payload: bytes) -> bytes:
        started.set()
        await asyncio.Event().wait()
        return payload

    server = await make_host(never)
    client = SmpHost(os.urandom(32), [LOOPBACK], echo, limits=FAST_LIMITS)
    await client.start()
    try:
        await client.connect(server.addrs[0])
        pending = asyncio.create_task(client.request(server.peer_id, b"waiting"))
        await started.wait()
    finally:
        await client.close()
    with pytest.raises(HostClosed):
        await pending


async def test_a_bad_listen_address_fails_start_and_leaves_no_thread():
    threads_before = set(threading.enumerate())
    host = SmpHost(os.urandom(32), ["/ip4/192.0.2.1/tcp/0"], echo, limits=FAST_LIMITS)
    with pytest.raises(ListenFailed):
        await host.start()
    assert set(threading.enumerate()) == threads_before
    await host.close()


async def test_only_noise_and_yamux_are_offered(make_host):
    host = await make_host()

    async def offered(libp2p_host) -> tuple[list[str], list[str]]:
        upgrader = libp2p_host.get_network().upgrader
        return (
            [str(p) for p in upgrader.security_multistream.transports],
            [str(p) for p in upgrader.muxer_multistream.transports],
        )

    assert await host.call_in_libp2p(offered) == (["/noise"], ["/yamux/1.0.0"])


def test_a_seed_must_be_32_bytes():
    with pytest.raises(ValueError):
        SmpHost(b"short", [LOOPBACK], echo)


def test_connect_needs_a_p2p_multiaddr():
    from secondme.protocol.transport.host import split_p2p_multiaddr

    with pytest.raises(ValueError, match="/p2p/"):
        split_p2p_multiaddr("/ip4/127.0.0.1/tcp/4001")
    with pytest.raises(ValueError):
        split_p2p_multiaddr("not a multiaddr")


def test_a_host_never_closed_stops_when_its_event_loop_closes():
    """The owner forgot close(): the libp2p thread notices the loop is gone and ends."""
    threads_before = set(threading.enumerate())

    async def start_and_forget() -> None:
        host = SmpHost(os.urandom(32), [LOOPBACK], echo, limits=FAST_LIMITS)
        await host.start()

    asyncio.run(start_and_forget())
    (libp2p_thread,) = set(threading.enumerate()) - threads_before
    libp2p_thread.join(timeout=20)
    assert not libp2p_thread.is_alive()
