"""This node in networks: create, invite, join, list members, remove, leave, close, refresh.

The discovery server knows who is in which network and where each member listens; this
service keeps the node's own signed record fresh there (at start, then every
``refresh_s``), learns the members, hands their addresses to the libp2p host, and connects to
them. Every record from the server is verified by the client before any address is used.
What leaves the node here is metadata only: its peer ID, addresses, display name and public
profile fields. Each server learns of the node's networks only those it hosts (the node names a
network only to its own servers), and the record it hands to members names none.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
import socket
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from secondme.discovery.client import (
    DiscoveryClient,
    DiscoveryRefused,
    DiscoveryUnavailable,
    MemberInfo,
)
from secondme.node.core.config import NetworkSettings
from secondme.node.core.errors import InvalidRequest, NotFound, PeerRefused, PeerUnreachable
from secondme.node.core.tasks import Supervisor
from secondme.node.network.membership import MEMBERSHIP, MembershipEvent
from secondme.node.network.store import IssuedInvite, Network, NetworkStore
from secondme.node.p2p.handlers import fit, public_profile
from secondme.node.p2p.service import P2PService
from secondme.node.people.owner import OwnerStore
from secondme.node.people.peers import PeerStore
from secondme.protocol.clock import Clock
from secondme.protocol.identity import Identity
from secondme.protocol.invites import (
    MAX_DISCOVERY_ADDRS,
    MAX_NETWORK_NAME,
    MAX_USES,
    InviteForged,
    InviteMalformed,
    InviteToken,
    Role,
)
from secondme.protocol.messages import MAX_DISPLAY_NAME
from secondme.protocol.records import MAX_ADDRS, PeerRecord
from secondme.protocol.transport.host import split_p2p_multiaddr

log = logging.getLogger(__name__)

T = TypeVar("T")
PROBE_TIMEOUT_S = 3.0
MAX_INVITE_S = 30 * 86_400
UNKNOWN_PEER_SYNC_S = 10.0


@dataclass(frozen=True, slots=True)
class MemberState:
    peer_id: str
    role: str
    joined_ms: int
    display_name: str | None
    addresses: tuple[str, ...]
    online: bool
    latency_ms: float | None
    is_self: bool

    def to_json(self) -> dict:
        return {
            "peer_id": self.peer_id,
            "role": self.role,
            "joined_ms": self.joined_ms,
            "display_name": self.display_name,
            "addresses": list(self.addresses),
            "online": self.online,
            "latency_ms": self.latency_ms,
            "self": self.is_self,
        }


def announced_addresses(bound: list[str], configured: tuple[str, ...]) -> tuple[str, ...]:
    """What this node tells others to dial: ``p2p.announce`` if set, else the bound addresses,
    with an unspecified IP (``0.0.0.0``) replaced by this host's own addresses."""
    if configured:
        return configured[:MAX_ADDRS]
    out: list[str] = []
    for addr in bound:
        parts = addr.split("/")
        if len(parts) > 2 and parts[1] == "ip4" and parts[2] == "0.0.0.0":
            for ip in _local_ipv4():
                out.append("/".join([*parts[:2], ip, *parts[3:]]))
        elif len(parts) > 2 and parts[1] == "ip6" and parts[2] == "::":
            continue
        else:
            out.append(addr)
    return tuple(dict.fromkeys(out))[:MAX_ADDRS]


def _local_ipv4() -> list[str]:
    found = ["127.0.0.1"]
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            ip = str(info[4][0])
            if not ipaddress.ip_address(ip).is_loopback:
                found.insert(0, ip)
    return list(dict.fromkeys(found))


