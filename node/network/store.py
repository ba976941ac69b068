"""The networks this node is in, their last known members, and the invites it issued."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from secondme.node.core.db import Database
from secondme.node.core.errors import InvalidRequest, NotFound
from secondme.node.network.membership import Membership


@dataclass(frozen=True, slots=True)
class Network:
    network_id: str
    name: str
    owner: str
    role: str
    discovery: tuple[str, ...]
    joined_ms: int
    status: Membership = Membership.ACTIVE
    synced_ms: int | None = None
    sync_error: str | None = None

    @property
    def active(self) -> bool:
        return self.status == Membership.ACTIVE

    def to_json(self) -> dict:
        return {
            "network_id": self.network_id,
            "name": self.name,
            "owner": self.owner,
            "role": self.role,
            "discovery": list(self.discovery),
            "joined_ms": self.joined_ms,
            "status": self.status,
            "synced_ms": self.synced_ms,
            "sync_error": self.sync_error,
        }


@dataclass(frozen=True, slots=True)
class IssuedInvite:
    invite_id: str
    network_id: str
    role: str
    uses: int
    expires_ms: int
    created_ms: int
    revoked_ms: int | None

    def to_json(self) -> dict:
        return {
            "invite_id": self.invite_id,
            "network_id": self.network_id,
            "role": self.role,
            "uses": self.uses,
            "expires_ms": self.expires_ms,
            "created_ms": self.created_ms,
            "revoked_ms": self.revoked_ms,
        }


def _network(row) -> Network:
    return Network(
        network_id=row["network_id"],
        name=row["name"],
        owner=row["owner"],
        role=row["role"],
        discovery=tuple(json.loads(row["discovery"])),
        joined_ms=row["joined_ms"],
        status=Membership(row["status"]),
        synced_ms=row["synced_ms"],
        sync_error=row["sync_error"],
    )


def _invite(row) -> IssuedInvite:
    return IssuedInvite(*(row[key] for key in IssuedInvite.__dataclass_fields__))


class NetworkStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- networks -------------------------------------------------------------------------

    def save(self, network: Network) -> Network:
        """Insert or replace (a network joined again becomes active again)."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO networks (network_id, name, owner, role, discovery, joined_ms, "
                "status) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (network_id) DO UPDATE SET "
                "name = excluded.name, role = excluded.role, discovery = excluded.discovery, "
                "status = excluded.status, sync_error = NULL",
                (
                    network.network_id,
                    network.name,
                    network.owner,
                    network.role,
                    json.dumps(list(network.discovery)),
                    network.joined_ms,
                    network.status,
                ),
            )
        return self.get(network.network_id)

    def get(self, network_id: str) -> Network:
        row = self._db.query_one("SELECT * FROM networks WHERE network_id = ?", (network_id,))
        if row is None:
            raise NotFound(f"unknown network {network_id}")
        return _network(row)

    def list(self, *, include_inactive: bool = False) -> list[Network]:
        rows = self._db.query("SELECT * FROM networks ORDER BY joined_ms")
        networks = [_network(row) for row in rows]
        return networks if include_inactive else [n for n in networks if n.active]

    def resolve(self, name_or_id: str | None) -> Network:
        """An active network by name or id (a unique id prefix works); with ``None``, the only
        active network, if there is exactly one."""
        active = self.list()
        if name_or_id is None:
            if len(active) == 1:
                return active[0]
            if not active:
                raise NotFound(
                    "this node is in no network: create one (`network create`) or join one"
                )
            names = ", ".join(n.name for n in active)
            raise InvalidRequest(f"this node is in several networks ({names}); name one")
        matches = [n for n in active if name_or_id in (n.name, n.network_id)]
        if not matches:
            matches = [n for n in active if n.network_id.startswith(name_or_id)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise NotFound(f"this node is in no network {name_or_id!r}")
        ids = ", ".join(n.network_id for n in matches)
        raise InvalidRequest(f"{name_or_id!r} names several networks ({ids}); use the id")

    def set_status(self, network_id: str, status: Membership) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE networks SET status = ? WHERE network_id = ?", (status, network_id)
            )

    def synced(self, network_id: str, at_ms: int, error: str | None = None) -> None:
        with self._db.transaction() as conn:
            if error is None:
                conn.execute(
                    "UPDATE networks SET synced_ms = ?, sync_error = NULL WHERE network_id = ?",
                    (at_ms, network_id),
                )
            else:
                conn.execute(
                    "UPDATE networks SET sync_error = ? WHERE network_id = ?", (error, network_id)
                )

    # -- members --------------------------------------------------------------------------

    def replace_members(self, network_id: str, members: Sequence[tuple[str, str, int]]) -> None:
        """The member list as the server gave it: (peer id, role, joined ms) each."""
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM network_members WHERE network_id = ?", (network_id,))
            conn.executemany(
                "INSERT INTO network_members (network_id, peer_id, role, joined_ms) "
                "VALUES (?, ?, ?, ?)",
                [(network_id, *member) for member in members],
            )

    def members(self, network_id: str) -> list[tuple[str, str, int]]:
        rows = self._db.query(
            "SELECT peer_id, role, joined_ms FROM network_members WHERE network_id = ? "
            "ORDER BY joined_ms, peer_id",
            (network_id,),
        )
        return [(row["peer_id"], row["role"], row["joined_ms"]) for row in rows]

    def networks_of_peers(self) -> dict[str, list[str]]:
        """peer id -> names of the active networks it shares with this node."""
        rows = self._db.query(
            "SELECT m.peer_id, n.name FROM network_members m JOIN networks n "
            "ON n.network_id = m.network_id WHERE n.status = ? ORDER BY n.name",
            (Membership.ACTIVE.value,),
        )
        shared: dict[str, list[str]] = {}
        for row in rows:
            shared.setdefault(row["peer_id"], []).append(row["name"])
        return shared

    # -- invites --------------------------------------------------------------------------

    def add_invite(self, invite: IssuedInvite) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO invites_issued (invite_id, network_id, role, uses, expires_ms, "
                "created_ms) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    invite.invite_id,
                    invite.network_id,
                    invite.role,
                    invite.uses,
                    invite.expires_ms,
                    invite.created_ms,
                ),
            )

    def invites(self) -> list[IssuedInvite]:
        rows = self._db.query("SELECT * FROM invites_issued ORDER BY created_ms")
        return [_invite(row) for row in rows]

    def invite(self, invite_id: str) -> IssuedInvite:
        rows = self._db.query(
            "SELECT * FROM invites_issued WHERE invite_id LIKE ? || '%'", (invite_id,)
        )
        if len(rows) != 1:
            raise NotFound(
                f"no invite {invite_id!r} issued here"
                if not rows
                else f"{invite_id!r} names several invites; give more of the id"
            )
        return _invite(rows[0])

    def revoked(self, invite_id: str, at_ms: int) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE invites_issued SET revoked_ms = ? WHERE invite_id = ?", (at_ms, invite_id)
            )
