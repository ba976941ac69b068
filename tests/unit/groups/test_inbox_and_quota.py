"""The invitation inbox and the storage quota over a real SQLite file: invitations without a
grant are bounded per peer, in total and in age; what other nodes' groups make this node keep
is bounded per group and per moderator, counted from the database and kept in step."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from secondme.node.core.config import GroupSettings
from secondme.node.core.db import Database
from secondme.node.groups.inbox import InviteInbox
from secondme.node.groups.quota import StorageQuota
from secondme.node.groups.store import Group, GroupStore, key_bytes
from secondme.protocol.clock import ManualClock
from secondme.protocol.group_life import GroupState
from secondme.protocol.group_messages import InboxFull, QuotaExceeded
from secondme.protocol.groups import GroupKey
from secondme.protocol.identity import Identity

ME = Identity.from_seed(bytes([1]) * 32)
PEERS = [Identity.from_seed(bytes([n]) * 32) for n in (2, 3, 4)]
A, B, C = (str(peer.peer_id) for peer in PEERS)
T0 = 1_700_000_000_000


def gid(n: int) -> str:
    return f"{n:032x}"


def group(
    n: int, moderator: str, status: GroupState = GroupState.INVITED, created_ms: int = T0
) -> Group:
    return Group(gid(n), f"group {n}", "", moderator, created_ms, status, None, None)


def key(n: int, moderator: Identity, epoch: int = 1) -> GroupKey:
    return GroupKey.generate(gid(n), epoch, [ME.peer_id, moderator.peer_id])


@pytest.fixture
def store(tmp_path) -> Iterator[GroupStore]:
    db = Database(tmp_path / "node.db")
    yield GroupStore(db)
    db.close()


SETTINGS = GroupSettings(
    invites_per_peer=2,
    invites_total=3,
    invite_lifetime_s=60.0,
    max_group_messages=3,
    max_group_bytes=64 * 1024,
    max_peer_bytes=100 * 1024,
    max_peer_groups=2,
)


def inbox_of(store: GroupStore, clock: ManualClock) -> InviteInbox:
    quota = StorageQuota(store, SETTINGS, str(ME.peer_id))
    return InviteInbox(store, SETTINGS, clock, me=str(ME.peer_id), quota=quota)


# -- the inbox ---------------------------------------------------------------------------------


def test_invitations_are_bounded_per_peer_and_in_total(store: GroupStore) -> None:
    inbox = inbox_of(store, ManualClock(T0))
    for n in (1, 2):
        inbox.admit(A)
        store.add(group(n, A))
    with pytest.raises(InboxFull, match="from this peer"):
        inbox.admit(A)
    inbox.admit(B)
    store.add(group(3, B))
    with pytest.raises(InboxFull, match="3 invitations already wait"):
        inbox.admit(C)
    assert InboxFull.code == "group_inbox_full"


def test_joined_groups_and_own_groups_are_not_in_the_inbox(store: GroupStore) -> None:
    inbox = inbox_of(store, ManualClock(T0))
    store.add(group(1, A, GroupState.ACTIVE))
    store.add(group(2, A, "left"))
    store.add(
        group(3, str(ME.peer_id), GroupState.INVITED)
    )  # never so in practice: still not counted
    inbox.admit(A)
    inbox.admit(B)


def test_an_unanswered_invitation_expires_with_its_key(store: GroupStore) -> None:
    clock = ManualClock(T0)
    inbox = inbox_of(store, clock)
    store.add(group(1, A, created_ms=T0))
    store.add_key(key(1, PEERS[0]))
    store.add(group(2, A, created_ms=T0 + 30_000))
    assert inbox.expires_ms(store.get(gid(1))) == T0 + 60_000  # type: ignore[arg-type]
    clock.set(T0 + 59_999)
    assert inbox.expire() == 0
    clock.set(T0 + 60_000)
    assert inbox.expire() == 1
    assert store.get(gid(1)) is None and store.keys(gid(1)) == []
    assert store.get(gid(2)) is not None
    inbox.admit(A)  # room again


# -- the quota ---------------------------------------------------------------------------------


def test_messages_of_a_group_are_bounded(store: GroupStore) -> None:
    quota = StorageQuota(store, SETTINGS, str(ME.peer_id))
    store.add(group(1, A, GroupState.ACTIVE))
    for _ in range(3):
        quota.take(gid(1), 100, messages=1)
    with pytest.raises(QuotaExceeded, match="3 messages"):
        quota.take(gid(1), 100, messages=1)
    quota.give_back(gid(1), 100, messages=1)
    quota.take(gid(1), 100, messages=1)
    assert QuotaExceeded.code == "group_quota"


def test_bytes_are_bounded_per_group_and_per_moderator(store: GroupStore) -> None:
    quota = StorageQuota(store, SETTINGS, str(ME.peer_id))
    for n in (1, 2):
        store.add(group(n, A, GroupState.ACTIVE))
    store.add(group(3, B, GroupState.ACTIVE))
    quota.take(gid(1), 60 * 1024)
    with pytest.raises(QuotaExceeded, match="of a group"):
        quota.take(gid(1), 5 * 1024)
    quota.take(gid(2), 40 * 1024)
    with pytest.raises(QuotaExceeded, match="one moderator's groups"):
        quota.take(gid(2), 1024)  # 101 KiB of A's groups
    quota.take(gid(3), 60 * 1024)  # B's groups count apart


def test_groups_this_node_moderates_are_not_bounded(store: GroupStore) -> None:
    quota = StorageQuota(store, SETTINGS, str(ME.peer_id))
    store.add(group(1, str(ME.peer_id), GroupState.ACTIVE))
    for _ in range(10):
        quota.take(gid(1), 60 * 1024, messages=1)


def test_what_is_stored_already_counts(tmp_path) -> None:
    db = Database(tmp_path / "node.db")
    store = GroupStore(db)
    store.add(group(1, A, GroupState.ACTIVE))
    kept = key(1, PEERS[0])
    store.add_key(kept)
    assert store.usage(group_id=gid(1)).bytes == key_bytes(kept)
    quota = StorageQuota(store, SETTINGS, str(ME.peer_id))  # as after a restart
    with pytest.raises(QuotaExceeded):
        quota.take(gid(1), 64 * 1024 - key_bytes(kept) + 1)
    quota.take(gid(1), 64 * 1024 - key_bytes(kept))
    db.close()


def test_one_moderator_has_this_node_in_a_bounded_number_of_groups(store: GroupStore) -> None:
    quota = StorageQuota(store, SETTINGS, str(ME.peer_id))
    store.add(group(1, A, GroupState.ACTIVE))
    store.add(group(2, A, GroupState.INVITED))
    store.add(group(3, A, "left"))  # over: it does not count
    with pytest.raises(QuotaExceeded, match="2 groups"):
        quota.admit_group(A)
    quota.admit_group(B)
