"""What the node keeps about access: grants given and received, revocations, uses, the audit
log, and context bundles peers sealed to it. SQLite (``node.db``), one transaction per change."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from secondme.node.core.db import Database
from secondme.node.core.errors import InvalidRequest, NotFound
from secondme.protocol.grants import GrantInfo, GrantState, Scope, grant_state, short_id

AUDIT_ALLOWED = "allowed"
AUDIT_REFUSED = "refused"


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredGrant:
    """A grant as this node keeps it: given (``direction`` "given") or received."""

    id: str
    direction: str
    root_id: str
    issuer: str
    peer_id: str
    """The holder for a given grant, the peer it came from for a received one."""
    token: bytes
    abilities: tuple[str, ...]
    scope: Scope
    expires_ms: int
    delegable: bool
    created_ms: int
    revoked_ms: int | None
    max_uses: int | None = None
    rate: str | None = None
    uses: int = 0
    parent_id: str | None = None
    delivered_ms: int | None = None
    delivery_error: str | None = None

    def state(self, now_ms: int) -> GrantState:
        return grant_state(
            used_up=self.max_uses is not None and self.uses >= self.max_uses,
            expired=now_ms > self.expires_ms,
            revoked=self.revoked_ms is not None,
        )

    def to_json(self, now_ms: int) -> dict:
        data = {
            "id": short_id(self.id),
            "full_id": self.id,
            "direction": self.direction,
            "grant_id": short_id(self.root_id),
            "issuer": self.issuer,
            "peer_id": self.peer_id,
            "abilities": list(self.abilities),
            "scope": self.scope.to_json(),
            "expires_ms": self.expires_ms,
            "delegable": self.delegable,
            "created_ms": self.created_ms,
            "revoked_ms": self.revoked_ms,
            "state": self.state(now_ms),
        }
        if self.direction == "given":
            data |= {
                "max_uses": self.max_uses,
                "uses": self.uses,
                "rate": self.rate,
                "delegated_from": short_id(self.parent_id) if self.parent_id else None,
                "delivered_ms": self.delivered_ms,
                "delivery_error": self.delivery_error,
            }
        return data


def _grant(row, direction: str, *, peer_id: str, created_ms: int, **extra) -> StoredGrant:
    return StoredGrant(
        id=row["id"],
        direction=direction,
        root_id=row["root_id"],
        issuer=row["issuer"],
        peer_id=peer_id,
        token=bytes(row["token"]),
        abilities=tuple(json.loads(row["abilities"])),
        scope=Scope.from_json(json.loads(row["scope"])),
        expires_ms=row["expires_ms"],
        delegable=bool(row["delegable"]),
        created_ms=created_ms,
        revoked_ms=row["revoked_ms"],
        **extra,
    )


def _given(row) -> StoredGrant:
    return _grant(
        row,
        "given",
        peer_id=row["peer_id"],
        created_ms=row["created_ms"],
        max_uses=row["max_uses"],
        rate=row["rate"],
        uses=row["uses"] or 0,
        parent_id=row["parent_id"],
        delivered_ms=row["delivered_ms"],
        delivery_error=row["delivery_error"],
    )


def _received(row) -> StoredGrant:
    return _grant(row, "received", peer_id=row["from_peer"], created_ms=row["received_ms"])


_GIVEN = "SELECT g.*, u.uses FROM grants_issued g LEFT JOIN grant_uses u ON u.root_id = g.root_id"


@dataclass(frozen=True, slots=True)
class AuditRetention:
    """How much of the audit log is kept: rows younger than ``keep_days``, at most
    ``max_rows`` of them (checked every ``prune_every`` new rows); refusals of one kind from one
    peer within ``coalesce_ms`` of the last share its row."""

    keep_days: int = 90
    max_rows: int = 100_000
    coalesce_ms: int = 60_000
    prune_every: int = 500


def _request_id(request_id: int | None) -> str | None:
    return None if request_id is None else f"{request_id:016x}"


class AccessStore:
    def __init__(self, db: Database, retention: AuditRetention | None = None) -> None:
        self._db = db
        self._retention = retention or AuditRetention()
        self._written = 0
        """Rows written since the last prune."""

    # -- grants -----------------------------------------------------------------------------

    def add_issued(
        self,
        info: GrantInfo,
        token: bytes,
        *,
        grant_id: str,
        holder: str,
        scope: Scope,
        abilities: Sequence[str],
        expires_ms: int,
        created_ms: int,
        parent_id: str | None = None,
    ) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO grants_issued (id, root_id, issuer, peer_id, token, abilities, "
                "scope, expires_ms, max_uses, rate, delegable, created_ms, parent_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    grant_id,
                    info.grant_id,
                    str(info.issuer),
                    holder,
                    token,
                    json.dumps(list(abilities)),
                    json.dumps(scope.to_json()),
                    expires_ms,
                    info.max_uses,
                    str(info.rate) if info.rate else None,
                    int(info.delegable),
                    created_ms,
                    parent_id,
                ),
            )

    def set_delivery(self, grant_id: str, *, at_ms: int | None, error: str | None) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE grants_issued SET delivered_ms = ?, delivery_error = ? WHERE id = ?",
                (at_ms, error, grant_id),
            )

    def add_received(
        self,
        info: GrantInfo,
        token: bytes,
        *,
        from_peer: str,
        scope: Scope,
        abilities: Sequence[str],
        expires_ms: int,
        received_ms: int,
    ) -> str:
        """Keep a grant a peer gave this node; a copy already kept is replaced."""
        copy_id = info.revocation_ids[-1]
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO grants_received (id, root_id, issuer, from_peer, token, "
                "abilities, scope, expires_ms, delegable, received_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    copy_id,
                    info.grant_id,
                    str(info.issuer),
                    from_peer,
                    token,
                    json.dumps(list(abilities)),
                    json.dumps(scope.to_json()),
                    expires_ms,
                    int(info.delegable),
                    received_ms,
                ),
            )
        return copy_id

    def given(self) -> list[StoredGrant]:
        return [_given(r) for r in self._db.query(_GIVEN + " ORDER BY g.created_ms DESC")]

    def received(self) -> list[StoredGrant]:
        rows = self._db.query("SELECT * FROM grants_received ORDER BY received_ms DESC")
        return [_received(r) for r in rows]

    def grant_holders(self, now_ms: int) -> set[str]:
        """The peers holding a grant this node gave that is live at ``now_ms`` (not revoked,
        not expired, not used up): the peers the network layer trusts with a larger budget."""
        rows = self._db.query(
            "SELECT DISTINCT g.peer_id FROM grants_issued g "
            "LEFT JOIN grant_uses u ON u.root_id = g.root_id "
            "WHERE g.revoked_ms IS NULL AND g.expires_ms >= ? "
            "AND (g.max_uses IS NULL OR COALESCE(u.uses, 0) < g.max_uses)",
            (now_ms,),
        )
        return {row["peer_id"] for row in rows}

    def find(self, wanted: str) -> StoredGrant:
        """A grant given or received, by its id or a unique prefix of it (at least 6 digits)."""
        wanted = wanted.strip().lower()
        if len(wanted) < 6:
            raise InvalidRequest("give at least 6 hex digits of the grant id")
        found = [g for g in [*self.given(), *self.received()] if g.id.startswith(wanted)]
        if not found:
            raise NotFound(f"no grant {wanted!r}; `grants` lists them")
        if len({g.id for g in found}) > 1:
            raise InvalidRequest(f"{wanted!r} names several grants; give more digits")
        return found[0]

    def usable_received(self, issuer: str, ability: str, now_ms: int) -> list[StoredGrant]:
        """Grants from ``issuer`` (the root of the grant) that allow ``ability`` now, newest
        first."""
        return [
            g
            for g in self.received()
            if g.issuer == issuer
            and ability in g.abilities
            and g.revoked_ms is None
            and g.expires_ms >= now_ms
        ]

    def mark_received_revoked(self, root_id: str, at_ms: int, copy_id: str | None = None) -> int:
        sql = "UPDATE grants_received SET revoked_ms = ? WHERE revoked_ms IS NULL AND "
        with self._db.transaction() as conn:
            if copy_id is None:
                return conn.execute(sql + "root_id = ?", (at_ms, root_id)).rowcount
            return conn.execute(sql + "id = ?", (at_ms, copy_id)).rowcount

    # -- revocation -------------------------------------------------------------------------

    def revoke(self, revocation_id: str, root_id: str, *, at_ms: int, by_peer: str) -> None:
        """Put a revocation id on the list; every grant that holds that block ends with it."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO revocations (revocation_id, root_id, revoked_ms, by_peer) "
                "VALUES (?, ?, ?, ?)",
                (revocation_id, root_id, at_ms, by_peer),
            )
            conn.execute(
                "UPDATE grants_issued SET revoked_ms = ? WHERE revoked_ms IS NULL AND "
                "(id = ? OR root_id = ? OR parent_id = ?)",
                (at_ms, revocation_id, revocation_id, revocation_id),
            )

    def revoked_ids(self) -> set[str]:
        return {r["revocation_id"] for r in self._db.query("SELECT revocation_id FROM revocations")}

    # -- uses -------------------------------------------------------------------------------

    def uses(self, root_id: str) -> int:
        row = self._db.query_one("SELECT uses FROM grant_uses WHERE root_id = ?", (root_id,))
        return row["uses"] if row else 0

    def count_use(self, root_id: str, at_ms: int) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO grant_uses (root_id, uses, last_used_ms) VALUES (?, 1, ?) "
                "ON CONFLICT(root_id) DO UPDATE SET uses = uses + 1, last_used_ms = ?",
                (root_id, at_ms, at_ms),
            )

    # -- audit ------------------------------------------------------------------------------

    def audit(
        self,
        *,
        at_ms: int,
        peer_id: str,
        request_type: str,
        decision: str,
        request_id: int | None = None,
        ability: str | None = None,
        grant_id: str | None = None,
        code: str | None = None,
        message: str = "",
        shared: Collection[str] = (),
        model: str | None = None,
    ) -> int:
        """Write one decision; a refusal like the last one from the same peer within the
        coalescing window adds to that row's count instead (a flood costs one row per window).
        Returns the row's id."""
        with self._db.transaction() as conn:
            if decision == AUDIT_REFUSED and self._retention.coalesce_ms > 0:
                row = conn.execute(
                    "SELECT id FROM audit WHERE peer_id = ? AND at_ms >= ? "
                    "ORDER BY id DESC LIMIT 1",
                    (peer_id, at_ms - self._retention.coalesce_ms),
                ).fetchone()
                if (
                    row is not None
                    and conn.execute(
                        "UPDATE audit SET repeats = repeats + 1, last_ms = ?, message = ?, "
                        "request_id = ? WHERE id = ? AND decision = ? AND request_type = ? "
                        "AND code IS ?",
                        (
                            at_ms,
                            message,
                            _request_id(request_id),
                            row["id"],
                            AUDIT_REFUSED,
                            request_type,
                            code,
                        ),
                    ).rowcount
                ):
                    return int(row["id"])
            cursor = conn.execute(
                "INSERT INTO audit (at_ms, peer_id, request_type, request_id, ability, grant_id, "
                "decision, code, message, shared, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    at_ms,
                    peer_id,
                    request_type,
                    _request_id(request_id),
                    ability,
                    grant_id,
                    decision,
                    code,
                    message,
                    json.dumps(list(shared)),
                    model,
                ),
            )
            row_id = int(cursor.lastrowid or 0)
            self._written += 1
            if self._written >= self._retention.prune_every:
                self._prune(conn, at_ms)
            return row_id

    def prune_audit(self, now_ms: int) -> int:
        """Drop rows past the retention (age, then row count); returns how many went."""
        with self._db.transaction() as conn:
            return self._prune(conn, now_ms)

    def _prune(self, conn, now_ms: int) -> int:
        self._written = 0
        policy = self._retention
        dropped = conn.execute(
            "DELETE FROM audit WHERE at_ms < ?", (now_ms - policy.keep_days * 86_400_000,)
        ).rowcount
        newest = conn.execute("SELECT MAX(id) AS id FROM audit").fetchone()["id"]
        if newest is not None:
            dropped += conn.execute(
                "DELETE FROM audit WHERE id <= ?", (newest - policy.max_rows,)
            ).rowcount
        return dropped

    def audit_count(self) -> int:
        row = self._db.query_one("SELECT COUNT(*) AS n FROM audit")
        return row["n"] if row else 0

    def audit_log(
        self, *, peer_id: str | None = None, since_ms: int | None = None, limit: int = 200
    ) -> list[dict]:
        where, params = [], []
        if peer_id:
            where.append("peer_id = ?")
            params.append(peer_id)
        if since_ms is not None:
            where.append("COALESCE(last_ms, at_ms) >= ?")
            params.append(since_ms)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._db.query(
            f"SELECT * FROM audit {clause} ORDER BY id DESC LIMIT ?", (*params, limit)
        )
        return [
            {
                "id": r["id"],
                "at_ms": r["at_ms"],
                "peer_id": r["peer_id"],
                "request": r["request_type"],
                "request_id": r["request_id"],
                "ability": r["ability"],
                "grant_id": short_id(r["grant_id"]) if r["grant_id"] else None,
                "decision": r["decision"],
                "code": r["code"],
                "message": r["message"],
                "shared": json.loads(r["shared"]),
                "model": r["model"],
                "repeats": r["repeats"],
                "last_ms": r["last_ms"] or r["at_ms"],
            }
            for r in rows
        ]

    # -- context from peers -----------------------------------------------------------------

    def add_context(
        self,
        *,
        peer_id: str,
        grant_id: str,
        query: str,
        created_ms: int,
        received_ms: int,
        bundle: bytes,
        items: Sequence[dict],
        vectors: np.ndarray,
    ) -> str:
        bundle_id = uuid.uuid4().hex[:16]
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO peer_context (id, peer_id, grant_id, query, created_ms, "
                "received_ms, bundle, items, vectors) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    bundle_id,
                    peer_id,
                    grant_id,
                    query,
                    created_ms,
                    received_ms,
                    bundle,
                    json.dumps(list(items)),
                    np.asarray(vectors, dtype=np.float32).tobytes(),
                ),
            )
        return bundle_id

    def contexts(self, *, vectors: bool = False, sealed: bool = False) -> list[dict]:
        """Kept context bundles with their opened items; with ``vectors`` the items'
        embeddings (raw float32), with ``sealed`` the bundle as received. The blobs are read
        only when asked for: the owner's chat reads the vectors on every turn."""
        columns = "id, peer_id, grant_id, query, created_ms, received_ms, items"
        columns += ", vectors" * vectors + ", bundle" * sealed
        rows = self._db.query(f"SELECT {columns} FROM peer_context ORDER BY received_ms DESC")
        found = []
        for r in rows:
            bundle = {
                "id": r["id"],
                "peer_id": r["peer_id"],
                "grant_id": short_id(r["grant_id"]),
                "query": r["query"],
                "created_ms": r["created_ms"],
                "received_ms": r["received_ms"],
                "items": json.loads(r["items"]),
            }
            if vectors:
                bundle["vectors"] = r["vectors"]
            if sealed:
                bundle["bundle"] = bytes(r["bundle"])
            found.append(bundle)
        return found

    def forget_context(self, bundle_id: str) -> bool:
        with self._db.transaction() as conn:
            return conn.execute("DELETE FROM peer_context WHERE id = ?", (bundle_id,)).rowcount > 0
