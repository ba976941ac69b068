"""The node on the network: its libp2p host, its SMP endpoint, and its known peers.

Incoming frames are checked by the sans-IO :class:`SmpEndpoint` (signature against the Noise
peer, version, replay window, rate limit), then by the :class:`Authoriser` it was given (the
node's access gate: the grant, for every request type that needs one), and only then
dispatched to a handler by message type; every failure is answered with an error frame,
reported to the authoriser (the audit log) and logged in one line, and the node keeps serving.
An answer is reported to the authoriser with what it shared, once it has gone out (a streamed
one says what it shares among its parts, see :class:`Shared`). Peers holding a live grant of
this node get a larger budget (rate, replay share, connections, streams) than strangers, so
throwaway identities cannot crowd them out.
Outgoing requests go the same way in reverse, with transport and protocol failures turned into
the node's own errors for the API and CLI.

The host is given too (a :class:`HostFactory`; libp2p's :class:`SmpHost` by default), so the
same service runs over an in-memory pipe in tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Sequence

from secondme.node.core.errors import InvalidRequest, PeerRefused, PeerUnreachable
from secondme.node.p2p.authoriser import Authoriser
from secondme.node.p2p.handlers import (
    Reply,
    RequestHandler,
    Shared,
    answer_ping,
    make_hello_handler,
)
from secondme.node.p2p.host import Host, HostFactory
from secondme.node.p2p.trust import TrustedPeers
from secondme.node.people.owner import OwnerStore
from secondme.node.people.peers import PeerRecord, PeerStore
from secondme.protocol.budgets import PeerBudgets
from secondme.protocol.clock import Clock, SystemClock
from secondme.protocol.errors import (
    Busy,
    InternalFailure,
    RateLimited,
    RemoteError,
    RemoteProtocolError,
    SmpError,
    TransportError,
    UnknownMessageType,
)
from secondme.protocol.grants import Permit
from secondme.protocol.group_messages import NODE_MESSAGES
from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.messages import (
    Hello,
    HelloResponse,
    Ping,
    Pong,
    Request,
    Response,
)
from secondme.protocol.replay import ReplayWindow
from secondme.protocol.session import IncomingRequest, SmpEndpoint, State
from secondme.protocol.transport.host import SmpHost, TransportLimits, split_p2p_multiaddr

log = logging.getLogger(__name__)

ANSWER_TIMEOUT_S = 120.0
"""How long a peer's request may take here, answering included (a model answer queues)."""


