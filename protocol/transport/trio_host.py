"""The half of :class:`~secondme.protocol.transport.host.SmpHost` that lives in the trio thread.

It owns the py-libp2p host and does all the I/O: building a Noise-only, yamux-only host,
serving inbound ``/secondme/smp/1.0.0`` streams (one request frame in, the handler's response
frame out), sending requests, dialling with backoff, and closing idle connections. It never
sees asyncio except through the bridge, and every libp2p or trio exception it lets out is one of
:mod:`secondme.protocol.transport.errors` (or a framing error of the response).

Why some py-libp2p defaults are overridden (measured on 0.8.1, see notes/py-libp2p.md):

* ``max_connections_per_peer=1``: the swarm otherwise waits a fixed 250 ms "happy eyeballs"
  delay after every successful dial, hoping for more connections to the same peer.
* ``RetryConfig(max_retries=0)``: the swarm retries a failed dial 3 times (0.7 s) even when the
  Noise handshake proved that the remote is another key (its mismatch check looks for a message
  that the Noise error does not carry); we retry ourselves, with backoff, and never on a mismatch.
* The auto-connector is replaced by one that never dials: it would keep dialling every peer
  in the peerstore (every address we were given) to hold ~150 connections open.
* ``Swarm.unblock_peer`` before each dial: a peer whose addresses all failed once is otherwise
  refused for 60 s without a dial ("negative cache"), which would defeat reconnecting after a
  restart.
* TCP listeners are opened with ``SO_REUSEPORT``, so a second process can bind a port already in
  use and silently share its connections; :func:`_refuse_taken_ports` checks first.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, cast

import multiaddr
import trio
from libp2p import new_host
from libp2p.abc import IHost, INetConn, INetStream, INetwork, INotifee
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_new_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.exceptions import BaseLibp2pError, MultiError
from libp2p.network.auto_connector import AutoConnector
from libp2p.network.config import ConnectionConfig, RetryConfig
from libp2p.network.stream.exceptions import StreamEOF
from libp2p.network.stream.exceptions import StreamReset as Libp2pStreamReset
from libp2p.network.swarm import Swarm
from libp2p.peer.id import ID
from libp2p.security.noise.exceptions import PeerIDMismatchesPubkey
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.exceptions import MuxedStreamEOF, MuxedStreamReset
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux

from secondme.protocol.errors import RemoteProtocolError
from secondme.protocol.identity import PeerId
from secondme.protocol.transport.bridge import TrioBridge
from secondme.protocol.transport.errors import (
    DialFailed,
    HostClosed,
    ListenFailed,
    PeerIdMismatch,
    ProtocolRefused,
    RequestTimeout,
    StreamReset,
)
from secondme.protocol.transport.limits import TransportLimits
from secondme.protocol.transport.streamio import (
    NoFirstByte,
    read_frame,
    reset_quietly,
    write_frame,
)

logger = logging.getLogger(__name__)

SMP_PROTOCOL_ID = TProtocol("/secondme/smp/1.0.0")
Handler = Callable[[PeerId, bytes], Awaitable[bytes]]

_STREAM_ERRORS = (BaseLibp2pError, OSError, trio.BrokenResourceError, trio.ClosedResourceError)
"""What a read or write on a stream raises when the peer resets it or the connection dies."""
_RESET_DURING_NEGOTIATION = (Libp2pStreamReset, MuxedStreamReset, StreamEOF, MuxedStreamEOF)
"""Behind a failed negotiation, these mean the stream was reset, not the protocol refused."""
_ADDRESS_TTL_S = 365 * 24 * 3600
_BACKOFF_FIRST_S = 0.05
_BACKOFF_MAX_S = 1.0
_CLOSE_TIMEOUT_S = 5.0
_ABANDONED = object()
_IDLE_CHECK_MAX_S = 30.0


def to_libp2p(peer: PeerId) -> ID:
    return ID(peer.multihash)


def from_libp2p(peer: ID) -> PeerId:
    return PeerId(peer.to_bytes())


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything behind it: causes, contexts, and the members of grouped errors."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, MultiError):
            pending.extend(current.errors)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def _is_peer_id_mismatch(exc: BaseException) -> bool:
    return any(
        isinstance(e, PeerIDMismatchesPubkey) or "Peer ID mismatch" in str(e) for e in _causes(exc)
    )


def _refuse_taken_ports(listen: Sequence[multiaddr.Multiaddr]) -> None:
    """Raise :class:`ListenFailed` if a fixed TCP port is already bound by anyone else."""
    for addr in listen:
        protocols = {p.name for p in addr.protocols()}
        if "tcp" not in protocols or int(addr.value_for_protocol("tcp")) == 0:
            continue
        family = socket.AF_INET6 if "ip6" in protocols else socket.AF_INET
        host = addr.value_for_protocol("ip6" if family == socket.AF_INET6 else "ip4")
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, int(addr.value_for_protocol("tcp"))))
            except OSError as exc:
                raise ListenFailed(f"cannot listen on {addr}: {exc.strerror}") from exc


class _DialOnDemand(AutoConnector):
    """py-libp2p's auto-connector dials peers from the peerstore until ~150 connections are
    open; an SMP node connects to a peer only when it has something to send it."""

    async def maybe_connect(self) -> None:
        return None


class _Connections(INotifee):
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

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None


class TrioHost:
    """The py-libp2p host and everything done with it; all methods run in the trio thread,
    except the few marked thread-safe."""

    def __init__(
        self,
        seed: bytes,
        listen: Sequence[multiaddr.Multiaddr],
        handler: Handler,
        limits: TransportLimits,
        bridge: TrioBridge,
    ) -> None:
        self._key_pair = create_new_key_pair(seed)
        self._listen = list(listen)
        self._handler = handler
        self._limits = limits
        self._bridge = bridge
        self._connections = _Connections()
        self._inbound: Counter[PeerId] = Counter()
        self._addresses_lock = threading.Lock()
        self._addresses: dict[PeerId, list[multiaddr.Multiaddr]] = {}
        self._host: IHost | None = None

    # -- thread-safe ----------------------------------------------------------------------

    def add_addresses(self, peer: PeerId, addrs: Sequence[multiaddr.Multiaddr]) -> None:
        with self._addresses_lock:
            known = self._addresses.setdefault(peer, [])
            known.extend(a for a in addrs if a not in known)

    def connected_peers(self) -> list[PeerId]:
        return self._connections.peers()

    # -- life cycle -----------------------------------------------------------------------

    async def serve(self, stop: trio.Event, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Listen, report the bound addresses, serve until ``stop`` is set, close the host."""
        _refuse_taken_ports(self._listen)
        host = self._build_host()
        self._host = host
        async with host.run(self._listen):
            try:
                listeners = cast(Swarm, host.get_network()).listeners
                missing = [str(a) for a in self._listen if str(a) not in listeners]
                if missing:
                    raise ListenFailed(f"cannot listen on {', '.join(missing)}")
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._close_idle_connections)
                    task_status.started([str(a) for a in host.get_addrs()])
                    await stop.wait()
                    nursery.cancel_scope.cancel()
            finally:
                # Before leaving host.run(), and not under cancellation: either way
                # py-libp2p leaks the dialer's sockets.
                with trio.CancelScope(shield=True), trio.move_on_after(_CLOSE_TIMEOUT_S):
                    await host.close()

    def _build_host(self) -> IHost:
        noise = NoiseTransport(
            libp2p_keypair=self._key_pair,
            noise_privkey=create_new_x25519_key_pair().private_key,
        )
        config = ConnectionConfig(
            max_connections_per_peer=1,
            min_connections=0,
            low_watermark=0,
            dial_timeout=self._limits.dial_timeout_s,
            inbound_stream_protocol_negotiation_timeout=max(1.0, self._limits.first_byte_timeout_s),
            outbound_stream_protocol_negotiation_timeout=max(1.0, self._limits.request_timeout_s),
        )
        host = new_host(
            key_pair=self._key_pair,
            sec_opt={NOISE_PROTOCOL_ID: noise},
            muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},
            listen_addrs=self._listen,
            connection_config=config,
        )
        swarm = cast(Swarm, host.get_network())
        swarm.retry_config = RetryConfig(max_retries=0)
        swarm.auto_connector = _DialOnDemand(swarm, config.auto_connect_interval)
        swarm.register_notifee(self._connections)
        host.set_stream_handler(SMP_PROTOCOL_ID, self._on_stream)
        return host

    @property
    def host(self) -> IHost:
        if self._host is None:
            raise HostClosed("the host is not running")
        return self._host

    @property
    def _swarm(self) -> Swarm:
        return cast(Swarm, self.host.get_network())

    async def _close_idle_connections(self) -> None:
        idle_for = self._limits.idle_connection_timeout_s
        while True:
            await trio.sleep(min(idle_for / 4, _IDLE_CHECK_MAX_S))
            for peer in self._connections.idle(idle_for):
                logger.debug("closing the connection to %s: idle for %g s", peer, idle_for)
                try:
                    await self.host.disconnect(to_libp2p(peer))
                except _STREAM_ERRORS as exc:
                    logger.debug("closing the idle connection to %s failed: %r", peer, exc)

    # -- outbound -------------------------------------------------------------------------

    async def connect(self, peer: PeerId, addr: multiaddr.Multiaddr) -> None:
        """Dial ``addr`` once (unless connected) and check that it authenticates as ``peer``;
        remember it for redials."""
        if not self._is_connected(to_libp2p(peer)):
            await self._dial(peer, [addr], retry=False)
        self.add_addresses(peer, [addr])

    async def disconnect(self, peer: PeerId) -> None:
        await self.host.disconnect(to_libp2p(peer))

    async def request(self, peer: PeerId, payload: bytes, timeout: float) -> bytes:
        """One request frame out, one response frame back, on a fresh stream."""
        self._connections.begin(peer)
        try:
            with trio.fail_after(timeout):
                stream = await self._open_stream(peer)
                try:
                    await write_frame(stream, payload, max_size=self._limits.max_frame)
                    response = await read_frame(stream, max_size=self._limits.max_frame)
                    if response is None:
                        raise StreamReset(f"{peer} closed the stream without a response")
                    await stream.close()
                    return response
                except _STREAM_ERRORS as exc:
                    await reset_quietly(stream)
                    raise StreamReset(f"the stream to {peer} was reset: {exc!r}") from exc
                except BaseException:
                    await reset_quietly(stream)
                    raise
        except trio.TooSlowError as exc:
            raise RequestTimeout(f"no response from {peer} within {timeout:g} s") from exc
        finally:
            self._connections.end(peer)

    async def _open_stream(self, peer: PeerId) -> INetStream:
        """A negotiated SMP stream; redials once if the connection turns out to be dead."""
        remote = to_libp2p(peer)
        for attempt in (1, 2):
            if not self._is_connected(remote):
                await self._dial(peer, self._known_addresses(peer), retry=True)
            try:
                return await self.host.new_stream(remote, [SMP_PROTOCOL_ID])
            except Exception as exc:
                if not self._is_connected(remote):
                    if attempt == 2:
                        raise StreamReset(f"the connection to {peer} dropped: {exc!r}") from exc
                    logger.debug("the connection to %s was dead; redialling", peer)
                    continue
                if any(isinstance(e, _RESET_DURING_NEGOTIATION) for e in _causes(exc)):
                    # e.g. refused by the peer's stream limit right after negotiation.
                    raise StreamReset(f"{peer} reset the stream as it opened") from exc
                raise ProtocolRefused(f"{peer} does not accept {SMP_PROTOCOL_ID}") from exc
        raise AssertionError("unreachable")

    def _is_connected(self, remote: ID) -> bool:
        return any(not c.is_closed for c in self._swarm.get_connections(remote))

    def _known_addresses(self, peer: PeerId) -> list[multiaddr.Multiaddr]:
        with self._addresses_lock:
            return list(self._addresses.get(peer, []))

    async def _dial(self, peer: PeerId, addrs: list[multiaddr.Multiaddr], *, retry: bool) -> None:
        """Connect within the dial timeout: to any of ``addrs``, backing off and trying again on
        failure (``retry``), or once to ``addrs[0]``."""
        if not addrs:
            raise DialFailed(f"no known address for {peer}")
        remote = to_libp2p(peer)
        delay = _BACKOFF_FIRST_S
        last_error: Exception | None = None
        with trio.move_on_after(self._limits.dial_timeout_s):
            while True:
                self.host.get_peerstore().add_addrs(remote, addrs, _ADDRESS_TTL_S)
                self._swarm.unblock_peer(remote)
                try:
                    # Not host.connect(): it returns at once while a closed connection is
                    # still listed (closing one takes >100 ms), so it would not redial.
                    if retry:
                        await self._swarm.dial_peer(remote)
                    else:
                        await self._swarm.dial_addr(addrs[0], remote)
                    return
                except Exception as exc:
                    if _is_peer_id_mismatch(exc):
                        raise PeerIdMismatch(
                            f"{', '.join(map(str, addrs))} did not authenticate as {peer}"
                        ) from exc
                    if not retry:
                        raise DialFailed(f"cannot connect to {peer}: {exc}") from exc
                    last_error = exc
                logger.debug("dialling %s failed; retrying in %.2f s", peer, delay)
                await trio.sleep(delay)
                delay = min(2 * delay, _BACKOFF_MAX_S)
        raise DialFailed(
            f"cannot connect to {peer} within {self._limits.dial_timeout_s:g} s: {last_error}"
        ) from last_error

    # -- inbound --------------------------------------------------------------------------

    async def _on_stream(self, stream: INetStream) -> None:
        """Serve one inbound SMP stream; never raises, so one peer cannot hurt the host."""
        peer = from_libp2p(stream.muxed_conn.peer_id)
        limit = self._limits.max_streams_per_peer
        if self._inbound[peer] >= limit:
            logger.warning("refused a stream from %s: %d already open (the limit)", peer, limit)
            await reset_quietly(stream)
            return
        self._inbound[peer] += 1
        self._connections.begin(peer)
        answered = False
        try:
            with trio.move_on_after(self._limits.request_timeout_s) as overall:
                answered = await self._answer(stream, peer)
            if overall.cancelled_caught:
                logger.warning(
                    "a request from %s took over %g s; stream reset",
                    peer,
                    self._limits.request_timeout_s,
                )
        except NoFirstByte as exc:
            logger.info("a stream from %s sent nothing (%s); stream reset", peer, exc)
        except RemoteProtocolError as exc:
            logger.info("a bad frame from %s (%s: %s); stream reset", peer, exc.code, exc)
        except (*_STREAM_ERRORS, HostClosed) as exc:
            logger.debug("a stream from %s failed: %r", peer, exc)
        except Exception as exc:
            logger.warning(
                "the SMP handler failed on a request from %s (%s: %s); stream reset",
                peer,
                type(exc).__name__,
                exc,
            )
        finally:
            self._inbound[peer] -= 1
            if self._inbound[peer] <= 0:
                del self._inbound[peer]
            self._connections.end(peer)
            if not answered:
                await reset_quietly(stream)

    async def _answer(self, stream: INetStream, peer: PeerId) -> bool:
        """Read the request, ask the handler, write the response; False if there was none."""
        max_frame = self._limits.max_frame
        payload = await read_frame(
            stream, max_size=max_frame, first_byte_timeout=self._limits.first_byte_timeout_s
        )
        if payload is None:
            return False
        response = await self._call_handler(stream, peer, payload)
        if response is _ABANDONED:
            return False
        if not isinstance(response, bytes | bytearray | memoryview):
            raise TypeError(f"the handler returned {type(response).__name__}, not bytes")
        if len(response) > max_frame:
            raise ValueError(f"the handler returned {len(response)} bytes, above max_frame")
        await write_frame(stream, bytes(response), max_size=max_frame)
        await stream.close()
        return True

    async def _call_handler(self, stream: INetStream, peer: PeerId, payload: bytes) -> Any:
        """The handler's response, or ``_ABANDONED`` if the requester reset the stream meanwhile
        (the handler is then cancelled: a requester that gave up costs nothing more)."""
        response: Any = _ABANDONED
        error: BaseException | None = None
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_cancel_on_reset, stream, nursery.cancel_scope)
                response = await self._bridge.to_asyncio(self._handler, peer, payload)
                nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            error = _single(group)
        if error is not None:
            raise error
        if response is _ABANDONED:
            logger.debug("%s reset its stream before the handler answered", peer)
        return response


def _single(group: BaseExceptionGroup) -> BaseException:
    """The exception a one-task nursery raised, out of its (strict) group."""
    while isinstance(group, BaseExceptionGroup) and len(group.exceptions) == 1:
        group = group.exceptions[0]
    return group


async def _cancel_on_reset(stream: INetStream, scope: trio.CancelScope) -> None:
    """Cancel ``scope`` once the requester resets ``stream`` (or sends more than its frame).

    py-libp2p reports a reset stream as reset or as EOF depending on timing, so EOF is told
    apart from a clean half-close by the yamux stream's own flag.
    """
    try:
        extra = await stream.read(1)
    except StreamEOF:
        extra = b""
    except _STREAM_ERRORS:
        scope.cancel()
        return
    if extra or getattr(stream.muxed_stream, "reset_received", False):
        scope.cancel()
        return
    await trio.sleep_forever()
