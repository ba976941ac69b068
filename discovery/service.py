"""What a discovery server decides: who may create, join, register, read and remove what.

:class:`DiscoveryService` takes a request that the endpoint has already checked (signature
against the Noise peer, freshness, replay, rate) and answers it or raises a refusal with its
own code. Everything a peer sends is verified before anything is written, so a refused
request leaves the store as it was. The store does the atomic parts (a single-use invite
bound once, a record replaced only by a newer one).

The server stores metadata only; it has no message that carries content, and records and
tokens are bounded in size and in what they may hold.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from secondme.discovery.store.base import DiscoveryStore, JoinOutcome
from secondme.protocol.clock import Clock
from secondme.protocol.discovery import (
    Done,
    Forbidden,
    InviteExpired,
    InviteRevoke,
    InviteRevoked,
    InviteSpent,
    Join,
    Joined,
    LimitReached,
    Lookup,
    Member,
    MemberPage,
    MemberRemove,
    Members,
    NetworkClose,
    NetworkCreate,
    NetworkExists,
    NetworkInfo,
    NetworkLeave,
    NoRecord,
    NotMember,
    NotOwner,
    PeerFound,
    RecordStale,
    Register,
    Registered,
    TtlOutOfRange,
    UnknownNetwork,
)
from secondme.protocol.identity import PeerId
from secondme.protocol.invites import InviteForged, InviteToken, Role
from secondme.protocol.messages import Request, Response
from secondme.protocol.records import PeerRecord, RecordInvalid

log = logging.getLogger(__name__)

T = TypeVar("T")

HOUR_MS = 3600 * 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoveryLimits:
    min_ttl_ms: int = 1 * HOUR_MS
    """A record must live at least this long from when it arrives..."""
    max_ttl_ms: int = 72 * HOUR_MS
    """...and at most this long: a crashed node's address does not linger for weeks."""
    max_networks_owned: int = 32
    max_memberships: int = 1000
    """Networks one peer may be in (its ``disc.registered`` lists them all)."""
    max_members: int = 100_000
    max_page_bytes: int = 1024 * 1024
    """A member page stops early (with ``next``) once its records pass this many bytes."""
    requests_per_s: float = 20.0
    burst: int = 60


