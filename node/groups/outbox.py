"""The moderator's outbox: every member gets every message it may read, however long it takes.

The messages are the transcript itself; what the outbox keeps, per member, is how far that
member confirmed holding it (``acked_seq``, from the head each ``group.posted`` answer carries)
and, after a failed delivery, when to try again. A delivery that fails is tried again after
``retry_first_s``, then twice as long after each further failure, up to ``retry_max_s``; each
try posts the newest message the member may read, and a member that is further behind fills
the gap itself with ``group.sync``, so nothing is sent twice. While a member waits for its next
try the moderator does not send it anything (a dead member costs at most one
``delivery_timeout_s`` per wait). A member that took nothing for ``away_after_s`` is marked
away and not tried again until it is heard from (any request of its own); it then catches up.
An owed ``group.end`` (the member was removed, or the group closed) is sent the same way,
after the messages. The state is in SQLite, so a restarted moderator goes on where it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

from secondme.node.core.config import GroupSettings
from secondme.node.core.db import Database
from secondme.node.core.errors import NodeError, PeerRefused
from secondme.node.groups.store import Group, GroupStore
from secondme.protocol.clock import Clock
from secondme.protocol.group_life import MEMBER_LIFE, GroupState, MemberEvent, MemberState
from secondme.protocol.group_messages import GroupEnd, GroupPost, GroupPosted
from secondme.protocol.groups import BodyKind
from secondme.protocol.messages import Response

SendMember = Callable[..., Awaitable[Response]]
"""``send(group_id, peer, request, *, timeout)``: a request to a member, with its join grant."""
MemberLeft = Callable[[Group, str, MemberState], None]
"""Told that a member said it is out of a group: (group, peer, the roll's new status)."""

log = logging.getLogger(__name__)

IDLE_S = 300.0
"""The outbox looks at its members at least this often, with nothing to wake it."""
GONE_CODES = ("group_closed", "unknown_group")
"""What a member answers when it is out of the group already: an owed end is delivered."""


def retry_delay_s(failures: int, settings: GroupSettings) -> float:
    """How long to wait after the ``failures``-th failure in a row before the next try."""
    return min(settings.retry_max_s, settings.retry_first_s * 2 ** max(0, failures - 1))


@dataclass(frozen=True, slots=True)
class MemberDelivery:
    """Where delivery to one member of one group stands."""

    group_id: str
    peer_id: str
    acked_seq: int = 0
    """The last message the member confirmed holding."""
    failures: int = 0
    """Failed deliveries in a row (0: the last one went through)."""
    failing_since_ms: int | None = None
    next_try_ms: int = 0
    last_error: str | None = None
    last_ok_ms: int | None = None
    end_reason: str | None = None
    """A ``group.end`` owed to the member (``removed``, ``closed``), sent after the messages."""

    def away(self, now_ms: int, settings: GroupSettings) -> bool:
        return (
            self.failing_since_ms is not None
            and now_ms - self.failing_since_ms >= settings.away_after_s * 1000
        )

    def waiting(self, now_ms: int) -> bool:
        """Whether the member is in the wait after a failure (nothing is sent to it then)."""
        return self.failures > 0 and self.next_try_ms > now_ms

    def to_json(self, target_seq: int, now_ms: int, settings: GroupSettings) -> dict:
        behind = max(0, target_seq - self.acked_seq)
        if self.away(now_ms, settings):
            state = "away"
        elif self.failures:
            state = "retrying"
        else:
            state = "behind" if behind else "up to date"
        return {
            "behind": behind,
            "delivery": state,
            "acked_seq": self.acked_seq,
            "failures": self.failures,
            "last_error": self.last_error,
            "next_try_ms": self.next_try_ms if self.failures else None,
            "last_ok_ms": self.last_ok_ms,
            "end_owed": self.end_reason,
        }


_COLUMNS = "acked_seq, failures, failing_since_ms, next_try_ms, last_error, last_ok_ms, end_reason"


class OutboxStore:
    """The outbox rows in ``node.db`` (table ``group_delivery``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, group_id: str, peer_id: str) -> MemberDelivery:
        row = self._db.query_one(
            f"SELECT {_COLUMNS} FROM group_delivery WHERE group_id = ? AND peer_id = ?",
            (group_id, peer_id),
        )
        return (
            MemberDelivery(group_id, peer_id, **dict(row))
            if row
            else MemberDelivery(group_id, peer_id)
        )

    def of_group(self, group_id: str) -> dict[str, MemberDelivery]:
        rows = self._db.query(
            f"SELECT peer_id, {_COLUMNS} FROM group_delivery WHERE group_id = ?", (group_id,)
        )
        return {row["peer_id"]: MemberDelivery(group_id, **dict(row)) for row in rows}

    def _upsert(self, group_id: str, peer_id: str, assignments: str, values: tuple) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO group_delivery (group_id, peer_id) VALUES (?, ?)"
                " ON CONFLICT(group_id, peer_id) DO NOTHING",
                (group_id, peer_id),
            )
            conn.execute(
                f"UPDATE group_delivery SET {assignments} WHERE group_id = ? AND peer_id = ?",
                (*values, group_id, peer_id),
            )

    def acked(self, group_id: str, peer_id: str, seq: int, now_ms: int) -> None:
        """The member holds the transcript up to ``seq``: the failures are over."""
        self._upsert(
            group_id,
            peer_id,
            "acked_seq = MAX(acked_seq, ?), failures = 0, failing_since_ms = NULL,"
            " next_try_ms = 0, last_error = NULL, last_ok_ms = ?",
            (seq, now_ms),
        )

    def failed(self, group_id: str, peer_id: str, error: str, now_ms: int, next_ms: int) -> None:
        self._upsert(
            group_id,
            peer_id,
            "failures = failures + 1, failing_since_ms = COALESCE(failing_since_ms, ?),"
            " next_try_ms = ?, last_error = ?",
            (now_ms, next_ms, error[:500]),
        )

    def heard_from(self, group_id: str, peer_id: str, now_ms: int, held_seq: int | None) -> None:
        """The member asked something: it is there. Try it again now (if it was failing),
        and count what it says it holds."""
        self._upsert(
            group_id,
            peer_id,
            "next_try_ms = 0, failing_since_ms = CASE WHEN failures > 0 THEN ?"
            " ELSE failing_since_ms END, acked_seq = MAX(acked_seq, ?)",
            (now_ms, held_seq or 0),
        )

    def owe_end(self, group_id: str, peer_id: str, reason: str) -> None:
        self._upsert(group_id, peer_id, "end_reason = ?", (reason,))

    def end_delivered(self, group_id: str, peer_id: str, now_ms: int) -> None:
        self._upsert(
            group_id,
            peer_id,
            "end_reason = NULL, failures = 0, failing_since_ms = NULL, next_try_ms = 0,"
            " last_error = NULL, last_ok_ms = ?",
            (now_ms,),
        )

    def ends_owed(self, group_id: str) -> list[str]:
        rows = self._db.query(
            "SELECT peer_id FROM group_delivery WHERE group_id = ? AND end_reason IS NOT NULL",
            (group_id,),
        )
        return [row["peer_id"] for row in rows]


class Outbox:
    """Delivers the transcript of every group this node moderates to each of its members."""

    def __init__(
        self,
        store: GroupStore,
        settings: GroupSettings,
        clock: Clock,
        *,
        me: str,
        spawn: Callable[[Coroutine[Any, Any, Any]], asyncio.Task],
        send: SendMember,
        seq_of: Callable[[str, bytes], int | None],
        member_left: MemberLeft,
    ) -> None:
        self._groups_store = store
        self.store = OutboxStore(store.db)
        self._settings = settings
        self._clock = clock
        self._me = me
        self._spawn = spawn
        self._send = send
        self._seq_of = seq_of
        self._member_left = member_left
        self._busy: set[tuple[str, str]] = set()
        """Members a delivery is under way to (one at a time each)."""
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._check: set[str] = set()
        """Groups whose members are all looked at in the next pass."""

    def start(self) -> None:
        if self._task is None:
            self._task = self._spawn(self._run())

    def stop(self) -> None:
        """End the retry loop (the node is stopping), even if a cancellation is lost."""
        self._stopping = True
        self._wake.set()

    def wake(self) -> None:
        """Look at the members again now (a failure to schedule, a member heard from)."""
        self._wake.set()

    # -- what each member is owed --------------------------------------------------------

    def target(self, group: Group, peer: str) -> int:
        """The last message this node delivers to ``peer``: the last it may read (one under a
        key of an epoch it is in), or, in a group this node handed over, at most the message
        that did so (the new moderator delivers the rest)."""
        last = self._groups_store.last_seq_for(group.group_id, peer)
        handed = self._handed_over_at(group)
        return last if handed is None else min(last, handed)

    def _handed_over_at(self, group: Group) -> int | None:
        """Where this node wrote the message that made another moderate ``group`` (``None``:
        it moderates it, or never did)."""
        if group.moderator == self._me:
            return None
        changes = self._groups_store.seqs_of_kind(group.group_id, BodyKind.MODERATOR)
        mine = [seq for seq, sender in changes if sender == self._me]
        return mine[-1] if mine else None

    def _next_to_post(self, group: Group, acked: int, target: int) -> int:
        """What to post to a member at ``acked``: the newest message it is owed, unless a
        change of moderator comes before it; that first, since a member takes a later message
        only from the moderator it names, which it must hold first."""
        changes = self._groups_store.seqs_of_kind(group.group_id, BodyKind.MODERATOR)
        return next((seq for seq, _ in changes if acked < seq < target), target)

    def check(self, group_id: str) -> None:
        """Look at every member of ``group_id`` now, failing or not (this node has just
        become its moderator: what each holds is not known)."""
        self._check.add(group_id)
        self.wake()

    def _members(self, group: Group) -> Iterator[str]:
        """Who this node delivers to in ``group``: active members, and any owed an end."""
        roll = self._groups_store.members(group.group_id)
        owed = set(self.store.ends_owed(group.group_id))
        for peer, status in roll.items():
            if peer != self._me and (status == MemberState.ACTIVE or peer in owed):
                yield peer

    def _groups(self) -> Iterator[Group]:
        for group in self._groups_store.list():
            if group.status in (GroupState.ACTIVE, GroupState.CLOSED) and (
                group.moderator == self._me or self._handed_over_at(group) is not None
            ):
                yield group

    def members_json(self, group: Group) -> dict[str, dict]:
        """Per member: how far behind it is and why (for ``group list``)."""
        now = self._clock.now_ms()
        states = self.store.of_group(group.group_id)
        return {
            peer: states.get(peer, MemberDelivery(group.group_id, peer)).to_json(
                self.target(group, peer), now, self._settings
            )
            for peer in self._members(group)
        }

    # -- sending -------------------------------------------------------------------------

    def ready(self, group_id: str, peer: str) -> bool:
        """Whether a new message goes to ``peer`` now (else its retry brings it later)."""
        if (group_id, peer) in self._busy:
            return False
        state = self.store.get(group_id, peer)
        now = self._clock.now_ms()
        return not state.waiting(now) and not state.away(now, self._settings)

    async def post_now(self, group_id: str, peers: list[str], data: bytes) -> dict:
        """Post a message just kept to each of ``peers`` (all :meth:`ready`) at once; each
        one's answer, or why it failed (the outbox tries that one again later)."""
        for peer in peers:
            self._busy.add((group_id, peer))
        try:
            results = await asyncio.gather(
                *(self._post(group_id, peer, data) for peer in peers), return_exceptions=True
            )
        finally:
            for peer in peers:
                self._busy.discard((group_id, peer))
        return dict(zip(peers, results, strict=True))

    async def _post(self, group_id: str, peer: str, data: bytes) -> GroupPosted:
        try:
            answer = await self._send(
                group_id,
                peer,
                GroupPost(group=group_id, message=data),
                timeout=self._settings.delivery_timeout_s,
            )
            assert isinstance(answer, GroupPosted)
            seq = self._seq_of(group_id, answer.head)
            if seq is None:
                raise PeerRefused("the member holds a transcript this node does not (a fork)")
        except (NodeError, TimeoutError) as exc:
            self._failed(group_id, peer, exc)
            if isinstance(exc, PeerRefused) and exc.remote_code == "group_closed":
                self._left_unheard(group_id, peer)
            raise
        self.store.acked(group_id, peer, seq, self._clock.now_ms())
        return answer

    def _left_unheard(self, group_id: str, peer: str) -> None:
        """The member says it is out of the group (it left, and its word was lost): take it
        off the roll as if it had said so, which rotates the key without it."""
        group = self._groups_store.get(group_id)
        if group is None or group.moderator != self._me:
            return
        status = self._groups_store.members(group_id).get(peer)
        if status != MemberState.ACTIVE:
            return
        log.info("group %s: %s says it is out of the group; it left", group_id[:8], peer)
        self._member_left(group, peer, MEMBER_LIFE.next(status, MemberEvent.LEAVE))

    def _failed(self, group_id: str, peer: str, error: BaseException) -> None:
        state = self.store.get(group_id, peer)
        now = self._clock.now_ms()
        wait_s = retry_delay_s(state.failures + 1, self._settings)
        why = why_failed(error)
        self.store.failed(group_id, peer, why, now, now + int(wait_s * 1000))
        log.info(
            "group %s: %s did not take a message (%s); trying again in %.0f s",
            group_id[:8],
            peer,
            why,
            wait_s,
        )
        self.wake()

    async def send_end(self, group_id: str, peer: str, reason: str) -> bool:
        """Owe ``peer`` a ``group.end`` and try to deliver it now; whether it went through."""
        self.store.owe_end(group_id, peer, reason)
        return await self.bring_up_to_date(group_id, peer)

    async def _end(self, group_id: str, peer: str, reason: str) -> None:
        try:
            await self._send(
                group_id,
                peer,
                GroupEnd(group=group_id, reason=reason),
                timeout=self._settings.delivery_timeout_s,
            )
        except PeerRefused as exc:
            if exc.remote_code not in GONE_CODES:
                self._failed(group_id, peer, exc)
                raise
        except (NodeError, TimeoutError) as exc:
            self._failed(group_id, peer, exc)
            raise
        self.store.end_delivered(group_id, peer, self._clock.now_ms())

    async def bring_up_to_date(self, group_id: str, peer: str) -> bool:
        """Post ``peer`` the newest message it may read until it confirms holding it, then
        any owed end; stops at the first failure (tried again later). Whether it is done."""
        key = (group_id, peer)
        if key in self._busy:
            return False
        self._busy.add(key)
        try:
            while True:
                group = self._groups_store.get(group_id)
                if group is None:
                    return True
                state = self.store.get(group_id, peer)
                target = self.target(group, peer)
                if state.acked_seq < target:
                    seq = self._next_to_post(group, state.acked_seq, target)
                    data = self._groups_store.encoded(group_id, after=seq - 1, limit=1)[0]
                    try:
                        await self._post(group_id, peer, data)
                    except (NodeError, TimeoutError):
                        return False
                    if self.store.get(group_id, peer).acked_seq <= state.acked_seq:
                        self._failed(group_id, peer, PeerRefused("the member did not advance"))
                        return False
                    continue
                if state.end_reason:
                    try:
                        await self._end(group_id, peer, state.end_reason)
                    except (NodeError, TimeoutError):
                        return False
                return True
        finally:
            self._busy.discard(key)

    # -- the retry loop ------------------------------------------------------------------

    async def _run(self) -> None:
        first = True
        while not self._stopping:
            self._wake.clear()
            try:
                wait_s = self._retry_due(everyone_behind=first)
            except Exception:  # the loop must outlive one bad pass
                log.exception("the group outbox failed a pass")
                wait_s = self._settings.retry_max_s
            first = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait_s)

    def _retry_due(self, *, everyone_behind: bool) -> float:
        """Start a try for each member whose wait is over; how long until the next is due.
        Members that never failed are left to the live deliveries, except on the first pass
        (after a restart, where a delivery may have been cut short)."""
        now = self._clock.now_ms()
        soonest_ms: float = IDLE_S * 1000
        check, self._check = self._check, set()
        for group in self._groups():
            states = self.store.of_group(group.group_id)
            everyone = everyone_behind or group.group_id in check
            for peer in self._members(group):
                if (group.group_id, peer) in self._busy:
                    continue
                state = states.get(peer, MemberDelivery(group.group_id, peer))
                if not (state.failures or state.end_reason or everyone):
                    continue
                if state.away(now, self._settings):
                    continue
                if state.next_try_ms > now:
                    soonest_ms = min(soonest_ms, state.next_try_ms - now)
                    continue
                if state.acked_seq < self.target(group, peer) or state.end_reason:
                    self._spawn(self.bring_up_to_date(group.group_id, peer))
        return max(0.05, soonest_ms / 1000)


def why_failed(error: BaseException) -> str:
    """One line for the log and ``group list``: what went wrong with a request to a member."""
    if isinstance(error, NodeError):
        return str(error)
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    return f"{type(error).__name__}: {error}"
