"""The store interface of a discovery server, and the rows it hands back.

Every method is synchronous and atomic: one call is one transaction. The server runs them on
the store's own executor (``DiscoveryStore.executor``), so a slow disk or database never
blocks the event loop, and SQLite sees one writer thread while PostgreSQL gets several.

What the store holds is metadata only: network ids and names, who owns and who is a member of
each, which invite uses are bound to which peer, and each peer's latest signed record. The
rules (who may do what) live in :mod:`secondme.discovery.service`; the store keeps the
invariants that need atomicity: a spent invite stays spent under concurrent redemptions, and a
record is replaced only by a higher sequence number.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from concurrent.futures import Executor
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NetworkRow:
    network: str
    name: str
    owner: str
    created_ms: int


@dataclass(frozen=True, slots=True)
class MemberRow:
    peer: str
    role: str
    joined_ms: int
    record: bytes | None
    """The member's live record (not expired), if it has one."""


class JoinOutcome:
    JOINED = "joined"
    ALREADY = "already"
    """This peer already holds a use of this invite: joining again costs nothing."""
    SPENT = "spent"
    REVOKED = "revoked"
    FULL = "full"
    GONE = "gone"
    """The network was closed between the caller's checks and the join."""


class DiscoveryStore(ABC):
    executor: Executor
    description: str
    """Where the data lives, for logs (a path, or a URL without its password)."""

    @abstractmethod
    def create_network(
        self, network: str, name: str, owner: str, now_ms: int, *, max_owned: int
    ) -> NetworkRow | None:
        """Create ``network`` owned by ``owner`` (also its first member, role ``owner``).

        Returns ``None`` if ``owner`` already owns ``max_owned`` networks. If the id exists,
        returns the existing row (the caller compares owners), so a retried create is harmless.
        """

    @abstractmethod
    def network(self, network: str) -> NetworkRow | None: ...

    @abstractmethod
    def role(self, network: str, peer: str) -> str | None:
        """``owner``, ``inviter``, ``member``, or ``None`` for a non-member."""

    @abstractmethod
    def join(
        self,
        *,
        network: str,
        invite_id: str,
        uses: int,
        role: str,
        peer: str,
        now_ms: int,
        expires_ms: int,
        max_members: int,
    ) -> str:
        """Bind one use of ``invite_id`` to ``peer`` and make it a member, atomically.

        Returns a :class:`JoinOutcome` value; ``SPENT`` when all ``uses`` are bound to other
        peers (also under concurrent calls), ``REVOKED`` if the invite was revoked, ``FULL``
        when the network has ``max_members`` members, ``GONE`` when the network no longer
        exists.
        """

    @abstractmethod
    def revoke_invite(self, network: str, invite_id: str, expires_ms: int) -> None: ...

    @abstractmethod
    def remove_member(self, network: str, peer: str) -> bool:
        """``False`` if ``peer`` was not a member. Never removes the owner."""

    @abstractmethod
    def close_network(self, network: str) -> None:
        """Delete the network, its memberships and its invites."""

    @abstractmethod
    def put_record(self, peer: str, seq: int, expires_ms: int, record: bytes) -> bool:
        """Store ``record`` unless the stored one has a sequence number >= ``seq``."""

    @abstractmethod
    def record_seq(self, peer: str) -> int | None:
        """The sequence number of the stored record (live or not), if any."""

    @abstractmethod
    def record(self, peer: str, now_ms: int) -> bytes | None:
        """``peer``'s record, unless it expired."""

    @abstractmethod
    def members(
        self, network: str, *, after: str | None, limit: int, now_ms: int
    ) -> list[MemberRow]:
        """Up to ``limit`` members in peer-ID order, after ``after``, with live records."""

    @abstractmethod
    def member_count(self, network: str) -> int: ...

    @abstractmethod
    def shares_network(self, a: str, b: str) -> bool: ...

    @abstractmethod
    def networks_of(self, peer: str) -> list[str]: ...

    @abstractmethod
    def sweep(self, now_ms: int) -> int:
        """Delete expired records and the bookkeeping of expired invites; returns how many
        rows went."""

    @abstractmethod
    def close(self) -> None: ...