class DiscoveryService:
    def __init__(self, store: DiscoveryStore, clock: Clock, limits: DiscoveryLimits) -> None:
        self.store = store
        self.clock = clock
        self.limits = limits
        self._handlers: dict[type[Request], Callable[[PeerId, Any], Any]] = {
            NetworkCreate: self.create_network,
            Join: self.join,
            Register: self.register,
            Members: self.members,
            Lookup: self.lookup,
            MemberRemove: self.remove_member,
            InviteRevoke: self.revoke_invite,
            NetworkLeave: self.leave,
            NetworkClose: self.close_network,
        }

    def serves(self, request_type: type[Request]) -> bool:
        return request_type in self._handlers

    async def handle(self, peer: PeerId, message: Request) -> Response:
        """The answer to ``message`` from ``peer``; raises a ``RemoteProtocolError`` to refuse."""
        return await self._handlers[type(message)](peer, message)

    async def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.store.executor, functools.partial(fn, *args, **kwargs)
        )

    # -- checks ---------------------------------------------------------------------------

    def _record_from(self, peer: PeerId, data: bytes) -> PeerRecord:
        record = PeerRecord.decode(data)
        if record.peer != peer:
            raise RecordInvalid(f"the record is {record.peer}'s, not the sender's")
        ttl = record.expires_ms - self.clock.now_ms()
        if not self.limits.min_ttl_ms <= ttl <= self.limits.max_ttl_ms:
            raise TtlOutOfRange(
                f"a record must expire {self.limits.min_ttl_ms // 60_000} min to "
                f"{self.limits.max_ttl_ms // HOUR_MS} h from now; this one expires in "
                f"{ttl // 60_000} min"
            )
        return record

    async def _check_fresh(self, record: PeerRecord) -> None:
        stored = await self._db(self.store.record_seq, str(record.peer))
        if stored is not None and record.seq <= stored:
            raise RecordStale(f"the record's seq {record.seq} is not above the stored {stored}")

    async def _role_in(self, peer: PeerId, network: str, *allowed: str) -> str:
        """The peer's role in ``network`` if it is one of ``allowed``. A non-member is told it
        is not a member whether or not the network exists: it learns nothing about it."""
        role = await self._db(self.store.role, network, str(peer))
        if role is None:
            raise NotMember("you are not a member of that network")
        if role not in allowed:
            raise NotOwner(f"only the network's {' or '.join(allowed)} may do that")
        return role

    # -- handlers -------------------------------------------------------------------------

    async def create_network(self, peer: PeerId, message: NetworkCreate) -> NetworkInfo:
        row = await self._db(
            self.store.create_network,
            message.network,
            message.name,
            str(peer),
            self.clock.now_ms(),
            max_owned=self.limits.max_networks_owned,
        )
        if row is None:
            raise LimitReached(f"a peer may own at most {self.limits.max_networks_owned} networks")
        if row.owner != str(peer):
            raise NetworkExists(f"network {message.network} exists and is not yours")
        log.info("network %s (%s) created by %s", row.network, row.name, peer)
        return NetworkInfo(
            network=row.network, name=row.name, owner=row.owner, created_ms=row.created_ms
        )

    async def join(self, peer: PeerId, message: Join) -> Joined:
        token = InviteToken.parse(message.token)
        record = self._record_from(peer, message.record)
        if self.clock.now_ms() >= token.expires_ms:
            raise InviteExpired("the invite has expired; ask for a new one")
        network = await self._db(self.store.network, token.network)
        if network is None:
            raise UnknownNetwork(f"no network {token.network} on this server (closed?)")
        if str(token.issuer) != network.owner:
            issuer_role = await self._db(self.store.role, token.network, str(token.issuer))
            if issuer_role != Role.INVITER or token.role != Role.MEMBER:
                raise InviteForged(f"{token.issuer} may not issue this invite to that network")
        await self._check_fresh(record)
        memberships = await self._db(self.store.networks_of, str(peer))
        if token.network not in memberships and len(memberships) >= self.limits.max_memberships:
            raise LimitReached(f"a peer may be in at most {self.limits.max_memberships} networks")
        outcome = await self._db(
            self.store.join,
            network=token.network,
            invite_id=token.invite_id,
            uses=token.uses,
            role=token.role.value,
            peer=str(peer),
            now_ms=self.clock.now_ms(),
            expires_ms=token.expires_ms,
            max_members=self.limits.max_members,
        )
        if outcome == JoinOutcome.SPENT:
            raise InviteSpent("every use of this invite is taken")
        if outcome == JoinOutcome.REVOKED:
            raise InviteRevoked("the invite was revoked")
        if outcome == JoinOutcome.FULL:
            raise LimitReached(f"the network has {self.limits.max_members} members")
        if outcome == JoinOutcome.GONE:
            raise UnknownNetwork(f"network {token.network} was closed")
        await self._db(
            self.store.put_record, str(peer), record.seq, record.expires_ms, record.encoded
        )
        if outcome == JoinOutcome.JOINED:
            log.info("%s joined network %s (invite %s)", peer, token.network, token.invite_id)
        # The member's role now: a member who redeems an inviter token is an inviter, and an
        # inviter who redeems a member token stays one.
        role = await self._db(self.store.role, token.network, str(peer)) or token.role.value
        return Joined(network=network.network, name=network.name, owner=network.owner, role=role)

    async def register(self, peer: PeerId, message: Register) -> Registered:
        record = self._record_from(peer, message.record)
        networks = await self._db(self.store.networks_of, str(peer))
        if not networks:
            raise NotMember("only members of a network may register; join one first")
        stored = await self._db(
            self.store.put_record, str(peer), record.seq, record.expires_ms, record.encoded
        )
        if not stored:
            raise RecordStale(f"the record's seq {record.seq} is not above the stored one")
        return Registered(seq=record.seq, expires_ms=record.expires_ms, networks=tuple(networks))

    async def members(self, peer: PeerId, message: Members) -> MemberPage:
        # Non-members learn nothing, not even whether the network exists.
        if await self._db(self.store.role, message.network, str(peer)) is None:
            raise NotMember("only members may list a network's members")
        rows = await self._db(
            self.store.members,
            message.network,
            after=message.after,
            limit=message.limit + 1,
            now_ms=self.clock.now_ms(),
        )
        page: list[Member] = []
        size = 0
        for row in rows[: message.limit]:
            size += 128 + (len(row.record) if row.record else 0)
            if page and size > self.limits.max_page_bytes:
                break
            page.append(
                Member(peer=row.peer, role=row.role, joined_ms=row.joined_ms, record=row.record)
            )
        more = len(page) < len(rows)
        return MemberPage(members=tuple(page), next=page[-1].peer if more and page else None)

    async def lookup(self, peer: PeerId, message: Lookup) -> PeerFound:
        if message.peer != str(peer) and not await self._db(
            self.store.shares_network, str(peer), message.peer
        ):
            raise NotMember("you share no network with that peer")
        record = await self._db(self.store.record, message.peer, self.clock.now_ms())
        if record is None:
            raise NoRecord(f"{message.peer} has no live record")
        return PeerFound(record=record)

    async def remove_member(self, peer: PeerId, message: MemberRemove) -> Done:
        await self._role_in(peer, message.network, Role.OWNER)
        if message.peer == str(peer):
            raise Forbidden("the owner cannot remove itself; close the network instead")
        if not await self._db(self.store.remove_member, message.network, message.peer):
            raise NotMember(f"{message.peer} is not a member of that network")
        log.info("%s removed from network %s", message.peer, message.network)
        return Done()

    async def revoke_invite(self, peer: PeerId, message: InviteRevoke) -> Done:
        await self._role_in(peer, message.network, Role.OWNER, Role.INVITER)
        await self._db(
            self.store.revoke_invite, message.network, message.invite_id, message.expires_ms
        )
        log.info("invite %s of network %s revoked", message.invite_id, message.network)
        return Done()

    async def leave(self, peer: PeerId, message: NetworkLeave) -> Done:
        role = await self._db(self.store.role, message.network, str(peer))
        if role is None:
            raise NotMember("you are not a member of that network")
        if role == Role.OWNER:
            raise Forbidden("the owner cannot leave its network; close it instead")
        await self._db(self.store.remove_member, message.network, str(peer))
        log.info("%s left network %s", peer, message.network)
        return Done()

    async def close_network(self, peer: PeerId, message: NetworkClose) -> Done:
        await self._role_in(peer, message.network, Role.OWNER)
        await self._db(self.store.close_network, message.network)
        log.info("network %s closed by its owner", message.network)
        return Done()

    async def sweep(self) -> int:
        return await self._db(self.store.sweep, self.clock.now_ms())
