"""The discovery store in SQL, once, for both backends.

SQLite and PostgreSQL run the same statements; a backend says how to connect, how to open a
write transaction, how to spell a placeholder and a byte column, and how to lock the invite
row that a redemption updates (``FOR UPDATE`` in PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
already serialises writers).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from secondme.discovery.errors import StoreError
from secondme.discovery.store.base import (
    DiscoveryStore,
    JoinOutcome,
    MemberRow,
    NetworkRow,
)

SCHEMA_VERSION = 1

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS networks (
        network TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        owner TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        member_count INTEGER NOT NULL DEFAULT 1)""",
    "CREATE INDEX IF NOT EXISTS networks_owner ON networks (owner)",
    """CREATE TABLE IF NOT EXISTS members (
        network TEXT NOT NULL REFERENCES networks (network) ON DELETE CASCADE,
        peer TEXT NOT NULL,
        role TEXT NOT NULL,
        joined_ms BIGINT NOT NULL,
        PRIMARY KEY (network, peer))""",
    "CREATE INDEX IF NOT EXISTS members_peer ON members (peer)",
    # An invite is known by (network, id): an id chosen by one network's owner can never
    # touch another network's invite.
    """CREATE TABLE IF NOT EXISTS invites (
        network TEXT NOT NULL REFERENCES networks (network) ON DELETE CASCADE,
        invite_id TEXT NOT NULL,
        uses INTEGER NOT NULL,
        used INTEGER NOT NULL DEFAULT 0,
        revoked INTEGER NOT NULL DEFAULT 0,
        expires_ms BIGINT NOT NULL,
        PRIMARY KEY (network, invite_id))""",
    """CREATE TABLE IF NOT EXISTS invite_uses (
        network TEXT NOT NULL,
        invite_id TEXT NOT NULL,
        peer TEXT NOT NULL,
        used_ms BIGINT NOT NULL,
        PRIMARY KEY (network, invite_id, peer),
        FOREIGN KEY (network, invite_id) REFERENCES invites (network, invite_id)
            ON DELETE CASCADE)""",
    """CREATE TABLE IF NOT EXISTS records (
        peer TEXT PRIMARY KEY,
        seq BIGINT NOT NULL,
        expires_ms BIGINT NOT NULL,
        record {BYTES} NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS records_expiry ON records (expires_ms)",
)

_ROLE_RANK = {"member": 0, "inviter": 1, "owner": 2}


class SqlStore(DiscoveryStore):
    """Everything but connecting; subclasses fill in the dialect."""

    BYTES_TYPE = "BLOB"
    LOCK_ROW = ""
    SCHEMA_LOCK: str | None = None
    """A statement that serialises schema creation between servers starting together."""
    OWNER_LOCK: str | None = None
    """A statement taking one ``?`` (an owner) that serialises the creates of that owner's
    networks, so that concurrent creates cannot pass ``max_owned`` together. ``None`` where
    the write transaction already serialises writers (SQLite)."""

    @abstractmethod
    def _write(self) -> AbstractContextManager[Any]:
        """A write transaction; yields a connection whose ``execute`` takes ``?`` params."""

    @abstractmethod
    def _read(self) -> AbstractContextManager[Any]:
        """A connection to read with (one statement, no transaction needed)."""

    def _create_schema(self) -> None:
        with self._write() as conn:
            if self.SCHEMA_LOCK:
                self._exec(conn, self.SCHEMA_LOCK)
            for statement in SCHEMA:
                self._exec(conn, statement.replace("{BYTES}", self.BYTES_TYPE))
            row = self._exec(conn, "SELECT version FROM schema_version").fetchone()
            if row is None:
                self._exec(conn, "INSERT INTO schema_version (version) VALUES (?)", (1,))
            elif row[0] > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.description} was written by a newer secondme-discovery "
                    f"(schema {row[0]}); upgrade to open it"
                )

    def _exec(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        return conn.execute(sql, params)

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._read() as conn:
            return self._exec(conn, sql, params).fetchone()

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._read() as conn:
            return list(self._exec(conn, sql, params).fetchall())

    # -- networks -------------------------------------------------------------------------

    def create_network(
        self, network: str, name: str, owner: str, now_ms: int, *, max_owned: int
    ) -> NetworkRow | None:
        existing = "SELECT network, name, owner, created_ms FROM networks WHERE network = ?"
        with self._write() as conn:
            if self.OWNER_LOCK:
                self._exec(conn, self.OWNER_LOCK, (owner,))
            row = self._exec(conn, existing, (network,)).fetchone()
            if row is not None:
                return NetworkRow(*row)
            owned = self._exec(
                conn, "SELECT COUNT(*) FROM networks WHERE owner = ?", (owner,)
            ).fetchone()[0]
            if owned >= max_owned:
                return None
            # Another owner's create of the same id may commit first: then that row answers.
            inserted = self._exec(
                conn,
                "INSERT INTO networks (network, name, owner, created_ms) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (network) DO NOTHING",
                (network, name, owner, now_ms),
            ).rowcount
            if not inserted:
                return NetworkRow(*self._exec(conn, existing, (network,)).fetchone())
            self._exec(
                conn,
                "INSERT INTO members (network, peer, role, joined_ms) VALUES (?, ?, 'owner', ?)",
                (network, owner, now_ms),
            )
        return NetworkRow(network, name, owner, now_ms)

    def network(self, network: str) -> NetworkRow | None:
        row = self._one(
            "SELECT network, name, owner, created_ms FROM networks WHERE network = ?", (network,)
        )
        return None if row is None else NetworkRow(*row)

    def role(self, network: str, peer: str) -> str | None:
        row = self._one("SELECT role FROM members WHERE network = ? AND peer = ?", (network, peer))
        return None if row is None else row[0]

    def close_network(self, network: str) -> None:
        with self._write() as conn:
            # The network row first, as in join(), so that the two cannot deadlock.
            self._exec(conn, f"SELECT 1 FROM networks WHERE network = ?{self.LOCK_ROW}", (network,))
            # Children first: a backend without cascading deletes still ends empty.
            self._exec(conn, "DELETE FROM invite_uses WHERE network = ?", (network,))
            self._exec(conn, "DELETE FROM invites WHERE network = ?", (network,))
            self._exec(conn, "DELETE FROM members WHERE network = ?", (network,))
            self._exec(conn, "DELETE FROM networks WHERE network = ?", (network,))

    # -- membership -----------------------------------------------------------------------

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
        with self._write() as conn:
            # Joins to one network take turns (PostgreSQL): the member count below and the
            # membership insert must not interleave with another join's.
            exists = self._exec(
                conn, f"SELECT 1 FROM networks WHERE network = ?{self.LOCK_ROW}", (network,)
            ).fetchone()
            if exists is None:  # closed since the caller looked
                return JoinOutcome.GONE
            self._exec(
                conn,
                "INSERT INTO invites (network, invite_id, uses, expires_ms) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (network, invite_id) DO NOTHING",
                (network, invite_id, uses, expires_ms),
            )
            used, revoked = self._exec(
                conn,
                "SELECT used, revoked FROM invites WHERE network = ? AND invite_id = ?"
                + self.LOCK_ROW,
                (network, invite_id),
            ).fetchone()
            if revoked:
                return JoinOutcome.REVOKED
            bound = self._exec(
                conn,
                "SELECT 1 FROM invite_uses WHERE network = ? AND invite_id = ? AND peer = ?",
                (network, invite_id, peer),
            ).fetchone()
            current = self._exec(
                conn, "SELECT role FROM members WHERE network = ? AND peer = ?", (network, peer)
            ).fetchone()
            if bound is not None:
                return JoinOutcome.ALREADY if current is not None else JoinOutcome.SPENT
            if used >= uses:
                return JoinOutcome.SPENT
            if current is None:
                # A counter on the network row (locked above) rather than COUNT(*): a join
                # costs the same in a network of ten members or of a hundred thousand.
                count = self._exec(
                    conn, "SELECT member_count FROM networks WHERE network = ?", (network,)
                ).fetchone()[0]
                if count >= max_members:
                    return JoinOutcome.FULL
            self._exec(
                conn,
                "UPDATE invites SET used = used + 1 WHERE network = ? AND invite_id = ?",
                (network, invite_id),
            )
            self._exec(
                conn,
                "INSERT INTO invite_uses (network, invite_id, peer, used_ms) VALUES (?, ?, ?, ?)",
                (network, invite_id, peer, now_ms),
            )
            if current is None:
                self._exec(
                    conn,
                    "INSERT INTO members (network, peer, role, joined_ms) VALUES (?, ?, ?, ?)",
                    (network, peer, role, now_ms),
                )
                self._exec(
                    conn,
                    "UPDATE networks SET member_count = member_count + 1 WHERE network = ?",
                    (network,),
                )
            elif _ROLE_RANK[role] > _ROLE_RANK[current[0]]:
                self._exec(
                    conn,
                    "UPDATE members SET role = ? WHERE network = ? AND peer = ?",
                    (role, network, peer),
                )
        return JoinOutcome.JOINED

    def revoke_invite(self, network: str, invite_id: str, expires_ms: int) -> None:
        with self._write() as conn:
            self._exec(
                conn,
                "INSERT INTO invites (network, invite_id, uses, revoked, expires_ms) "
                "VALUES (?, ?, 0, 1, ?) ON CONFLICT (network, invite_id) DO UPDATE SET revoked = 1",
                (network, invite_id, expires_ms),
            )

    def remove_member(self, network: str, peer: str) -> bool:
        with self._write() as conn:
            # The network row first, as in join(): the counter and the rows agree.
            self._exec(conn, f"SELECT 1 FROM networks WHERE network = ?{self.LOCK_ROW}", (network,))
            cursor = self._exec(
                conn,
                "DELETE FROM members WHERE network = ? AND peer = ? AND role <> 'owner'",
                (network, peer),
            )
            if cursor.rowcount == 0:
                return False
            self._exec(
                conn,
                "UPDATE networks SET member_count = member_count - 1 WHERE network = ?",
                (network,),
            )
            return True

    def members(
        self, network: str, *, after: str | None, limit: int, now_ms: int
    ) -> list[MemberRow]:
        rows = self._all(
            "SELECT m.peer, m.role, m.joined_ms, r.record FROM members m "
            "LEFT JOIN records r ON r.peer = m.peer AND r.expires_ms > ? "
            "WHERE m.network = ? AND m.peer > ? ORDER BY m.peer LIMIT ?",
            (now_ms, network, after or "", limit),
        )
        return [
            MemberRow(peer, role, joined_ms, None if record is None else bytes(record))
            for peer, role, joined_ms, record in rows
        ]

    def member_count(self, network: str) -> int:
        row = self._one("SELECT member_count FROM networks WHERE network = ?", (network,))
        return 0 if row is None else row[0]

    def shares_network(self, a: str, b: str) -> bool:
        row = self._one(
            "SELECT 1 FROM members x JOIN members y ON x.network = y.network "
            "WHERE x.peer = ? AND y.peer = ? LIMIT 1",
            (a, b),
        )
        return row is not None

    def networks_of(self, peer: str) -> list[str]:
        rows = self._all("SELECT network FROM members WHERE peer = ? ORDER BY network", (peer,))
        return [row[0] for row in rows]

    # -- records --------------------------------------------------------------------------

    def put_record(self, peer: str, seq: int, expires_ms: int, record: bytes) -> bool:
        with self._write() as conn:
            cursor = self._exec(
                conn,
                "INSERT INTO records (peer, seq, expires_ms, record) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (peer) DO UPDATE SET seq = excluded.seq, "
                "expires_ms = excluded.expires_ms, record = excluded.record "
                "WHERE records.seq < excluded.seq",
                (peer, seq, expires_ms, record),
            )
            return cursor.rowcount > 0

    def record_seq(self, peer: str) -> int | None:
        row = self._one("SELECT seq FROM records WHERE peer = ?", (peer,))
        return None if row is None else row[0]

    def record(self, peer: str, now_ms: int) -> bytes | None:
        row = self._one(
            "SELECT record FROM records WHERE peer = ? AND expires_ms > ?", (peer, now_ms)
        )
        return None if row is None else bytes(row[0])

    def sweep(self, now_ms: int) -> int:
        with self._write() as conn:
            removed = self._exec(
                conn, "DELETE FROM records WHERE expires_ms <= ?", (now_ms,)
            ).rowcount
            removed += self._exec(
                conn,
                "DELETE FROM invite_uses WHERE EXISTS (SELECT 1 FROM invites i WHERE "
                "i.network = invite_uses.network AND i.invite_id = invite_uses.invite_id "
                "AND i.expires_ms <= ?)",
                (now_ms,),
            ).rowcount
            removed += self._exec(
                conn, "DELETE FROM invites WHERE expires_ms <= ?", (now_ms,)
            ).rowcount
        return removed
