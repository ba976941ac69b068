"""Which peers this host is connected to, and the policy for opening connections (trio side).

py-libp2p tracks connections inside its swarm, readable only from the trio thread; the node asks
"who is connected?" from asyncio and the idle sweeper asks "who has been quiet?", so this table
follows connect/disconnect notifications under a lock of its own.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import multiaddr
from libp2p.abc import INetConn, INetStream, INetwork, INotifee
from libp2p.network.auto_connector import AutoConnector
from libp2p.peer.id import ID

from secondme.protocol.identity import PeerId


def to_libp2p(peer: PeerId) -> ID:
    return ID(peer.multihash)


def from_libp2p(peer: ID) -> PeerId:
    return PeerId(peer.to_bytes())


class DialOnDemand(AutoConnector):
    """py-libp2p's auto-connector dials peers from the peerstore until ~150 connections are
    open; an SMP node connects to a peer only when it has something to send it."""

    async def maybe_connect(self) -> None:
        return None


class ConnectionWatcher(INotifee):
    """A notifee that cares only for connections: streams and listeners are ignored."""

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None


class ConnectionTable(ConnectionWatcher):
    """Which peers are connected and when each was last used; readable from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count: Counter[PeerId] = Counter()
        self._busy: Counter[PeerId] = Counter()
        self._last_used: dict[PeerId, float] = {}

    def peers(self) -> list[PeerId]:
        with self._lock:
            return list(self._count)

    def begin(self, peer: PeerId) -> None:
        with self._lock:
            self._busy[peer] += 1
            self._last_used[peer] = time.monotonic()

    def end(self, peer: PeerId) -> None:
        with self._lock:
            self._busy[peer] -= 1
            if self._busy[peer] <= 0:
                del self._busy[peer]
            self._last_used[peer] = time.monotonic()

    def idle(self, idle_for: float) -> list[PeerId]:
        """Connected peers with no stream in flight and no use for ``idle_for`` seconds."""
        cutoff = time.monotonic() - idle_for
        with self._lock:
            return [
                p
                for p in self._count
                if not self._busy[p] and self._last_used.get(p, cutoff) <= cutoff
            ]

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        peer = from_libp2p(conn.muxed_conn.peer_id)
        with self._lock:
            self._count[peer] += 1
            self._last_used[peer] = time.monotonic()

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        peer = from_libp2p(conn.muxed_conn.peer_id)
        with self._lock:
            self._count[peer] -= 1
            if self._count[peer] <= 0:
                del self._count[peer]
                self._last_used.pop(peer, None)
