"""The life cycle of one SMP exchange (a request and its answer) and the endpoint that runs it.

Theory of operation
-------------------

SMP is request/response: the requester opens a libp2p stream, writes one frame holding a
request envelope, reads one frame holding the answer (a response or an error), and closes. The
transport moves those frames; everything between "here are the bytes a peer sent" and "here
are the bytes to send back" happens here, without I/O, so it can be tested and fuzzed directly.

Each exchange is tracked by one :class:`Exchange`, the same state machine on both sides of the
conversation. Its states and the events that move it are data, in :data:`TRANSITIONS`, keyed
by state and by *who emits* the event (the requester or the responder); the machine does not
know which role this node plays until it has to decide whose fault an impossible event is:

    state               requester emits       responder emits
    IDLE                REQUEST -> AWAITING   -
    AWAITING_RESPONSE   -                     RESPONSE -> DONE, ERROR -> DONE,
                                              PART -> STREAMING
    STREAMING           -                     PART -> STREAMING, RESPONSE -> DONE,
                                              ERROR -> DONE
    DONE                -                     -
    BROKEN              -                     -

A PART is a response-kind message whose type is the request type's ``PART`` (streamed
requests only, such as ``ask``): pieces of the answer sent before the final response.

An event missing from the table is impossible. If this node would emit it (answering twice,
asking with a response), that is a bug here: :class:`LocalProtocolError`. If the peer emitted it
(a response arriving where a request belongs), it is the peer's fault:
:class:`UnexpectedMessage`, a ``RemoteProtocolError``. When an answer cannot be read at all, the
exchange is BROKEN, from which nothing is possible. A request that cannot be read never becomes
an exchange: the responder answers it with an error frame and forgets it.

Everything that affects an exchange's state lives in this file. The checks on one envelope
run in a fixed order, which ``smp-spec/README.md`` states ("Receiving a request"), so every
implementation answers bad input with the same code.

Version negotiation: a peer speaks a major version and every minor version up to its highest.
A request is accepted if this node speaks its major; the answer is written in that major and
the *lower* of the two minors, which the requester checks (same major, minor not above its
own).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from enum import Enum

from secondme.protocol.budgets import PeerBudgets
from secondme.protocol.clock import Clock
from secondme.protocol.envelope import (
    NONCE_SIZE,
    SMP_1_0,
    WIRE_MAJOR,
    Envelope,
    Kind,
    Version,
    decode_envelope,
)
from secondme.protocol.errors import (
    Busy,
    LocalProtocolError,
    RateLimited,
    RemoteProtocolError,
    UnexpectedMessage,
    UnsupportedVersion,
)
from secondme.protocol.fields import InvalidField
from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.messages import (
    CORE_MESSAGES,
    ErrorMessage,
    Message,
    MessageRegistry,
    Request,
    Response,
)
from secondme.protocol.ratelimit import TokenBucketLimiter
from secondme.protocol.replay import ReplayWindow


class Role(Enum):
    REQUESTER = "requester"
    RESPONDER = "responder"


class State(Enum):
    IDLE = "idle"
    AWAITING_RESPONSE = "awaiting response"
    STREAMING = "streaming"
    DONE = "done"
    BROKEN = "broken"


class Event(Enum):
    REQUEST = "request"
    PART = "part"
    RESPONSE = "response"
    ERROR = "error"


TRANSITIONS: dict[State, dict[tuple[Role, Event], State]] = {
    State.IDLE: {(Role.REQUESTER, Event.REQUEST): State.AWAITING_RESPONSE},
    State.AWAITING_RESPONSE: {
        (Role.RESPONDER, Event.PART): State.STREAMING,
        (Role.RESPONDER, Event.RESPONSE): State.DONE,
        (Role.RESPONDER, Event.ERROR): State.DONE,
    },
    State.STREAMING: {
        (Role.RESPONDER, Event.PART): State.STREAMING,
        (Role.RESPONDER, Event.RESPONSE): State.DONE,
        (Role.RESPONDER, Event.ERROR): State.DONE,
    },
    State.DONE: {},
    State.BROKEN: {},
}
"""state -> (who emits, event) -> next state; anything absent is impossible."""

_ANSWERABLE = frozenset({State.AWAITING_RESPONSE, State.STREAMING})
"""States in which the responder may still send (parts, then the answer)."""

_EVENT_OF_KIND = {
    Kind.REQUEST: Event.REQUEST,
    Kind.RESPONSE: Event.RESPONSE,
    Kind.ERROR: Event.ERROR,
}


class Exchange:
    """The state of one request and its answer, as seen by the side playing ``our_role``."""

    __slots__ = ("our_role", "state")

    def __init__(self, our_role: Role) -> None:
        self.our_role = our_role
        self.state = State.IDLE

    def process(self, emitter: Role, event: Event) -> None:
        """Apply ``event``, emitted by ``emitter``; raises :class:`LocalProtocolError` if we
        emitted an impossible event, :class:`UnexpectedMessage` if the peer did."""
        next_state = TRANSITIONS[self.state].get((emitter, event))
        if next_state is None:
            text = f"{emitter.value} cannot send a {event.value} in state {self.state.value}"
            if emitter is self.our_role:
                raise LocalProtocolError(text)
            raise UnexpectedMessage(text)
        self.state = next_state

    def process_error(self) -> None:
        """The peer sent something unreadable: nothing more can happen in this exchange."""
        self.state = State.BROKEN


class OutgoingRequest:
    """A request this node made: ``payload`` goes into one frame, the answer goes to
    :meth:`SmpEndpoint.receive_response` with this object."""

    __slots__ = ("exchange", "message", "payload", "request_id", "version")

    def __init__(
        self,
        *,
        request_id: int,
        message: Request,
        version: Version,
        payload: bytes,
        exchange: Exchange,
    ) -> None:
        self.request_id = request_id
        self.message = message
        self.version = version
        self.payload = payload
        self.exchange = exchange


class IncomingRequest:
    """A request a peer made, checked and parsed: answer it with :meth:`SmpEndpoint.respond`
    or :meth:`SmpEndpoint.respond_error`, exactly once. ``version`` is the negotiated one."""

    __slots__ = ("envelope", "exchange", "message", "peer", "version")

    def __init__(
        self,
        *,
        peer: PeerId,
        envelope: Envelope,
        message: Request,
        version: Version,
        exchange: Exchange,
    ) -> None:
        self.peer = peer
        self.envelope = envelope
        self.message = message
        self.version = version
        self.exchange = exchange

    @property
    def request_id(self) -> int:
        assert self.envelope.request_id is not None  # a request envelope always has one
        return self.envelope.request_id

    @property
    def grant(self) -> bytes | None:
        return self.envelope.grant


class SmpEndpoint:
    """One node's side of SMP: signs what it sends, checks what it receives.

    ``clock`` stamps outgoing envelopes and should be the clock ``replay_window`` reads.
    ``versions`` lists the highest minor this node speaks of each major it speaks; requests go
    out in the highest. An optional ``rate_limiter`` (one bucket per peer), or instead
    ``budgets`` (buckets by class of peer; a stranger's nonces then count against the replay
    window's smaller stranger shares), is consulted first thing on every incoming request,
    before any decoding. ``random_bytes`` makes request ids and
    nonces; it is a parameter so test vectors can be reproduced.
    """

    __slots__ = (
        "_budgets",
        "_clock",
        "_identity",
        "_random_bytes",
        "_rate_limiter",
        "_registry",
        "_replay_window",
        "_versions",
    )

    def __init__(
        self,
        identity: Identity,
        clock: Clock,
        replay_window: ReplayWindow,
        versions: Sequence[Version] = (SMP_1_0,),
        *,
        registry: MessageRegistry = CORE_MESSAGES,
        rate_limiter: TokenBucketLimiter | None = None,
        budgets: PeerBudgets | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if rate_limiter is not None and budgets is not None:
            raise ValueError("give a rate limiter or budgets, not both")
        if not versions or len({version.major for version in versions}) != len(versions):
            raise ValueError("versions must name each major version once")
        if any(version.major != WIRE_MAJOR for version in versions):
            raise ValueError(f"this implementation speaks only version {WIRE_MAJOR}.x")
        self._identity = identity
        self._clock = clock
        self._replay_window = replay_window
        self._versions = {version.major: version for version in versions}
        self._registry = registry
        self._rate_limiter = rate_limiter
        self._budgets = budgets
        self._random_bytes = random_bytes

    @property
    def peer_id(self) -> PeerId:
        return self._identity.peer_id

    @property
    def versions(self) -> tuple[Version, ...]:
        return tuple(sorted(self._versions.values(), reverse=True))

    # Requester side

    def request(self, message: Message, *, grant: bytes | None = None) -> OutgoingRequest:
        """Sign ``message`` as a new request; the payload is ready to be framed and sent."""
        if not isinstance(message, Request) or type(message) not in self._registry:
            raise LocalProtocolError(f"{type(message).__name__} is not a registered request")
        version = self.versions[0]
        request_id = int.from_bytes(self._random_bytes(8), "big")
        payload = self._seal(version, message, request_id=request_id, grant=grant)
        exchange = Exchange(Role.REQUESTER)
        exchange.process(Role.REQUESTER, Event.REQUEST)
        return OutgoingRequest(
            request_id=request_id,
            message=message,
            version=version,
            payload=payload,
            exchange=exchange,
        )

    def receive_response(self, peer: PeerId, outgoing: OutgoingRequest, payload: bytes) -> Response:
        """Check and parse the answer ``peer`` sent to ``outgoing``.

        For a streamed request, each part comes back here too (an instance of the request's
        ``PART``; the exchange stays open, so call again with the next frame) until the final
        response. Raises :class:`RemoteError` when the answer is an error frame, a
        :class:`RemoteProtocolError` when it is not a valid answer (after which the exchange
        is broken), and :class:`LocalProtocolError` if ``outgoing`` was already answered.
        """
        exchange = outgoing.exchange
        if exchange.state not in _ANSWERABLE:
            raise LocalProtocolError(f"the exchange is {exchange.state.value}, not awaiting")
        try:
            envelope = decode_envelope(payload)
            if envelope.version.major != outgoing.version.major or (
                envelope.version.minor > outgoing.version.minor
            ):
                raise UnsupportedVersion(
                    f"answer in version {envelope.version} to a {outgoing.version} request"
                )
            envelope.verify(peer)
            # Only an error may carry no id (the envelope enforces that): the responder could
            # not read ours. On a stream that carries one request, it still answers ours.
            if envelope.request_id not in (outgoing.request_id, None):
                raise UnexpectedMessage(
                    f"answer to request {envelope.request_id}, not {outgoing.request_id}"
                )
            part = outgoing.message.PART
            is_part = (
                part is not None
                and envelope.kind is Kind.RESPONSE
                and envelope.message_type == part.TYPE
            )
            event = Event.PART if is_part else _EVENT_OF_KIND[envelope.kind]
            exchange.process(Role.RESPONDER, event)
            expected = ErrorMessage if envelope.kind is Kind.ERROR else outgoing.message.RESPONSE
            if is_part:
                assert part is not None
                expected = part
            if envelope.message_type != expected.TYPE:
                raise UnexpectedMessage(
                    f"a {envelope.message_type!r} does not answer a {outgoing.message.TYPE!r}"
                )
            message = expected.from_body(envelope.body)
        except RemoteProtocolError:
            exchange.process_error()
            raise
        if isinstance(message, ErrorMessage):
            raise message.to_exception()
        assert isinstance(message, Response)
        return message

    # Responder side

    def receive_request(self, peer: PeerId, payload: bytes) -> IncomingRequest:
        """Check and parse a request ``peer`` (from the Noise session) sent.

        The checks run in the order of ``smp-spec/README.md``: rate limit, envelope, version,
        signature, kind, freshness and replay, type, body. A failure raises a
        :class:`RemoteProtocolError` whose ``code`` belongs in the error frame and whose
        ``request_id`` is set once the envelope was read; pass both to :meth:`respond_error`.
        A request that passed the replay step keeps its nonce used, whatever refuses it later
        (its type, its body, the grant, the handler): replayed, it is ``replayed``.
        """
        stranger = self._admit(peer)
        envelope = decode_envelope(payload)
        try:
            ours = self._versions.get(envelope.version.major)
            if ours is None:
                raise UnsupportedVersion(f"this node does not speak version {envelope.version}")
            envelope.verify(peer)
            exchange = Exchange(Role.RESPONDER)
            exchange.process(Role.REQUESTER, _EVENT_OF_KIND[envelope.kind])
            self._replay_window.check(
                peer, envelope.nonce, envelope.timestamp_ms, stranger=stranger
            )
            message = self._registry.parse(envelope)
        except RemoteProtocolError as exc:
            exc.request_id = envelope.request_id
            exc.message_type = envelope.message_type
            raise
        assert isinstance(message, Request)  # the registry keys request types by kind
        version = Version(major=ours.major, minor=min(ours.minor, envelope.version.minor))
        return IncomingRequest(
            peer=peer, envelope=envelope, message=message, version=version, exchange=exchange
        )

    def refuse_frame(self, peer: PeerId, error: RemoteProtocolError) -> bytes | None:
        """The error frame (id nil) for a frame ``peer`` sent that could not be read: a bad or
        too large length prefix, a truncated frame (step 1 of the spec's checks).

        It costs the peer one request of its rate like any other; ``None`` when the peer is
        over its rate, so that a flood of bad frames is answered by resets, not signatures.
        """
        try:
            self._admit(peer)
        except (RateLimited, Busy):
            return None
        return self.respond_error(None, error)

    def _admit(self, peer: PeerId) -> bool:
        """Step 2: the peer's rate; True if the budgets class it as a stranger (whose replay
        shares are smaller)."""
        if self._budgets is not None:
            return self._budgets.admit(peer)
        if self._rate_limiter is not None:
            self._rate_limiter.acquire(peer)
        return False

    def respond(self, incoming: IncomingRequest, message: Response) -> bytes:
        """Sign ``message`` as the answer to ``incoming``; the payload is ready to be framed.

        Raises :class:`LocalProtocolError` if ``message`` is not the type that answers the
        request, or the request was already answered.
        """
        expected = type(incoming.message).RESPONSE
        if type(message) is not expected:
            raise LocalProtocolError(
                f"a {incoming.message.TYPE!r} is answered by {expected.__name__}, "
                f"not {type(message).__name__}"
            )
        if incoming.exchange.state not in _ANSWERABLE:
            raise LocalProtocolError(f"the request is {incoming.exchange.state.value}")
        payload = self._seal(incoming.version, message, request_id=incoming.request_id)
        incoming.exchange.process(Role.RESPONDER, Event.RESPONSE)
        return payload

    def respond_part(self, incoming: IncomingRequest, message: Response) -> bytes:
        """Sign one part of a streamed answer to ``incoming``; the final answer still follows
        with :meth:`respond` (or :meth:`respond_error`).

        Raises :class:`LocalProtocolError` if the request type is not streamed, ``message`` is
        not its ``PART`` type, or the request was already answered.
        """
        part = type(incoming.message).PART
        if part is None or type(message) is not part:
            raise LocalProtocolError(
                f"a {incoming.message.TYPE!r} is not streamed in {type(message).__name__}"
            )
        if incoming.exchange.state not in _ANSWERABLE:
            raise LocalProtocolError(f"the request is {incoming.exchange.state.value}")
        payload = self._seal(incoming.version, message, request_id=incoming.request_id)
        incoming.exchange.process(Role.RESPONDER, Event.PART)
        return payload

    def respond_error(
        self,
        request: IncomingRequest | int | None,
        error: ErrorMessage | RemoteProtocolError,
    ) -> bytes:
        """Sign an error frame answering ``request``: a parsed request, the id of one that
        failed its checks (``RemoteProtocolError.request_id``), or ``None`` when not even the
        id could be read.

        ``error`` is a message or the exception that refused the request; only codes in the
        registry may be sent (:class:`LocalProtocolError` otherwise). The frame is written in
        the negotiated version for a parsed request, and in minor version 0 otherwise.
        """
        if not isinstance(error, ErrorMessage):
            error = ErrorMessage.from_exception(error)
        if not error.is_registered:
            raise LocalProtocolError(f"error code {error.code!r} is not in the SMP registry")
        if isinstance(request, IncomingRequest):
            if request.exchange.state not in _ANSWERABLE:
                raise LocalProtocolError(f"the request is {request.exchange.state.value}")
            payload = self._seal(request.version, error, request_id=request.request_id)
            request.exchange.process(Role.RESPONDER, Event.ERROR)
            return payload
        # Minor 0 of our major: every requester of that major reads it, whatever minor it asked
        # in (a request refused before negotiation has no negotiated version).
        return self._seal(Version(major=self.versions[0].major, minor=0), error, request_id=request)

    def _seal(
        self,
        version: Version,
        message: Message,
        *,
        request_id: int | None,
        grant: bytes | None = None,
    ) -> bytes:
        try:
            envelope = Envelope.sign(
                self._identity,
                version=version,
                message_type=message.TYPE,
                request_id=request_id,
                kind=message.KIND,
                timestamp_ms=self._clock.now_ms(),
                nonce=self._random_bytes(NONCE_SIZE),
                grant=grant,
                body=message.to_body(),
            )
        except InvalidField as exc:
            raise LocalProtocolError(f"cannot send this {message.TYPE!r}: {exc}") from exc
        return envelope.encode()
