"""Who may hold this host's connections and buffers (trio side): strangers share bounded pools.

Peer ids cost nothing, so a per-peer cap alone does not bound a flood of fresh identities. Two
pools do, sized by :class:`~secondme.protocol.transport.limits.TransportLimits`:

* :class:`InboundAdmission` counts the inbound connections of strangers (peers the host's
  ``is_trusted`` predicate does not vouch for), in total and per remote IP address, and closes a
  stranger's connection over either cap as soon as the Noise handshake has named its peer.
  Trusted peers are not counted; py-libp2p's own ``max_connections`` bounds everyone. (The
  address is only known to be a stranger's after the handshake, so a flood still costs the
  handshakes; py-libp2p bounds how many run at once.)
* :class:`BufferBudget` counts the bytes of inbound request frames being read, from their
  length prefix on, everyone's and the strangers' part; a frame that does not fit is refused
  ``busy`` before its payload is read.

Both live in the trio thread; ``is_trusted`` is called from it and must be thread-safe.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

from libp2p.abc import INetConn, INetwork
from libp2p.rcmgr import Direction

from secondme.protocol.errors import Busy
from secondme.protocol.identity import PeerId
from secondme.protocol.transport.connections import ConnectionWatcher, from_libp2p
from secondme.protocol.transport.limits import TransportLimits

logger = logging.getLogger(__name__)

IsTrusted = Callable[[PeerId], bool]
_RETRY_BUSY_MS = 1_000


def trust_everyone(peer: PeerId) -> bool:
    """The predicate of a host that makes no difference between peers."""
    return True


def remote_ip(conn: INetConn) -> str:
    """The remote IP address of ``conn``, or ``"?"`` when the transport does not say."""
    for addr in conn.get_transport_addresses():
        for protocol in ("ip4", "ip6"):
            try:
                return str(addr.value_for_protocol(protocol))
            except Exception:  # multiaddr raises several types for a missing protocol
                continue
    return "?"


class InboundAdmission(ConnectionWatcher):
    """Closes strangers' inbound connections over the strangers' caps."""

    def __init__(self, limits: TransportLimits, is_trusted: IsTrusted) -> None:
        self._limits = limits
        self._is_trusted = is_trusted
        self._counted: dict[int, str] = {}
        """id(connection) -> remote IP, for each stranger's connection counted."""
        self._by_ip: Counter[str] = Counter()

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        if getattr(conn, "direction", None) is not Direction.INBOUND:
            return
        peer = from_libp2p(conn.muxed_conn.peer_id)
        if self._is_trusted(peer):
            return
        ip = remote_ip(conn)
        if len(self._counted) >= self._limits.max_stranger_connections:
            reason = f"{len(self._counted)} strangers are connected (the limit)"
        elif self._by_ip[ip] >= self._limits.max_stranger_connections_per_ip:
            reason = f"{self._by_ip[ip]} strangers are connected from {ip} (the limit)"
        else:
            self._counted[id(conn)] = ip
            self._by_ip[ip] += 1
            return
        logger.info("closed a connection from %s: %s", peer, reason)
        await conn.close()

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        ip = self._counted.pop(id(conn), None)
        if ip is not None:
            self._by_ip[ip] -= 1
            if self._by_ip[ip] <= 0:
                del self._by_ip[ip]


class BufferBudget:
    """Bytes of inbound frames being read or handled now: everyone's, and the strangers'."""

    def __init__(self, limits: TransportLimits) -> None:
        self._limits = limits
        self._held = 0
        self._held_by_strangers = 0

    def reserve(self, size: int, *, trusted: bool) -> None:
        """Count ``size`` more bytes, or raise :class:`Busy` if they do not fit."""
        limits = self._limits
        if self._held + size > limits.max_buffered_bytes:
            raise Busy(
                f"this node is reading {self._held} bytes of requests",
                retry_after_ms=_RETRY_BUSY_MS,
            )
        if not trusted and self._held_by_strangers + size > limits.max_stranger_buffered_bytes:
            raise Busy(
                f"strangers are sending {self._held_by_strangers} bytes of requests",
                retry_after_ms=_RETRY_BUSY_MS,
            )
        self._held += size
        if not trusted:
            self._held_by_strangers += size

    def release(self, size: int, *, trusted: bool) -> None:
        self._held -= size
        if not trusted:
            self._held_by_strangers -= size


class Reservation:
    """What one inbound stream holds of a :class:`BufferBudget`; :meth:`release` gives it back."""

    __slots__ = ("_budget", "_size", "_trusted")

    def __init__(self, budget: BufferBudget, *, trusted: bool) -> None:
        self._budget = budget
        self._trusted = trusted
        self._size = 0

    def reserve(self, size: int) -> None:
        self._budget.reserve(size, trusted=self._trusted)
        self._size += size

    def release(self) -> None:
        self._budget.release(self._size, trusted=self._trusted)
        self._size = 0
