"""The half of :class:`~secondme.protocol.transport.host.SmpHost` that lives in the trio thread.

It owns the py-libp2p host: builds it (Noise only, yamux only), runs it, sends requests, dials
with backoff and closes idle connections; inbound streams are served by :mod:`.inbound`. It
never sees asyncio except through the bridge, and every libp2p or trio exception it lets out is
one of :mod:`secondme.protocol.transport.errors` (or a framing error of the response).

Why some py-libp2p defaults are overridden (measured on 0.8.1, see notes/py-libp2p.md):

* ``max_connections_per_peer=1``: the swarm otherwise waits a fixed 250 ms "happy eyeballs"
  delay after every successful dial, hoping for more connections to the same peer.
* ``max_connections`` (and the pruning watermark with it) comes from
  :class:`TransportLimits`; py-libp2p closes a connection that would go over it, whoever made
  it. Strangers are held to smaller caps by :class:`~.admission.InboundAdmission`.
* ``RetryConfig(max_retries=0)``: the swarm retries a failed dial 3 times (0.7 s) even when the
  Noise handshake proved that the remote is another key (its mismatch check looks for a message
  that the Noise error does not carry); we retry ourselves, with backoff, and never on a mismatch.
* The auto-connector is replaced by one that never dials: it would keep dialling every peer
  in the peerstore (every address we were given) to hold ~150 connections open.
* ``Swarm.unblock_peer`` before each dial: a peer whose addresses all failed once is otherwise
  refused for 60 s without a dial ("negative cache"), which would defeat reconnecting after a
  restart.
* Noise connections are wrapped so that a cancelled write cannot desynchronise the session
  and kill the connection (:mod:`.noise`).
* TCP listeners are opened with ``SO_REUSEPORT``, so a second process can bind a port already in
  use and silently share its connections; :func:`_refuse_taken_ports` checks first.
"""

from __future__ import annotations

import functools
import logging
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

import multiaddr
import trio
from libp2p import new_host
from libp2p.abc import IHost, INetStream
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_new_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.exceptions import MultiError
from libp2p.network.config import ConnectionConfig, RetryConfig
from libp2p.network.swarm import Swarm
from libp2p.peer.id import ID
from libp2p.security.noise.exceptions import PeerIDMismatchesPubkey
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux

from secondme.protocol.framing import encode_frame
from secondme.protocol.identity import PeerId
from secondme.protocol.transport.admission import InboundAdmission, IsTrusted, trust_everyone
from secondme.protocol.transport.bridge import TrioBridge
from secondme.protocol.transport.connections import (
    ConnectionTable,
    DialOnDemand,
    to_libp2p,
)
from secondme.protocol.transport.errors import (
    DialFailed,
    HostClosed,
    ListenFailed,
    PeerIdMismatch,
    ProtocolRefused,
    RequestTimeout,
    StreamReset,
)
from secondme.protocol.transport.inbound import Handler, InboundServer, Refuser
from secondme.protocol.transport.limits import TransportLimits
from secondme.protocol.transport.noise import CancelSafeNoise
from secondme.protocol.transport.streamio import STREAM_ERRORS, FrameReader, reset_quietly

logger = logging.getLogger(__name__)

SMP_PROTOCOL_ID = TProtocol("/secondme/smp/1.0.0")
_MULTISTREAM_LINE = b"/multistream/1.0.0\n"


@functools.lru_cache(maxsize=8)
def _proposal(protocol_id: str) -> tuple[bytes, bytes]:
    """(the bytes that propose ``protocol_id``, the line that accepts it).

    multistream-select messages are uvarint-length-prefixed, exactly like SMP frames.
    """
    line = protocol_id.encode() + b"\n"
    return encode_frame(_MULTISTREAM_LINE) + encode_frame(line), line


