"""The node on the network: its libp2p host, its SMP endpoint, and its known peers.

Incoming frames are checked by the sans-IO :class:`SmpEndpoint` (signature against the Noise
peer, version, replay window, rate limit) and dispatched to a handler by message type; every
failure is answered with an error frame and logged in one line, and the node keeps serving.
Outgoing requests go the same way in reverse, with transport and protocol failures turned into
the node's own errors for the API and CLI.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence

from secondme.node.errors import InvalidRequest, PeerRefused, PeerUnreachable
from secondme.node.owner import OwnerStore
from secondme.node.p2p.handlers import RequestHandler, answer_ping, make_hello_handler
from secondme.node.peers import PeerRecord, PeerStore
from secondme.protocol.clock import Clock, SystemClock
from secondme.protocol.errors import (
    RemoteError,
    RemoteProtocolError,
    SmpError,
    TransportError,
    UnknownMessageType,
)
from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.messages import (
    ErrorCode,
    ErrorMessage,
    Hello,
    HelloResponse,
    Ping,
    Pong,
    Request,
    Response,
)
from secondme.protocol.ratelimit import TokenBucketLimiter
from secondme.protocol.replay import ReplayWindow
from secondme.protocol.session import SmpEndpoint
from secondme.protocol.transport.host import SmpHost, split_p2p_multiaddr

log = logging.getLogger(__name__)

REQUESTS_PER_SECOND = 50
REQUEST_BURST = 200


class P2PService:
    def __init__(
        self,
        identity: Identity,
        listen: Sequence[str],
        *,
        peers: PeerStore,
        owner: OwnerStore,
        clock: Clock | None = None,
    ) -> None:
        clock = clock or SystemClock()
        self.peers = peers
        self.endpoint = SmpEndpoint(
            identity,
            clock,
            ReplayWindow(clock),
            rate_limiter=TokenBucketLimiter(
                clock, rate_per_s=REQUESTS_PER_SECOND, burst=REQUEST_BURST
            ),
        )
        self._handlers: dict[type[Request], RequestHandler] = {
            Ping: answer_ping,
            Hello: make_hello_handler(owner, self.endpoint.versions),
        }
        self.host = SmpHost(identity.seed, list(listen), self._serve)

    @property
    def addrs(self) -> list[str]:
        return self.host.addrs

    async def start(self) -> list[str]:
        addrs = await self.host.start()
        for peer in self.peers.list():
            self._remember_addresses(peer)
        return addrs

    async def close(self) -> None:
        await self.host.close()

    def _remember_addresses(self, peer: PeerRecord) -> None:
        transport_addrs = []
        for address in peer.addresses:
            try:
                split_p2p_multiaddr(address)
            except ValueError:
                continue
            transport_addrs.append(address)
        if transport_addrs:
            self.host.add_address(PeerId.from_base58(peer.peer_id), transport_addrs)

    # -- serving ------------------------------------------------------------------------------

    async def _serve(self, peer: PeerId, payload: bytes) -> bytes:
        """One incoming request frame in, one response (or error) frame out."""
        try:
            incoming = self.endpoint.receive_request(peer, payload)
        except RemoteProtocolError as exc:
            log.warning("refused a request from %s: %s (%s)", peer, exc.message, exc.code)
            return self.endpoint.respond_error(exc.request_id, exc)
        handler = self._handlers.get(type(incoming.message))
        if handler is None:
            error = UnknownMessageType(f"this node does not serve {incoming.message.TYPE!r}")
            return self.endpoint.respond_error(incoming, error)
        try:
            response = handler(peer, incoming.message)
        except Exception:
            log.exception("handler for %r failed", incoming.message.TYPE)
            failure = ErrorMessage(code=ErrorCode.INTERNAL, message="the node failed to answer")
            return self.endpoint.respond_error(incoming, failure)
        self.peers.seen(str(peer))
        return self.endpoint.respond(incoming, response)

    # -- asking -------------------------------------------------------------------------------

    async def _ask(self, peer: PeerRecord, message: Request, timeout: float) -> Response:
        peer_id = PeerId.from_base58(peer.peer_id)
        outgoing = self.endpoint.request(message)
        try:
            payload = await self.host.request(peer_id, outgoing.payload, timeout=timeout)
            return self.endpoint.receive_response(peer_id, outgoing, payload)
        except RemoteError as exc:
            raise PeerRefused(f"{self._name(peer)} refused: {exc.message} ({exc.code})") from exc
        except TransportError as exc:
            raise PeerUnreachable(f"cannot reach {self._name(peer)}: {exc.message}") from exc
        except SmpError as exc:
            raise PeerRefused(
                f"{self._name(peer)} answered with an invalid frame: {exc.message}"
            ) from exc

    @staticmethod
    def _name(peer: PeerRecord) -> str:
        return f"peer {peer.name} ({peer.peer_id})" if peer.name else f"peer {peer.peer_id}"

    async def add_peer(self, multiaddr: str, name: str | None = None) -> PeerRecord:
        """Dial ``multiaddr``, check the peer is who the address says, remember it, say hello."""
        try:
            peer_id, _ = split_p2p_multiaddr(multiaddr)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        if peer_id == self.endpoint.peer_id:
            raise InvalidRequest("that multiaddr is this node itself")
        try:
            await self.host.connect(multiaddr)
        except TransportError as exc:
            raise PeerUnreachable(f"cannot connect to {multiaddr}: {exc.message}") from exc
        record = self.peers.add(str(peer_id), [multiaddr], name)
        self._remember_addresses(record)
        await self.hello(record)
        return self.peers.resolve(str(peer_id))

    async def ping(self, peer: PeerRecord, *, payload_size: int = 32, timeout: float = 10) -> float:
        """One round trip in milliseconds."""
        payload = os.urandom(payload_size)
        started = time.perf_counter()
        pong = await self._ask(peer, Ping(payload=payload), timeout)
        elapsed = (time.perf_counter() - started) * 1000
        if not isinstance(pong, Pong) or pong.payload != payload:
            raise PeerRefused(f"{self._name(peer)} answered the ping with another payload")
        self.peers.seen(peer.peer_id, latency_ms=round(elapsed, 3))
        return elapsed

    async def hello(self, peer: PeerRecord, *, timeout: float = 10) -> HelloResponse:
        answer = await self._ask(peer, Hello(), timeout)
        assert isinstance(answer, HelloResponse)
        self.peers.seen(
            peer.peer_id,
            display_name=answer.display_name,
            protocol_version=str(max(answer.versions)),
            agent=answer.agent,
            public_profile=dict(answer.profile),
        )
        return answer

    async def forget(self, peer: PeerRecord) -> None:
        await self.host.disconnect(PeerId.from_base58(peer.peer_id))
