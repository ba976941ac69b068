"""SMP over libp2p, as the node sees it: an asyncio object that sends and serves requests.

An :class:`SmpHost` is one libp2p identity (the node's Ed25519 key) listening on some
multiaddrs. Each SMP request travels on its own yamux stream with protocol id
``/secondme/smp/1.0.0``: the requester writes one frame (:mod:`secondme.protocol.framing`), the
responder answers with one frame and both close. The transport moves bytes only; what is in the
frames is the codec's business. The remote peer handed to the handler comes from the Noise
session, never from the message.

py-libp2p runs on trio, so the libp2p host lives in its own thread (:mod:`.trio_host`) and
whole operations cross through :mod:`.bridge`; the handler runs on the caller's asyncio loop.

Use it as ``async with SmpHost(...) as host`` (or ``start()`` / ``close()`` in a ``finally``):
``close()`` must run before the asyncio loop closes so that the libp2p thread ends with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import multiaddr

from secondme.protocol.identity import Identity, InvalidPeerId, PeerId
from secondme.protocol.transport.admission import IsTrusted, trust_everyone
from secondme.protocol.transport.bridge import TrioBridge
from secondme.protocol.transport.errors import HostClosed, HostStateError
from secondme.protocol.transport.inbound import Refuser
from secondme.protocol.transport.limits import TransportLimits
from secondme.protocol.transport.trio_host import SMP_PROTOCOL_ID, Handler, TrioHost

if TYPE_CHECKING:
    from libp2p.abc import IHost

__all__ = ["SMP_PROTOCOL_ID", "Handler", "SmpHost", "TransportLimits"]

T = TypeVar("T")


class _State(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    CLOSED = "closed"


def split_p2p_multiaddr(text: str) -> tuple[PeerId, multiaddr.Multiaddr]:
    """``/ip4/…/tcp/…/p2p/<id>`` → (peer, transport address); ``ValueError`` if malformed."""
    try:
        addr = multiaddr.Multiaddr(text)
    except Exception as exc:  # multiaddr raises several unrelated types for bad input
        raise ValueError(f"not a multiaddr: {text!r}") from exc
    head, sep, peer_text = str(addr).rpartition("/p2p/")
    if not sep or not head or "/" in peer_text:
        raise ValueError(f"the multiaddr must end in /p2p/<peer id>: {text!r}")
    try:
        peer = PeerId.from_base58(peer_text)
    except InvalidPeerId as exc:
        raise ValueError(f"not an Ed25519 peer id in {text!r}") from exc
    return peer, multiaddr.Multiaddr(head)


class SmpHost:
    """A libp2p host that speaks SMP: requests out, a handler for requests in.

    :param seed: the 32-byte Ed25519 seed of the node's identity; the libp2p peer id is the
        same as :attr:`Identity.peer_id`.
    :param listen: multiaddrs to listen on, e.g. ``/ip4/127.0.0.1/tcp/0``.
    :param handler: ``(remote peer, request payload) -> response payload``, run on this
        asyncio loop; raising resets that stream (and is logged), nothing more.
    :param protocol_id: the libp2p protocol the handler serves; SMP unless this host is a
        discovery server (same frames and envelopes, another set of messages).
    :param is_trusted: which peers get the trusted limits of ``limits`` (the others are
        strangers, see :class:`TransportLimits`); called in the libp2p thread, so it must be
        thread-safe and cheap. Without it every peer is trusted.
    :param refuse: ``(remote peer, error) -> error frame or None``, run on this asyncio loop
        for a frame that cannot be read (a bad or too large length prefix, a truncated frame,
        no room to buffer it): the frame is sent and the stream closed; ``None``, or no
        ``refuse``, resets the stream instead.
    """

    def __init__(
        self,
        seed: bytes,
        listen: Sequence[str],
        handler: Handler,
        *,
        limits: TransportLimits | None = None,
        protocol_id: str = SMP_PROTOCOL_ID,
        is_trusted: IsTrusted = trust_everyone,
        refuse: Refuser | None = None,
    ) -> None:
        self._peer_id = Identity.from_seed(seed).peer_id
        self._limits = limits or TransportLimits()
        self._bridge = TrioBridge(name=f"smp-host-{str(self._peer_id)[-6:]}")
        self._trio = TrioHost(
            seed,
            [multiaddr.Multiaddr(a) for a in listen],
            handler,
            self._limits,
            self._bridge,
            protocol_id=protocol_id,
            is_trusted=is_trusted,
            refuse=refuse,
        )
        self._state = _State.NEW
        self._addrs: list[str] = []

    @property
    def peer_id(self) -> PeerId:
        return self._peer_id

    @property
    def limits(self) -> TransportLimits:
        return self._limits

    @property
    def addrs(self) -> list[str]:
        """The multiaddrs bound by :meth:`start`, each ending in ``/p2p/<peer id>``."""
        return list(self._addrs)

    async def start(self) -> list[str]:
        """Listen; returns the multiaddrs actually bound (``/tcp/0`` resolved).

        Raises :class:`ListenFailed` if an address cannot be bound (or its port is taken).
        """
        if self._state is not _State.NEW:
            raise HostStateError(f"start() on a host that is {self._state.value}")
        self._state = _State.RUNNING
        try:
            self._addrs = await self._bridge.start(self._trio.serve)
        except BaseException:
            self._state = _State.CLOSED
            raise
        return self.addrs

    async def connect(self, multiaddr_text: str) -> PeerId:
        """Connect to ``…/p2p/<id>`` and return that id once the Noise session proves it.

        Raises :class:`PeerIdMismatch` if the remote is another key, :class:`DialFailed` if it
        cannot be reached (one attempt, bounded by ``dial_timeout_s``). The address is
        remembered for later redials.
        """
        peer, addr = split_p2p_multiaddr(multiaddr_text)
        await self._run(self._trio.connect, peer, addr)
        return peer

    async def request(
        self,
        peer: PeerId,
        payload: bytes,
        *,
        timeout: float | None = None,
        protocol_id: str | None = None,
    ) -> bytes:
        """Send one request to ``peer`` on a new stream and return its response payload.

        The stream speaks ``protocol_id``, by default the protocol this host serves (a node
        serves SMP and asks its discovery server in the discovery protocol, on one identity).

        Reuses the connection to ``peer``, or dials its known addresses (retrying with backoff
        for up to ``dial_timeout_s``, e.g. while it restarts). ``timeout`` (default
        ``request_timeout_s``) bounds everything, dialling included.

        Raises a :class:`~secondme.protocol.errors.TransportError` (see :mod:`.errors`), or
        ``FrameTooLarge`` / ``MalformedFrame`` if the response is not one valid frame;
        ``ValueError`` if ``payload`` is larger than ``max_frame``.
        """
        if len(payload) > self._limits.max_frame:
            raise ValueError(f"a payload of {len(payload)} bytes is above max_frame")
        limit = self._limits.request_timeout_s if timeout is None else timeout
        return await self._run(self._trio.request, peer, bytes(payload), limit, None, protocol_id)

    async def request_stream(
        self, peer: PeerId, payload: bytes, *, timeout: float | None = None
    ) -> AsyncIterator[bytes]:
        """Like :meth:`request`, for a streamed answer: yields each frame as it arrives, until
        the responder closes the stream.

        Errors are those of :meth:`request`, raised where the iteration reaches them. Leaving
        the iteration early cancels the request (the stream is reset).
        """
        if len(payload) > self._limits.max_frame:
            raise ValueError(f"a payload of {len(payload)} bytes is above max_frame")
        limit = self._limits.request_timeout_s if timeout is None else timeout
        loop = asyncio.get_running_loop()
        parts: asyncio.Queue[bytes] = asyncio.Queue()

        def on_part(frame: bytes) -> None:  # runs in the trio thread
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
                loop.call_soon_threadsafe(parts.put_nowait, frame)

        call = asyncio.ensure_future(
            self._run(self._trio.request, peer, bytes(payload), limit, on_part)
        )
        try:
            while True:
                waiting = asyncio.ensure_future(parts.get())
                await asyncio.wait({waiting, call}, return_when=asyncio.FIRST_COMPLETED)
                if waiting.done():
                    yield waiting.result()
                    continue
                waiting.cancel()
                while not parts.empty():
                    yield parts.get_nowait()
                call.result()  # raises the request's failure, if it failed
                return
        finally:
            if not call.done():
                call.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await call

    def add_address(self, peer: PeerId, multiaddrs: Sequence[str]) -> None:
        """Remember where ``peer`` listens, so that :meth:`request` can dial and redial it.

        Each multiaddr may end in ``/p2p/<id>``, which must then be ``peer``.
        """
        addrs = []
        for text in multiaddrs:
            if "/p2p/" in text:
                named, addr = split_p2p_multiaddr(text)
                if named != peer:
                    raise ValueError(f"{text} names {named}, not {peer}")
            else:
                addr = multiaddr.Multiaddr(text)
            addrs.append(addr)
        self._trio.add_addresses(peer, addrs)

    def connected_peers(self) -> list[PeerId]:
        """Peers with an open connection now (either direction)."""
        if self._state is not _State.RUNNING:
            return []
        return self._trio.connected_peers()

    async def disconnect(self, peer: PeerId) -> None:
        """Close the connections to ``peer``; a later request redials."""
        await self._run(self._trio.disconnect, peer)

    async def close(self) -> None:
        """Stop serving and close every connection; idempotent.

        Calls still running fail with :class:`HostClosed`. Returns once the libp2p thread has
        ended: nothing (thread, trio task, socket) is left behind.
        """
        self._state = _State.CLOSED
        await self._bridge.stop()

    async def __aenter__(self) -> SmpHost:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def call_in_libp2p(self, fn: Callable[[IHost], Awaitable[T]]) -> T:
        """Run ``fn(py-libp2p host)`` in the host's trio thread: a seam for tests and benchmarks
        (raw streams, misbehaving peers), not for node code, which must not depend on libp2p."""
        return await self._run(self._call_with_host, fn)

    async def _call_with_host(self, fn: Callable[[IHost], Awaitable[T]]) -> T:
        return await fn(self._trio.host)

    async def _run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        if self._state is _State.NEW:
            raise HostStateError("the host is not started")
        if self._state is _State.CLOSED:
            raise HostClosed("the host is closed")
        return await self._bridge.run(fn, *args)