_ADDRESS_TTL_S = 365 * 24 * 3600
_BACKOFF_FIRST_S = 0.05
_BACKOFF_MAX_S = 1.0
_CLOSE_TIMEOUT_S = 5.0
_IDLE_CHECK_MAX_S = 30.0


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
        *,
        protocol_id: str = SMP_PROTOCOL_ID,
        is_trusted: IsTrusted = trust_everyone,
        refuse: Refuser | None = None,
    ) -> None:
        self._protocol_id = TProtocol(protocol_id)
        self._key_pair = create_new_key_pair(seed)
        self._listen = list(listen)
        self._limits = limits
        self._bridge = bridge
        self._connections = ConnectionTable()
        self._admission = InboundAdmission(limits, is_trusted)
        self._inbound = InboundServer(
            handler, limits, bridge, self._connections, is_trusted=is_trusted, refuse=refuse
        )
        self._addresses_lock = threading.Lock()
        self._addresses: dict[PeerId, list[multiaddr.Multiaddr]] = {}
        self._host: IHost | None = None

    # -- thread-safe ----------------------------------------------------------------------

    def add_addresses(self, peer: PeerId, addrs: Sequence[multiaddr.Multiaddr]) -> None:
        with self._addresses_lock:
            # Newest first: the address a peer gave last is the one most likely to answer.
            known = self._addresses.get(peer, [])
            self._addresses[peer] = list(dict.fromkeys([*addrs, *known]))

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
        noise = CancelSafeNoise(
            NoiseTransport(
                libp2p_keypair=self._key_pair,
                noise_privkey=create_new_x25519_key_pair().private_key,
            )
        )
        config = ConnectionConfig(
            max_connections=self._limits.max_connections,
            high_watermark=self._limits.max_connections,
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
        swarm.auto_connector = DialOnDemand(swarm, config.auto_connect_interval)
        swarm.register_notifee(self._connections)
        swarm.register_notifee(self._admission)
        host.set_stream_handler(self._protocol_id, self._inbound.on_stream)
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
                except STREAM_ERRORS as exc:
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

    async def request(
        self,
        peer: PeerId,
        payload: bytes,
        timeout: float,
        on_part: Callable[[bytes], None] | None = None,
        protocol_id: str | None = None,
    ) -> bytes:
        """One request frame out, the response frame back, on a fresh stream.

        The stream speaks ``protocol_id``: by default the one this host serves.

        With ``on_part``, the answer is streamed: every frame goes to ``on_part`` as it
        arrives, until the responder closes the stream (a reset raises), and ``b""`` is
        returned.

        The protocol is negotiated lazily (multistream-select pipelining, as go-libp2p does for
        a single protocol): hello, proposal and request go out in one write, so a request costs
        one round trip less than ``host.new_stream`` + write.
        """
        self._connections.begin(peer)
        try:
            with trio.fail_after(timeout):
                stream = await self._open_stream(peer)
                try:
                    frames = FrameReader(stream, max_size=self._limits.max_frame)
                    protocol = TProtocol(protocol_id or self._protocol_id)
                    proposal, accepted = _proposal(protocol)
                    await stream.write(proposal + encode_frame(payload))
                    await self._expect_accepted(frames, peer, protocol, accepted)
                    stream.set_protocol(protocol)
                    response = await frames.next()
                    if response is None:
                        raise StreamReset(f"{peer} closed the stream without a response")
                    if on_part is not None:
                        on_part(response)
                        while (following := await frames.next()) is not None:
                            on_part(following)
                        if getattr(stream.muxed_stream, "reset_received", False):
                            raise StreamReset(f"{peer} reset the stream during its answer")
                        response = b""
                    await stream.close()
                    return response
                except STREAM_ERRORS as exc:
                    await reset_quietly(stream)
                    raise StreamReset(f"the stream to {peer} was reset: {exc!r}") from exc
                except BaseException:
                    await reset_quietly(stream)
                    raise
        except trio.TooSlowError as exc:
            raise RequestTimeout(f"no response from {peer} within {timeout:g} s") from exc
        finally:
            self._connections.end(peer)

    @staticmethod
    async def _expect_accepted(
        frames: FrameReader, peer: PeerId, protocol: str, accepted: bytes
    ) -> None:
        for expected in (_MULTISTREAM_LINE, accepted):
            answer = await frames.next()
            if answer is None:
                raise StreamReset(f"{peer} closed the stream during protocol negotiation")
            if answer != expected:
                raise ProtocolRefused(
                    f"{peer} does not accept {protocol} (answered {answer[:64]!r})"
                )

    async def _open_stream(self, peer: PeerId) -> INetStream:
        """A new stream to ``peer``; redials once if the connection turns out to be dead."""
        remote = to_libp2p(peer)
        for attempt in (1, 2):
            if not self._is_connected(remote):
                await self._dial(peer, self._known_addresses(peer), retry=True)
            try:
                return await self._swarm.new_stream(remote)
            except Exception as exc:
                if attempt == 2 or self._is_connected(remote):
                    raise StreamReset(f"cannot open a stream to {peer}: {exc!r}") from exc
                logger.debug("the connection to %s was dead; redialling", peer)
        raise AssertionError("unreachable")

    def _is_connected(self, remote: ID) -> bool:
        return any(not c.is_closed for c in self._swarm.get_connections(remote))

    def _known_addresses(self, peer: PeerId) -> list[multiaddr.Multiaddr]:
        with self._addresses_lock:
            return list(self._addresses.get(peer, []))

    async def _dial(self, peer: PeerId, addrs: list[multiaddr.Multiaddr], *, retry: bool) -> None:
        """Connect within the dial timeout: to the first of ``addrs`` that answers, in order
        (newest known first), backing off and going round again on failure (``retry``), or
        once to ``addrs[0]``.

        Each address is dialled here, one after the other: py-libp2p's ``dial_peer`` tries a
        single address per transport, so a peer that moved to a new port while its old
        address is still known would never be reached.
        """
        if not addrs:
            raise DialFailed(f"no known address for {peer}")
        remote = to_libp2p(peer)
        delay = _BACKOFF_FIRST_S
        last_error: Exception | None = None
        per_address_s = max(1.0, self._limits.dial_timeout_s / len(addrs))
        with trio.move_on_after(self._limits.dial_timeout_s):
            while True:
                self._swarm.unblock_peer(remote)
                for addr in addrs if retry else addrs[:1]:
                    try:
                        with trio.fail_after(per_address_s):
                            await self._swarm.dial_addr(addr, remote)
                        self.host.get_peerstore().add_addrs(remote, [addr], _ADDRESS_TTL_S)
                        return
                    except trio.TooSlowError as exc:
                        last_error = exc
                    except Exception as exc:
                        if _is_peer_id_mismatch(exc):
                            # Another key answers there (the port was reused): not this peer.
                            last_error = PeerIdMismatch(f"{addr} did not authenticate as {peer}")
                            last_error.__cause__ = exc
                            if not retry or len(addrs) == 1:
                                raise last_error from exc
                            continue
                        last_error = exc
                if not retry:
                    raise DialFailed(f"cannot connect to {peer}: {last_error}") from last_error
                logger.debug("dialling %s failed; retrying in %.2f s", peer, delay)
                await trio.sleep(delay)
                delay = min(2 * delay, _BACKOFF_MAX_S)
        raise DialFailed(
            f"cannot connect to {peer} within {self._limits.dial_timeout_s:g} s: {last_error}"
        ) from last_error
