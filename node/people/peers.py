"""Peers this node knows: their IDs, addresses, names, and what they last said about themselves."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from secondme.node.core.db import Database
from secondme.node.core.errors import InvalidRequest, NotFound
from secondme.node.people.naming import check_name


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerRecord:
    peer_id: str
    name: str | None
    addresses: tuple[str, ...]
    display_name: str | None = None
    protocol_version: str | None = None
    agent: str | None = None
    public_profile: dict[str, str] = field(default_factory=dict)
    latency_ms: float | None = None
    last_seen: float | None = None
    added_at: float = 0.0

    def to_json(self) -> dict:
        return {
            "peer_id": self.peer_id,
            "name": self.name,
            "addresses": list(self.addresses),
            "display_name": self.display_name,
            "protocol_version": self.protocol_version,
            "agent": self.agent,
            "public_profile": self.public_profile,
            "latency_ms": self.latency_ms,
            "last_seen": self.last_seen,
            "added_at": self.added_at,
        }


def _peer(row) -> PeerRecord:
    return PeerRecord(
        peer_id=row["peer_id"],
        name=row["name"],
        addresses=tuple(json.loads(row["addresses"])),
        display_name=row["display_name"],
        protocol_version=row["protocol_version"],
        agent=row["agent"],
        public_profile=json.loads(row["public_profile"]),
        latency_ms=row["latency_ms"],
        last_seen=row["last_seen"],
        added_at=row["added_at"],
    )


class PeerStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def list(self) -> list[PeerRecord]:
        return [_peer(r) for r in self._db.query("SELECT * FROM peers ORDER BY added_at")]

    def find(self, peer_id: str) -> PeerRecord | None:
        row = self._db.query_one("SELECT * FROM peers WHERE peer_id = ?", (peer_id,))
        return None if row is None else _peer(row)

    def resolve(self, name_or_id: str) -> PeerRecord:
        """A known peer by its peer ID, the name its owner gave it, or else the display name
        it gave itself (network members have no name of the owner's until ``peers add``).

        A display name is the peer's own claim, so it resolves only when one known peer
        claims it; two claiming the same one must be told apart by ID or a name of the
        owner's."""
        row = self._db.query_one(
            "SELECT * FROM peers WHERE peer_id = ? OR name = ?", (name_or_id, name_or_id)
        )
        if row is not None:
            return _peer(row)
        rows = self._db.query(
            "SELECT * FROM peers WHERE display_name = ? COLLATE NOCASE", (name_or_id,)
        )
        if len(rows) > 1:
            ids = ", ".join(r["peer_id"] for r in rows)
            raise InvalidRequest(
                f"{len(rows)} peers call themselves {name_or_id!r} ({ids}): use a peer ID, or "
                "give one a name of your own with `secondme-node peers add ADDR --name NAME`"
            )
        if not rows:
            raise NotFound(
                f"unknown peer {name_or_id!r}; add it with `secondme-node peers add MULTIADDR` "
                "(a new network member: `secondme-node network refresh`)"
            )
        return _peer(rows[0])

    def add(self, peer_id: str, addresses: Sequence[str], name: str | None = None) -> PeerRecord:
        """Remember a peer (or merge new addresses and a new name into a known one)."""
        if name is not None:
            check_name("peer", name)
        with self._db.transaction() as conn:
            clash = conn.execute(
                "SELECT peer_id FROM peers WHERE name = ? AND peer_id != ?", (name, peer_id)
            ).fetchone()
            if name is not None and clash:
                raise InvalidRequest(f"the name {name!r} already belongs to {clash['peer_id']}")
            row = conn.execute("SELECT * FROM peers WHERE peer_id = ?", (peer_id,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO peers (peer_id, name, addresses, added_at) VALUES (?, ?, ?, ?)",
                    (peer_id, name, json.dumps(list(dict.fromkeys(addresses))), time.time()),
                )
            else:
                known = json.loads(row["addresses"])
                merged = list(dict.fromkeys([*addresses, *known]))
                conn.execute(
                    "UPDATE peers SET addresses = ?, name = COALESCE(?, name) WHERE peer_id = ?",
                    (json.dumps(merged), name, peer_id),
                )
        return self.resolve(peer_id)

    def seen(
        self,
        peer_id: str,
        *,
        latency_ms: float | None = None,
        display_name: str | None = None,
        protocol_version: str | None = None,
        agent: str | None = None,
        public_profile: dict[str, str] | None = None,
    ) -> bool:
        """Record a successful exchange with a known peer; ``False`` if the peer is unknown
        (unknown peers are not added)."""
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE peers SET last_seen = ?, latency_ms = COALESCE(?, latency_ms), "
                "display_name = COALESCE(?, display_name), "
                "protocol_version = COALESCE(?, protocol_version), agent = COALESCE(?, agent), "
                "public_profile = COALESCE(?, public_profile) WHERE peer_id = ?",
                (
                    time.time(),
                    latency_ms,
                    display_name,
                    protocol_version,
                    agent,
                    None if public_profile is None else json.dumps(public_profile),
                    peer_id,
                ),
            )
            return cursor.rowcount > 0

    def remove(self, name_or_id: str) -> PeerRecord:
        peer = self.resolve(name_or_id)
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM peers WHERE peer_id = ?", (peer.peer_id,))
        return peer
