"""Groups on this node: their state, the moderator's roll, epoch keys and the transcript.

The transcript is kept as the signed, encrypted messages exactly as received, so it can be
checked again at any time (:meth:`GroupStore.transcript` rebuilds and re-verifies the chain);
the decrypted body is kept beside each for reading.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from secondme.node.core.db import Database
from secondme.node.core.errors import NotFound
from secondme.protocol.grants import Scope
from secondme.protocol.group_life import LIVE, GroupState, MemberState
from secondme.protocol.groups import Body, GroupKey, GroupMessage, Transcript
from secondme.protocol.identity import PeerId

_ID_PREFIX = re.compile(r"[0-9a-f]{8,32}")


@dataclass(frozen=True, slots=True)
class Group:
    group_id: str
    name: str
    topic: str
    moderator: str
    created_ms: int
    status: GroupState
    scope: Scope | None
    grant_id: str | None
    """The root id of the ``group/join`` grant this node joined by (``None``: its owner
    accepted, or it moderates)."""
    share_relevance: bool = False

    def to_json(self) -> dict:
        return {
            "group_id": self.group_id,
            "name": self.name,
            "topic": self.topic,
            "moderator": self.moderator,
            "created_ms": self.created_ms,
            "status": self.status,
            "scope": self.scope.to_json() if self.scope else None,
            "grant_id": self.grant_id,
            "share_relevance": self.share_relevance,
        }


@dataclass(frozen=True, slots=True)
class Usage:
    """What this node keeps of some groups: messages, and bytes of messages and keys."""

    messages: int
    bytes: int


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One transcript entry as the API shows it."""

    seq: int
    hash: bytes
    epoch: int
    sender: str
    ts: int
    body: Body

    def to_json(self) -> dict:
        body = self.body
        entry = {
            "seq": self.seq,
            "hash": self.hash.hex(),
            "epoch": self.epoch,
            "from": self.sender,
            "ts": self.ts,
            "kind": str(body.kind),
            "text": body.text,
        }
        for name in ("reason", "about", "relevance", "rounds", "until", "budget_s"):
            value = getattr(body, name)
            if value is not None:
                entry[name] = value
        if body.positions is not None:
            entry["positions"] = dict(body.positions)
        if body.roll is not None:
            entry["roll"] = dict(body.roll)
        return entry


def _members_json(key: GroupKey) -> str:
    return json.dumps(sorted(str(m) for m in key.members))


def key_bytes(key: GroupKey) -> int:
    """What keeping ``key`` costs, as :meth:`GroupStore.usage` counts it."""
    return len(key.key) + len(_members_json(key).encode())


def _group(row) -> Group:
    return Group(
        group_id=row["group_id"],
        name=row["name"],
        topic=row["topic"],
        moderator=row["moderator"],
        created_ms=row["created_ms"],
        status=GroupState(row["status"]),
        scope=Scope.from_json(json.loads(row["scope"])) if row["scope"] else None,
        grant_id=row["grant_id"],
        share_relevance=bool(row["share_relevance"]),
    )


class GroupStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def db(self) -> Database:
        return self._db

    # -- groups --------------------------------------------------------------------------

    def add(self, group: Group) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO groups (group_id, name, topic, moderator, created_ms, status, scope,"
                " grant_id, share_relevance) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(group_id) DO NOTHING",
                (
                    group.group_id,
                    group.name,
                    group.topic,
                    group.moderator,
                    group.created_ms,
                    group.status,
                    json.dumps(group.scope.to_json()) if group.scope else None,
                    group.grant_id,
                    int(group.share_relevance),
                ),
            )

    def get(self, group_id: str) -> Group | None:
        row = self._db.query_one("SELECT * FROM groups WHERE group_id = ?", (group_id,))
        return None if row is None else _group(row)

    def find(self, name_or_id: str) -> Group:
        """A group by id, id prefix (8+ hex digits) or exact name; raises :class:`NotFound`."""
        prefix = name_or_id if _ID_PREFIX.fullmatch(name_or_id) else "-"
        rows = self._db.query(
            "SELECT * FROM groups WHERE group_id = ? OR name = ? OR"
            " substr(group_id, 1, ?) = ? ORDER BY created_ms DESC",
            (name_or_id, name_or_id, len(prefix), prefix),
        )
        exact = [row for row in rows if row["group_id"] == name_or_id]
        if exact:
            return _group(exact[0])
        live = [row for row in rows if row["status"] in LIVE] or rows
        if not live:
            raise NotFound(f"no group {name_or_id!r} on this node (see: secondme-node group list)")
        if len({row["group_id"] for row in live}) > 1:
            raise NotFound(f"{name_or_id!r} names several groups; use the group id")
        return _group(live[0])

    def list(self) -> list[Group]:
        return [_group(r) for r in self._db.query("SELECT * FROM groups ORDER BY created_ms")]

    def set_status(
        self,
        group_id: str,
        status: GroupState,
        *,
        scope: Scope | None = None,
        grant_id: str | None = None,
    ) -> None:
        """Write the state a move of :data:`~secondme.protocol.group_life.GROUP_LIFE` made
        (and, with ``scope``, the scope and join grant with it)."""
        with self._db.transaction() as conn:
            conn.execute("UPDATE groups SET status = ? WHERE group_id = ?", (status, group_id))
            if scope is not None:
                self._set_scope(conn, group_id, scope, grant_id)

    def set_scope(self, group_id: str, scope: Scope, *, grant_id: str | None) -> None:
        with self._db.transaction() as conn:
            self._set_scope(conn, group_id, scope, grant_id)

    @staticmethod
    def _set_scope(conn, group_id: str, scope: Scope, grant_id: str | None) -> None:
        conn.execute(
            "UPDATE groups SET scope = ?, grant_id = ? WHERE group_id = ?",
            (json.dumps(scope.to_json()), grant_id, group_id),
        )

    def set_share_relevance(self, group_id: str, share: bool) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE groups SET share_relevance = ? WHERE group_id = ?", (int(share), group_id)
            )

    def set_moderator(
        self, group_id: str, moderator: str, *, roll: Mapping[str, str] | None, at_ms: int
    ) -> None:
        """``moderator`` moderates the group from now on. With ``roll`` (this node is the new
        moderator) the roll becomes it, in one transaction: its members with their statuses
        (a ``group/join`` grant already kept for one stays), and anyone else on an older roll
        of this node's ``removed``."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE groups SET moderator = ? WHERE group_id = ?", (moderator, group_id)
            )
            if roll is None:
                return
            marks = ",".join("?" * len(roll))
            conn.execute(
                "UPDATE group_members SET status = ?, updated_ms = ?"
                f" WHERE group_id = ? AND peer_id NOT IN ({marks})",
                (MemberState.REMOVED, at_ms, group_id, *roll),
            )
            for peer, status in roll.items():
                conn.execute(
                    "INSERT INTO group_members (group_id, peer_id, status, updated_ms)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT(group_id, peer_id)"
                    " DO UPDATE SET status = excluded.status, updated_ms = excluded.updated_ms",
                    (group_id, peer, status, at_ms),
                )

    def joined_by(self, grant_id: str) -> list[Group]:
        """The groups this node is in (or invited to) under the grant with this root id."""
        rows = self._db.query(
            "SELECT * FROM groups WHERE grant_id = ? AND status IN (?, ?)",
            (grant_id, GroupState.ACTIVE, GroupState.INVITED),
        )
        return [_group(row) for row in rows]

    # -- what other nodes make this node keep ---------------------------------------------

    def invitations(self, *, moderator: str | None = None, me: str) -> list[Group]:
        """Invitations waiting for the owner (from ``moderator``, or from anyone), oldest
        first."""
        rows = self._db.query(
            "SELECT * FROM groups WHERE status = ? AND moderator != ?"
            " AND (? IS NULL OR moderator = ?) ORDER BY created_ms",
            (GroupState.INVITED, me, moderator, moderator),
        )
        return [_group(row) for row in rows]

    def drop(self, group_id: str) -> None:
        """Forget a group entirely: its row, roll, keys and transcript."""
        with self._db.transaction() as conn:
            for table in (
                "group_messages",
                "group_keys",
                "group_members",
                "group_delivery",
                "groups",
            ):
                conn.execute(f"DELETE FROM {table} WHERE group_id = ?", (group_id,))

    def live_groups(self, moderator: str) -> int:
        """Groups ``moderator`` has this node in now (invited or active)."""
        row = self._db.query_one(
            "SELECT COUNT(*) AS n FROM groups WHERE moderator = ? AND status IN (?, ?)",
            (moderator, GroupState.ACTIVE, GroupState.INVITED),
        )
        return row["n"] if row else 0

    def usage(self, *, group_id: str | None = None, moderator: str | None = None) -> Usage:
        """What this node keeps of one group, or of every group one peer moderates: messages
        (as received and decrypted) and epoch keys."""
        if group_id is not None:
            where, value = "group_id = ?", group_id
        else:
            where, value = (
                "group_id IN (SELECT group_id FROM groups WHERE moderator = ?)",
                moderator,
            )
        messages = self._db.query_one(
            "SELECT COUNT(*) AS n, COALESCE(SUM(length(encoded) + length(body)), 0) AS size"
            f" FROM group_messages WHERE {where}",
            (value,),
        )
        keys = self._db.query_one(
            "SELECT COALESCE(SUM(length(key) + length(members)), 0) AS size"
            f" FROM group_keys WHERE {where}",
            (value,),
        )
        assert messages is not None and keys is not None
        return Usage(messages["n"], messages["size"] + keys["size"])

    # -- the moderator's roll ------------------------------------------------------------

    def set_member(
        self,
        group_id: str,
        peer_id: str,
        status: MemberState,
        at_ms: int,
        *,
        grant_token: bytes | None = None,
    ) -> None:
        """Put a member on the roll; ``grant_token``: the ``group/join`` grant it joined by (a
        token already kept stays unless another is given)."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO group_members (group_id, peer_id, status, updated_ms, grant_token)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(group_id, peer_id)"
                " DO UPDATE SET status = excluded.status, updated_ms = excluded.updated_ms,"
                " grant_token = COALESCE(excluded.grant_token, group_members.grant_token)",
                (group_id, peer_id, status, at_ms, grant_token),
            )

    def member_grant(self, group_id: str, peer_id: str) -> bytes | None:
        """The grant ``peer_id`` joined the group by, as this node (its moderator) holds it."""
        row = self._db.query_one(
            "SELECT grant_token FROM group_members WHERE group_id = ? AND peer_id = ?",
            (group_id, peer_id),
        )
        return bytes(row["grant_token"]) if row and row["grant_token"] is not None else None

    def members(self, group_id: str) -> dict[str, MemberState]:
        rows = self._db.query(
            "SELECT peer_id, status FROM group_members WHERE group_id = ? ORDER BY rowid",
            (group_id,),
        )
        return {row["peer_id"]: MemberState(row["status"]) for row in rows}

    # -- keys ----------------------------------------------------------------------------

    def add_key(self, key: GroupKey) -> None:
        members = _members_json(key)
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO group_keys (group_id, epoch, key, members) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(group_id, epoch) DO NOTHING",
                (key.group, key.epoch, key.key, members),
            )

    def keys(self, group_id: str) -> list[GroupKey]:
        rows = self._db.query(
            "SELECT * FROM group_keys WHERE group_id = ? ORDER BY epoch", (group_id,)
        )
        return [
            GroupKey(
                row["group_id"],
                row["epoch"],
                row["key"],
                frozenset(PeerId.from_base58(m) for m in json.loads(row["members"])),
            )
            for row in rows
        ]

    def latest_key(self, group_id: str) -> GroupKey:
        keys = self.keys(group_id)
        if not keys:
            raise NotFound(f"this node holds no key of group {group_id}")
        return keys[-1]

    # -- transcript ----------------------------------------------------------------------

    def append(self, message: GroupMessage, body: Body) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO group_messages (group_id, seq, hash, epoch, sender, ts, kind, body,"
                " encoded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    message.group,
                    message.seq,
                    message.hash,
                    message.epoch,
                    str(message.sender),
                    message.ts,
                    str(body.kind),
                    body.encode(),
                    message.encoded,
                ),
            )

    def messages(
        self, group_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[StoredMessage]:
        rows = self._db.query(
            "SELECT seq, hash, epoch, sender, ts, body FROM group_messages"
            " WHERE group_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (group_id, after, -1 if limit is None else limit),
        )
        return [
            StoredMessage(
                row["seq"],
                row["hash"],
                row["epoch"],
                row["sender"],
                row["ts"],
                Body.decode(row["body"]),
            )
            for row in rows
        ]

    def last_kind(self, group_id: str, kinds: Sequence[str]) -> str | None:
        """The kind of the latest message of one of ``kinds`` (``None``: there is none)."""
        marks = ",".join("?" * len(kinds))
        row = self._db.query_one(
            f"SELECT kind FROM group_messages WHERE group_id = ? AND kind IN ({marks})"
            " ORDER BY seq DESC LIMIT 1",
            (group_id, *(str(kind) for kind in kinds)),
        )
        return None if row is None else row["kind"]

    def last_seq_for(self, group_id: str, peer_id: str) -> int:
        """The last message ``peer_id`` may read: the newest under a key of an epoch it is a
        member of (0: none)."""
        row = self._db.query_one(
            "SELECT MAX(m.seq) AS last FROM group_messages m JOIN group_keys k"
            " ON k.group_id = m.group_id AND k.epoch = m.epoch"
            " WHERE m.group_id = ? AND EXISTS (SELECT 1 FROM json_each(k.members) WHERE value = ?)",
            (group_id, peer_id),
        )
        return (row["last"] if row else None) or 0

    def seqs_of_kind(self, group_id: str, kind: str) -> list[tuple[int, str]]:
        """Every message of ``kind``: its place and its sender, in order."""
        rows = self._db.query(
            "SELECT seq, sender FROM group_messages WHERE group_id = ? AND kind = ? ORDER BY seq",
            (group_id, kind),
        )
        return [(row["seq"], row["sender"]) for row in rows]

    def encoded(self, group_id: str, *, after: int, limit: int) -> list[bytes]:
        rows = self._db.query(
            "SELECT encoded FROM group_messages WHERE group_id = ? AND seq > ? ORDER BY seq"
            " LIMIT ?",
            (group_id, after, limit),
        )
        return [row["encoded"] for row in rows]

    def transcript(self, group_id: str) -> Transcript:
        """The transcript rebuilt from the stored messages, every one verified again."""
        transcript = Transcript(group_id)
        for key in self.keys(group_id):
            transcript.add_key(key)
        for data in self.encoded(group_id, after=0, limit=-1):
            transcript.append(data)
        return transcript

    def message_counts(self, group_ids: Sequence[str]) -> dict[str, tuple[int, bytes | None]]:
        """Per group: how many messages, and the last one's hash (the transcript's head)."""
        if not group_ids:
            return {}
        marks = ",".join("?" * len(group_ids))
        rows = self._db.query(
            f"SELECT group_id, COUNT(*) AS n, MAX(seq) AS last FROM group_messages"
            f" WHERE group_id IN ({marks}) GROUP BY group_id",
            tuple(group_ids),
        )
        counts: dict[str, tuple[int, bytes | None]] = {}
        for row in rows:
            head = self._db.query_one(
                "SELECT hash FROM group_messages WHERE group_id = ? AND seq = ?",
                (row["group_id"], row["last"]),
            )
            counts[row["group_id"]] = (row["n"], head["hash"] if head else None)
        return counts