class P2PService:
    """This node's SMP endpoint: serves peers' requests through the authoriser and the
    registered handlers, and sends the node's own requests."""

    def __init__(
        self,
        identity: Identity,
        listen: Sequence[str],
        *,
        peers: PeerStore,
        owner: OwnerStore,
        gate: Authoriser,
        grant_holders: Callable[[int], Collection[str]],
        clock: Clock | None = None,
        host: HostFactory = SmpHost,
    ) -> None:
        """``gate`` authorises every request and records each decision (the access gate);
        ``grant_holders(now_ms)``: the peers holding a live grant of this node, who get the
        trusted budget (rate, replay share, connections, streams); every other peer is a
        stranger (``protocol/budgets.py``, :class:`TransportLimits`); ``host`` makes the
        host that carries the frames."""
        clock = clock or SystemClock()
        self.clock = clock
        self.peers = peers
        self.gate = gate
        self.trusted = TrustedPeers(grant_holders, clock)
        self.endpoint = SmpEndpoint(
            identity,
            clock,
            ReplayWindow(clock),
            registry=NODE_MESSAGES,
            budgets=PeerBudgets(clock, self.trusted),
        )
        self._handlers: dict[type[Request], RequestHandler] = {
            Ping: answer_ping,
            Hello: make_hello_handler(owner, self.endpoint.versions),
        }
        self.on_unknown_peer: Callable[[str], None] | None = None
        """Called with the peer ID when a peer this node does not know yet was answered (a
        new member of one of its networks, say)."""
        limits = TransportLimits(request_timeout_s=ANSWER_TIMEOUT_S)
        self.host: Host = host(
            identity.seed,
            list(listen),
            self._serve,
            limits=limits,
            is_trusted=self.trusted,
            refuse=self._refuse_frame,
        )

    def register(self, request_type: type[Request], handler: RequestHandler) -> None:
        """Serve ``request_type`` with ``handler``; the authoriser has checked its grant before."""
        self._handlers[request_type] = handler

    @property
    def addrs(self) -> list[str]:
        return self.host.addrs

    async def start(self) -> list[str]:
        self.trusted.refresh()
        addrs = await self.host.start()
        for peer in self.peers.list():
            self.remember_addresses(peer)
        return addrs

    async def close(self) -> None:
        await self.host.close()

    def remember_addresses(self, peer: PeerRecord) -> None:
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

    async def _serve(self, peer: PeerId, payload: bytes) -> bytes | AsyncIterator[bytes]:
        """One incoming request frame in, one response (or error) frame out; for a streamed
        answer, an iterator of frames (the parts, then the response)."""
        self.trusted.refresh()
        try:
            incoming = self.endpoint.receive_request(peer, payload)
        except RemoteProtocolError as exc:
            if isinstance(exc, RateLimited | Busy):  # a flood: logged quietly, not audited
                log.debug("refused a request from %s: %s (%s)", peer, exc.message, exc.code)
            else:
                log.warning("refused a request from %s: %s (%s)", peer, exc.message, exc.code)
                self.gate.refused(peer, None, exc)
            return self.endpoint.respond_error(exc.request_id, exc)
        handler = self._handlers.get(type(incoming.message))
        if handler is None:
            error = UnknownMessageType(f"this node does not serve {incoming.message.TYPE!r}")
            self.gate.refused(peer, incoming, error)
            return self.endpoint.respond_error(incoming, error)
        try:
            permit = self.gate.authorize(incoming)
            reply = await handler(incoming, permit)
        except RemoteProtocolError as exc:
            self.gate.refused(peer, incoming, exc)
            return self.endpoint.respond_error(incoming, exc)
        except Exception:
            log.exception("handler for %r failed", incoming.message.TYPE)
            return self._internal_error(incoming)
        if not self.peers.seen(str(peer)) and self.on_unknown_peer is not None:
            self.on_unknown_peer(str(peer))
        if reply.parts is not None:
            return self._stream(incoming, permit, reply)
        assert reply.response is not None, "a reply has a response or parts"
        self._allowed(incoming, permit, reply, reply.shared)
        return self.endpoint.respond(incoming, reply.response)

    def _allowed(
        self,
        incoming: IncomingRequest,
        permit: Permit | None,
        reply: Reply,
        shared: Sequence[str],
        note: str = "",
    ) -> None:
        """Audit an answered request: under the permit the handler checked itself, if any."""
        self.gate.allowed(
            incoming,
            reply.permit or permit,
            shared,
            message=note or reply.note,
            model=reply.model,
        )

    async def _refuse_frame(self, peer: PeerId, error: RemoteProtocolError) -> bytes | None:
        """The error frame for a frame ``peer`` sent that could not be read (None: reset)."""
        self.trusted.refresh()
        frame = self.endpoint.refuse_frame(peer, error)
        if frame is not None and not isinstance(error, Busy):  # a flood is logged, not audited
            self.gate.refused(peer, None, error)
        return frame

    async def _stream(
        self, incoming: IncomingRequest, permit: Permit | None, reply: Reply
    ) -> AsyncIterator[bytes]:
        """The frames of a streamed answer; audited once it ends, however it ends, with what
        the answer last said it shared."""
        assert reply.parts is not None
        final = type(incoming.message).RESPONSE
        shared = reply.shared
        try:
            async for message in reply.parts:
                if isinstance(message, Shared):
                    shared = message.refs
                elif isinstance(message, final):
                    self._allowed(incoming, permit, reply, shared)
                    yield self.endpoint.respond(incoming, message)
                    return
                else:
                    yield self.endpoint.respond_part(incoming, message)
            raise RuntimeError("a streamed answer ended without its final response")
        except RemoteProtocolError as exc:
            self.gate.refused(incoming.peer, incoming, exc)
            yield self.endpoint.respond_error(incoming, exc)
        except asyncio.CancelledError:
            self._allowed(incoming, permit, reply, shared, "the asker left before the answer ended")
            raise
        except Exception:
            log.exception("streamed answer to %r failed", incoming.message.TYPE)
            yield self._internal_error(incoming)

    def _internal_error(self, incoming: IncomingRequest) -> bytes:
        failure = InternalFailure("the node failed to answer")
        self.gate.refused(incoming.peer, incoming, failure)
        return self.endpoint.respond_error(incoming, failure)

    # -- asking -------------------------------------------------------------------------------

    async def request(
        self,
        peer: PeerRecord,
        message: Request,
        *,
        grant: bytes | None = None,
        timeout: float = ANSWER_TIMEOUT_S,
    ) -> Response:
        """Send ``message`` (with ``grant`` in its envelope) and return the peer's answer;
        raises :class:`PeerRefused` (an error frame: its code is in the message and on
        ``__cause__``) or :class:`PeerUnreachable`."""
        return await self._ask(peer, message, timeout, grant=grant)

    async def request_stream(
        self,
        peer: PeerRecord,
        message: Request,
        *,
        grant: bytes | None = None,
        timeout: float = ANSWER_TIMEOUT_S,
    ) -> AsyncIterator[Response]:
        """Send a streamed request; yields each part as it arrives, then the final response.
        Errors as :meth:`request`."""
        peer_id = PeerId.from_base58(peer.peer_id)
        outgoing = self.endpoint.request(message, grant=grant)
        with self._translating_errors(peer):
            async for payload in self.host.request_stream(
                peer_id, outgoing.payload, timeout=timeout
            ):
                yield self.endpoint.receive_response(peer_id, outgoing, payload)
            if outgoing.exchange.state is not State.DONE:
                raise PeerRefused(f"{self._name(peer)} ended its answer before the end")

    async def _ask(
        self, peer: PeerRecord, message: Request, timeout: float, *, grant: bytes | None = None
    ) -> Response:
        peer_id = PeerId.from_base58(peer.peer_id)
        outgoing = self.endpoint.request(message, grant=grant)
        with self._translating_errors(peer):
            payload = await self.host.request(peer_id, outgoing.payload, timeout=timeout)
            return self.endpoint.receive_response(peer_id, outgoing, payload)
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def _translating_errors(self, peer: PeerRecord) -> Iterator[None]:
        """Transport and protocol failures as the node's own errors, for the API and CLI."""
        try:
            yield
        except RemoteError as exc:
            raise PeerRefused(
                f"{self._name(peer)} refused: {exc.message} ({exc.code})", remote_code=exc.code
            ) from exc
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
        self.remember_addresses(record)
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
