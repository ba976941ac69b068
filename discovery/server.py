"""The discovery server as a running thing: a libp2p host, the endpoint's checks, the service,
and a periodic sweep of expired records.

Each incoming frame is checked by the sans-IO :class:`SmpEndpoint` (rate per peer, envelope,
version, signature against the Noise peer, freshness and replay), then answered by
:class:`DiscoveryService`. A refusal is answered with an error frame and one log line; the
server keeps serving whatever a peer sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from secondme.discovery.service import DiscoveryLimits, DiscoveryService
from secondme.discovery.store.base import DiscoveryStore
from secondme.protocol.clock import Clock, SystemClock
from secondme.protocol.discovery import DISCOVERY_MESSAGES, DISCOVERY_PROTOCOL_ID
from secondme.protocol.errors import InternalFailure, RemoteProtocolError, UnknownMessageType
from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.messages import Hello, HelloResponse, Ping
from secondme.protocol.ratelimit import TokenBucketLimiter
from secondme.protocol.replay import ReplayWindow
from secondme.protocol.session import SmpEndpoint
from secondme.protocol.transport.host import SmpHost

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 60.0
AGENT = "secondme-discovery/0.1"


class DiscoveryServer:
    """``async with DiscoveryServer(...)`` serves until the block ends (or :meth:`close`)."""

    def __init__(
        self,
        identity: Identity,
        listen: Sequence[str],
        store: DiscoveryStore,
        *,
        clock: Clock | None = None,
        limits: DiscoveryLimits | None = None,
        sweep_interval_s: float = SWEEP_INTERVAL_S,
    ) -> None:
        self.clock = clock or SystemClock()
        self.limits = limits or DiscoveryLimits()
        self.store = store
        self.service = DiscoveryService(store, self.clock, self.limits)
        self.endpoint = SmpEndpoint(
            identity,
            self.clock,
            ReplayWindow(self.clock),
            registry=DISCOVERY_MESSAGES,
            rate_limiter=TokenBucketLimiter(
                self.clock, rate_per_s=self.limits.requests_per_s, burst=self.limits.burst
            ),
        )
        self.host = SmpHost(
            identity.seed,
            list(listen),
            self._serve,
            protocol_id=DISCOVERY_PROTOCOL_ID,
            refuse=self._refuse_frame,
        )
        self._sweep_interval_s = sweep_interval_s
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def peer_id(self) -> PeerId:
        return self.endpoint.peer_id

    @property
    def addrs(self) -> list[str]:
        return self.host.addrs

    async def start(self) -> list[str]:
        addrs = await self.host.start()
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="discovery-sweep")
        return addrs

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.host.close()

    async def __aenter__(self) -> DiscoveryServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def sweep(self) -> int:
        """Delete expired records and invite bookkeeping now; returns how many rows went."""
        removed = await self.service.sweep()
        if removed:
            log.info("sweep: %d expired row(s) removed", removed)
        return removed

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval_s)
            try:
                await self.sweep()
            except Exception:
                log.exception("the expiry sweep failed; retrying at the next interval")

    async def _refuse_frame(self, peer: PeerId, error: RemoteProtocolError) -> bytes | None:
        """The signed error frame for a frame that could not be read (None: reset)."""
        return self.endpoint.refuse_frame(peer, error)

    async def _serve(self, peer: PeerId, payload: bytes) -> bytes:
        try:
            incoming = self.endpoint.receive_request(peer, payload)
        except RemoteProtocolError as exc:
            log.warning("refused a request from %s: %s (%s)", peer, exc.message, exc.code)
            return self.endpoint.respond_error(exc.request_id, exc)
        message = incoming.message
        try:
            if isinstance(message, Ping):
                return self.endpoint.respond(incoming, message.answer())
            if isinstance(message, Hello):
                hello = HelloResponse(
                    display_name="secondme-discovery",
                    versions=self.endpoint.versions,
                    agent=AGENT,
                )
                return self.endpoint.respond(incoming, hello)
            if not self.service.serves(type(message)):
                raise UnknownMessageType(f"a discovery server does not serve {message.TYPE!r}")
            response = await self.service.handle(peer, message)
        except RemoteProtocolError as exc:
            log.info("%s from %s refused: %s (%s)", message.TYPE, peer, exc.message, exc.code)
            return self.endpoint.respond_error(incoming, exc)
        except Exception:
            log.exception("%s from %s failed", message.TYPE, peer)
            return self.endpoint.respond_error(incoming, InternalFailure("the server failed"))
        log.debug("%s from %s answered", message.TYPE, peer)
        return self.endpoint.respond(incoming, response)