class NetworkService:
    def __init__(
        self,
        *,
        identity: Identity,
        store: NetworkStore,
        p2p: P2PService,
        peers: PeerStore,
        owner: OwnerStore,
        clock: Clock,
        settings: NetworkSettings,
        announce: tuple[str, ...] = (),
    ) -> None:
        self.identity = identity
        self.store = store
        self.p2p = p2p
        self.peers = peers
        self.owner = owner
        self.clock = clock
        self.settings = settings
        suffix = f"/p2p/{identity.peer_id}"
        self.announce = tuple(a if a.endswith(suffix) else a.rstrip("/") + suffix for a in announce)
        self.client = DiscoveryClient(identity, p2p.host, clock)
        self._seq = 0
        self._last_sync_all = -UNKNOWN_PEER_SYNC_S
        self._sync_scheduled = False
        p2p.on_unknown_peer = self._unknown_peer
        self._tasks = Supervisor("network", log)

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Register with every network's discovery server now and every ``refresh_s``."""
        self._tasks.spawn(self._refresh_forever(), name="refresh")

    async def close(self) -> None:
        await self._tasks.close()

    async def _refresh_forever(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:
                log.exception("refreshing the network registrations failed")
            await asyncio.sleep(self.settings.refresh_s)

    # -- records --------------------------------------------------------------------------

    def record(self) -> PeerRecord:
        """This node's record, signed now, with a sequence number above every earlier one."""
        now = self.clock.now_ms()
        self._seq = max(self._seq + 1, now)
        public = public_profile(self.owner)
        return PeerRecord.sign(
            self.identity,
            addrs=announced_addresses(self.p2p.addrs, self.announce),
            display_name=fit(public.get("name", ""), MAX_DISPLAY_NAME),
            profile=public,
            seq=self._seq,
            expires_ms=now + self.settings.record_ttl_s * 1000,
        )

    async def refresh(self) -> dict[str, Any]:
        """Register (once per discovery server) and re-read every active network's members."""
        networks = self.store.list()
        by_servers: dict[tuple[str, ...], list[Network]] = {}
        for network in networks:
            by_servers.setdefault(network.discovery, []).append(network)
        report: dict[str, Any] = {"registered": 0, "failed": [], "removed": []}
        for servers, group in by_servers.items():
            try:
                answer = await self._discovery(self.client.register(servers, self.record()))
            except (PeerRefused, PeerUnreachable) as exc:
                if isinstance(exc, PeerRefused) and exc.remote_code == "not_member":
                    # Removed from (or closed) every network this server knew us in.
                    report["removed"] += [self._removed(network) for network in group]
                    continue
                for network in group:
                    self.store.synced(network.network_id, self.clock.now_ms(), exc.message)
                report["failed"].append({"discovery": list(servers), "error": exc.message})
                log.warning("registering with %s failed: %s", servers[0], exc.message)
                continue
            report["registered"] += 1
            still = set(answer.networks)
            for network in group:
                if network.network_id not in still:
                    # The owner removed us, or closed the network.
                    report["removed"].append(self._removed(network))
                    continue
                with contextlib.suppress(PeerRefused, PeerUnreachable):
                    await self.sync(network)
        return report

    def _removed(self, network: Network) -> str:
        self.store.set_status(
            network.network_id, MEMBERSHIP.next(network.status, MembershipEvent.REMOVE)
        )
        log.warning("no longer a member of network %s", network.name)
        return network.name

    # -- owner actions --------------------------------------------------------------------

    async def create(self, name: str, discovery: list[str]) -> Network:
        name = name.strip()
        if not 0 < len(name.encode()) <= MAX_NETWORK_NAME:
            raise InvalidRequest(f"a network name has 1 to {MAX_NETWORK_NAME} bytes")
        if any(n.name == name for n in self.store.list()):
            raise InvalidRequest(f"this node is already in a network named {name!r}")
        servers = self._check_servers(discovery)
        network_id = secrets.token_hex(16)
        info = await self._discovery(self.client.create_network(servers, network_id, name))
        network = self.store.save(
            Network(
                network_id=info.network,
                name=info.name,
                owner=info.owner,
                role=Role.OWNER.value,
                discovery=servers,
                joined_ms=info.created_ms,
            )
        )
        await self._discovery(self.client.register(servers, self.record()))
        await self.sync(network)
        log.info("created network %s (%s)", name, network_id)
        return self.store.get(network_id)

    def invite(
        self, network_name: str | None, *, uses: int, expires_s: float, role: str
    ) -> dict[str, Any]:
        network = self.store.resolve(network_name)
        if role not in (Role.MEMBER, Role.INVITER):
            raise InvalidRequest("role is member or inviter")
        if network.role == Role.MEMBER:
            raise InvalidRequest(
                f"you are a member of {network.name}, not its owner or an inviter: ask its owner"
            )
        if network.role == Role.INVITER and role != Role.MEMBER:
            raise InvalidRequest("an inviter may only invite members")
        if not 1 <= uses <= MAX_USES:
            raise InvalidRequest(f"uses is between 1 and {MAX_USES}")
        if not 0 < expires_s <= MAX_INVITE_S:
            raise InvalidRequest(f"an invite expires within {MAX_INVITE_S // 86_400} days")
        now = self.clock.now_ms()
        token = InviteToken.sign(
            self.identity,
            network=network.network_id,
            network_name=network.name,
            discovery=network.discovery,
            role=Role(role),
            uses=uses,
            expires_ms=now + int(expires_s * 1000),
            invite_id=secrets.token_hex(16),
        )
        invite = IssuedInvite(
            invite_id=token.invite_id,
            network_id=network.network_id,
            role=role,
            uses=uses,
            expires_ms=token.expires_ms,
            created_ms=now,
            revoked_ms=None,
        )
        self.store.add_invite(invite)
        return {**invite.to_json(), "network": network.name, "token": token.text}

    def invites(self) -> list[dict[str, Any]]:
        names = {n.network_id: n.name for n in self.store.list(include_inactive=True)}
        now = self.clock.now_ms()
        return [
            {
                **invite.to_json(),
                "network": names.get(invite.network_id, invite.network_id),
                "expired": invite.expires_ms <= now,
            }
            for invite in self.store.invites()
        ]

    async def revoke_invite(self, invite_id: str) -> dict[str, Any]:
        invite = self.store.invite(invite_id)
        network = self.store.get(invite.network_id)
        await self._discovery(
            self.client.revoke_invite(
                network.discovery, network.network_id, invite.invite_id, invite.expires_ms
            )
        )
        self.store.revoked(invite.invite_id, self.clock.now_ms())
        return {**invite.to_json(), "revoked_ms": self.clock.now_ms(), "network": network.name}

    async def join(self, token_text: str) -> dict[str, Any]:
        try:
            token = InviteToken.parse(token_text)
        except (InviteMalformed, InviteForged) as exc:
            raise InvalidRequest(f"not a valid invite token: {exc.message}") from None
        if token.expires_ms <= self.clock.now_ms():
            raise InvalidRequest("this invite has expired; ask for a new one")
        if token.issuer == self.identity.peer_id:
            raise InvalidRequest("this invite was issued by this node; give it to someone else")
        answer = await self._discovery(self.client.join(token.discovery, token.text, self.record()))
        network = self.store.save(
            Network(
                network_id=answer.network,
                name=answer.name,
                owner=answer.owner,
                role=answer.role,
                discovery=token.discovery,
                joined_ms=self.clock.now_ms(),
            )
        )
        members = await self.sync(network, connect=True)
        log.info("joined network %s with %d member(s)", network.name, len(members))
        return {**self.store.get(network.network_id).to_json(), "members": len(members)}

    async def remove(self, network_name: str | None, peer: str) -> dict[str, Any]:
        network = self.store.resolve(network_name)
        peer_id = self._member_id(network, peer)
        await self._discovery(
            self.client.remove_member(network.discovery, network.network_id, peer_id)
        )
        await self.sync(network)
        return {"network": network.name, "removed": peer_id}

    async def leave(self, network_name: str) -> Network:
        network = self.store.resolve(network_name)
        if network.role == Role.OWNER:
            raise InvalidRequest(f"you own {network.name}: close it instead")
        await self._discovery(self.client.leave(network.discovery, network.network_id))
        self.store.set_status(
            network.network_id, MEMBERSHIP.next(network.status, MembershipEvent.LEAVE)
        )
        return self.store.get(network.network_id)

    async def close_network(self, network_name: str) -> Network:
        network = self.store.resolve(network_name)
        if network.role != Role.OWNER:
            raise InvalidRequest(f"only the owner closes {network.name}; you can leave it")
        await self._discovery(self.client.close_network(network.discovery, network.network_id))
        self.store.set_status(
            network.network_id, MEMBERSHIP.next(network.status, MembershipEvent.CLOSE)
        )
        return self.store.get(network.network_id)

    # -- members --------------------------------------------------------------------------

    async def sync(self, network: Network, *, connect: bool = False) -> list[MemberInfo]:
        """Read the member list, remember every member's verified addresses, and (with
        ``connect``, or for members not yet known) connect to them in the background."""
        try:
            members = await self._discovery(
                self.client.members(network.discovery, network.network_id)
            )
        except (PeerRefused, PeerUnreachable) as exc:
            self.store.synced(network.network_id, self.clock.now_ms(), exc.message)
            raise
        self.store.replace_members(
            network.network_id, [(m.peer, m.role, m.joined_ms) for m in members]
        )
        me = str(self.identity.peer_id)
        for member in members:
            if member.peer == me or member.record is None:
                continue
            known = self.peers.find(member.peer)
            record = self.peers.add(member.peer, member.record.addrs)
            self.p2p.remember_addresses(record)
            if connect or known is None:
                self._connect_later(record.peer_id)
        self.store.synced(network.network_id, self.clock.now_ms())
        return members

    async def members(self, network_name: str | None, *, probe: bool = True) -> dict[str, Any]:
        """The members with their online state: this node asks each one (concurrently, a few
        seconds at most) unless ``probe`` is false, then only a live connection counts."""
        network = self.store.resolve(network_name)
        error = None
        try:
            await self.sync(network)
        except (PeerRefused, PeerUnreachable) as exc:
            error = exc.message  # show the last known list, and say why it may be stale
        me = str(self.identity.peer_id)
        rows = self.store.members(network.network_id)
        connected = {str(p) for p in self.p2p.host.connected_peers()}

        async def state(peer_id: str, role: str, joined_ms: int) -> MemberState:
            known = self.peers.find(peer_id)
            online, latency = peer_id == me or peer_id in connected, None
            if probe and known is not None and peer_id != me:
                try:
                    latency = await self.p2p.ping(known, timeout=PROBE_TIMEOUT_S)
                    online = True
                except (PeerRefused, PeerUnreachable):
                    online = False
            name = known.display_name if known else None
            if peer_id == me:
                name = public_profile(self.owner).get("name") or None
            return MemberState(
                peer_id=peer_id,
                role=role,
                joined_ms=joined_ms,
                display_name=name,
                addresses=known.addresses if known else (),
                online=online,
                latency_ms=None if latency is None else round(latency, 3),
                is_self=peer_id == me,
            )

        states = await asyncio.gather(*(state(*row) for row in rows))
        return {
            "network": self.store.get(network.network_id).to_json(),
            "members": [s.to_json() for s in states],
            "stale": error,
        }

    def list(self) -> list[dict[str, Any]]:
        out = []
        for network in self.store.list(include_inactive=True):
            out.append(
                {**network.to_json(), "members": len(self.store.members(network.network_id))}
            )
        return out

    async def sync_all(self) -> None:
        """Re-read every active network's members (failures are kept as ``sync_error``)."""
        for network in self.store.list():
            with contextlib.suppress(PeerRefused, PeerUnreachable):
                await self.sync(network)

    def _unknown_peer(self, peer_id: str) -> None:
        """A peer this node does not know talked to it: a new member, most likely. Read the
        member lists again, at most once every ``UNKNOWN_PEER_SYNC_S``: a peer that comes
        sooner after the last read is read later, not forgotten (two people joining a minute
        apart are both known to the owner within that bound)."""
        if not self.store.list() or self._sync_scheduled:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._last_sync_all + UNKNOWN_PEER_SYNC_S - loop.time())
        self._sync_scheduled = True
        self._spawn(self._sync_all_after(delay), "network-sync")

    async def _sync_all_after(self, delay_s: float) -> None:
        try:
            if delay_s:
                await asyncio.sleep(delay_s)  # the rate limit, not a wait for anything
            self._last_sync_all = asyncio.get_running_loop().time()
        finally:
            self._sync_scheduled = False  # peers seen during the read schedule the next one
        await self.sync_all()

    # -- helpers --------------------------------------------------------------------------

    def _member_id(self, network: Network, peer: str) -> str:
        ids = [row[0] for row in self.store.members(network.network_id)]
        if peer in ids:
            return peer
        with contextlib.suppress(NotFound):
            known = self.peers.resolve(peer)
            if known.peer_id in ids:
                return known.peer_id
        raise NotFound(f"{peer!r} is not a member of {network.name}")

    @staticmethod
    def _check_servers(discovery: list[str]) -> tuple[str, ...]:
        if not discovery:
            raise InvalidRequest("name the discovery server: --discovery /ip4/.../p2p/<id>")
        for address in discovery:
            try:
                split_p2p_multiaddr(address)
            except ValueError as exc:
                raise InvalidRequest(f"discovery address: {exc}") from None
        return tuple(dict.fromkeys(discovery))[:MAX_DISCOVERY_ADDRS]

    def _connect_later(self, peer_id: str) -> None:
        async def connect() -> None:
            with contextlib.suppress(PeerRefused, PeerUnreachable):
                await self.p2p.hello(self.peers.resolve(peer_id))

        self._spawn(connect(), f"connect-{peer_id[-6:]}")

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``work`` in the background; :meth:`close` cancels whatever still runs."""
        self._tasks.spawn(work, name=name)

    @staticmethod
    async def _discovery(call: Awaitable[T]) -> T:
        """Discovery failures as the node's own errors, for the API and the CLI."""
        try:
            return await call
        except DiscoveryRefused as exc:
            raise PeerRefused(
                f"the discovery server refused: {exc.message} ({exc.code})", remote_code=exc.code
            ) from exc
        except DiscoveryUnavailable as exc:
            raise PeerUnreachable(str(exc)) from exc
