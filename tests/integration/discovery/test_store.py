"""The discovery store contract, run against SQLite and a real PostgreSQL server.

Every test gets its own database (a SQLite file in tmp_path, or a new PostgreSQL database).
Race tests start their threads together on a barrier and check the invariants the store
promises under concurrency: a spent invite stays spent, limits hold, nothing raises.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from secondme.discovery.store.base import DiscoveryStore, JoinOutcome, MemberRow, NetworkRow
from tests.integration.discovery.conftest import StoreFactory

NOW = 1_700_000_000_000
LATER = NOW + 60_000
INVITE_EXPIRES = NOW + 3_600_000
OWNER = "peer-owner"
NET = "net-1"
RACE_TIMEOUT_S = 30.0

pytestmark = pytest.mark.timeout(120)


def make_network(
    store: DiscoveryStore, network: str = NET, owner: str = OWNER, *, max_owned: int = 10
) -> NetworkRow:
    row = store.create_network(network, f"name of {network}", owner, NOW, max_owned=max_owned)
    assert row is not None
    return row


def join(
    store: DiscoveryStore,
    peer: str,
    invite: str = "invite-1",
    *,
    network: str = NET,
    uses: int = 1,
    role: str = "member",
    max_members: int = 100,
    now_ms: int = NOW,
    expires_ms: int = INVITE_EXPIRES,
) -> str:
    return store.join(
        network=network,
        invite_id=invite,
        uses=uses,
        role=role,
        peer=peer,
        now_ms=now_ms,
        expires_ms=expires_ms,
        max_members=max_members,
    )


def race(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` on one thread each, released together by a barrier; returns their results
    in order, or raises the first exception one of them raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=RACE_TIMEOUT_S)
            results[index] = call()
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(i, call), name=f"racer-{i}")
        for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=RACE_TIMEOUT_S * 2)
        assert not thread.is_alive(), f"{thread.name} is stuck"
    if errors:
        raise errors[0]
    return results


# -- networks -----------------------------------------------------------------------------


def test_create_network_returns_the_row_and_makes_the_owner_a_member(store):
    row = store.create_network(NET, "Friends", OWNER, NOW, max_owned=3)

    assert row == NetworkRow(NET, "Friends", OWNER, NOW)
    assert store.network(NET) == row
    assert store.role(NET, OWNER) == "owner"
    assert store.member_count(NET) == 1
    assert store.members(NET, after=None, limit=10, now_ms=NOW) == [
        MemberRow(OWNER, "owner", NOW, None)
    ]
    assert store.network("no-such-network") is None


def test_create_network_is_idempotent_for_the_same_id(store):
    first = make_network(store)

    again = store.create_network(NET, "another name", "peer-other", LATER, max_owned=3)

    assert again == first
    assert store.network(NET) == first
    assert store.role(NET, "peer-other") is None
    assert store.member_count(NET) == 1


def test_create_network_refuses_an_owner_at_max_owned(store):
    make_network(store, "net-a", max_owned=2)
    make_network(store, "net-b", max_owned=2)

    assert store.create_network("net-c", "c", OWNER, NOW, max_owned=2) is None
    assert store.network("net-c") is None
    assert store.networks_of(OWNER) == ["net-a", "net-b"]
    # A retry of an existing network still answers, even at the limit ...
    assert store.create_network("net-a", "a", OWNER, NOW, max_owned=2) is not None
    # ... and another owner is not affected.
    assert store.create_network("net-c", "c", "peer-other", NOW, max_owned=2) is not None


def test_role(store):
    make_network(store)
    assert join(store, "peer-m", "inv-m") == JoinOutcome.JOINED
    assert join(store, "peer-i", "inv-i", role="inviter") == JoinOutcome.JOINED

    assert store.role(NET, OWNER) == "owner"
    assert store.role(NET, "peer-m") == "member"
    assert store.role(NET, "peer-i") == "inviter"
    assert store.role(NET, "peer-stranger") is None
    assert store.role("no-such-network", OWNER) is None


# -- join ---------------------------------------------------------------------------------


def test_join_makes_the_peer_a_member(store):
    make_network(store)

    assert join(store, "peer-a", now_ms=LATER) == JoinOutcome.JOINED

    assert store.role(NET, "peer-a") == "member"
    assert store.member_count(NET) == 2
    assert store.networks_of("peer-a") == [NET]
    assert store.members(NET, after=None, limit=10, now_ms=LATER) == [
        MemberRow("peer-a", "member", LATER, None),
        MemberRow(OWNER, "owner", NOW, None),
    ]


def test_joining_again_with_the_same_invite_is_already_and_costs_no_use(store):
    make_network(store)
    assert join(store, "peer-a", uses=2) == JoinOutcome.JOINED

    assert join(store, "peer-a", uses=2) == JoinOutcome.ALREADY
    assert join(store, "peer-a", uses=2) == JoinOutcome.ALREADY

    # The second use is still there for someone else.
    assert join(store, "peer-b", uses=2) == JoinOutcome.JOINED
    assert join(store, "peer-c", uses=2) == JoinOutcome.SPENT
    assert join(store, "peer-a", uses=2) == JoinOutcome.ALREADY
    assert store.member_count(NET) == 3


def test_single_use_invite_is_spent_after_one_peer(store):
    make_network(store)
    assert join(store, "peer-a") == JoinOutcome.JOINED

    assert join(store, "peer-b") == JoinOutcome.SPENT

    assert store.role(NET, "peer-b") is None
    assert store.member_count(NET) == 2


def test_a_removed_peer_cannot_rejoin_with_its_spent_use(store):
    make_network(store)
    assert join(store, "peer-a") == JoinOutcome.JOINED
    assert store.remove_member(NET, "peer-a")

    assert join(store, "peer-a") == JoinOutcome.SPENT
    assert store.role(NET, "peer-a") is None


def test_revoked_invite(store):
    make_network(store)
    assert join(store, "peer-a", "inv-used", uses=5) == JoinOutcome.JOINED

    store.revoke_invite(NET, "inv-used", INVITE_EXPIRES)
    store.revoke_invite(NET, "inv-unseen", INVITE_EXPIRES)  # never redeemed before
    store.revoke_invite(NET, "inv-unseen", INVITE_EXPIRES)  # revoking twice is harmless

    assert join(store, "peer-b", "inv-used", uses=5) == JoinOutcome.REVOKED
    assert join(store, "peer-a", "inv-used", uses=5) == JoinOutcome.REVOKED
    assert join(store, "peer-c", "inv-unseen", uses=5) == JoinOutcome.REVOKED
    # Revoking an invite does not take back the memberships it granted.
    assert store.role(NET, "peer-a") == "member"
    assert store.member_count(NET) == 2


def test_join_is_full_at_max_members(store):
    make_network(store)
    assert join(store, "peer-a", "inv-a", max_members=2) == JoinOutcome.JOINED

    assert join(store, "peer-b", "inv-b", uses=3, max_members=2) == JoinOutcome.FULL
    assert store.role(NET, "peer-b") is None
    assert store.member_count(NET) == 2

    # FULL bound no use: with room again, the same invite still has all its uses.
    assert store.remove_member(NET, "peer-a")
    for peer in ("peer-b", "peer-c", "peer-d"):
        assert join(store, peer, "inv-b", uses=3, max_members=10) == JoinOutcome.JOINED
    assert join(store, "peer-e", "inv-b", uses=3, max_members=10) == JoinOutcome.SPENT


def test_an_existing_member_is_not_refused_when_the_network_is_full(store):
    make_network(store)
    assert join(store, "peer-a", "inv-a", max_members=2) == JoinOutcome.JOINED

    assert join(store, "peer-a", "inv-promote", role="inviter", max_members=2) == JoinOutcome.JOINED

    assert store.role(NET, "peer-a") == "inviter"
    assert store.member_count(NET) == 2


def test_joining_through_an_inviter_invite_upgrades_a_member(store):
    make_network(store)
    assert join(store, "peer-a", "inv-a") == JoinOutcome.JOINED
    assert store.role(NET, "peer-a") == "member"

    assert join(store, "peer-a", "inv-b", role="inviter") == JoinOutcome.JOINED

    assert store.role(NET, "peer-a") == "inviter"
    assert store.member_count(NET) == 2


def test_joining_never_downgrades_a_role(store):
    make_network(store)
    assert join(store, "peer-a", "inv-a", role="inviter") == JoinOutcome.JOINED

    assert join(store, "peer-a", "inv-b", role="member") == JoinOutcome.JOINED
    assert join(store, OWNER, "inv-c", role="member") == JoinOutcome.JOINED
    assert join(store, OWNER, "inv-d", role="inviter") == JoinOutcome.JOINED

    assert store.role(NET, "peer-a") == "inviter"
    assert store.role(NET, OWNER) == "owner"
    assert store.member_count(NET) == 2


def test_invites_are_per_network_members_are_per_network(store):
    make_network(store, "net-a")
    make_network(store, "net-b")

    assert join(store, "peer-a", "inv-a", network="net-a") == JoinOutcome.JOINED

    assert store.role("net-a", "peer-a") == "member"
    assert store.role("net-b", "peer-a") is None
    assert store.member_count("net-b") == 1


# -- remove and close ---------------------------------------------------------------------


def test_remove_member(store):
    make_network(store)
    assert join(store, "peer-a") == JoinOutcome.JOINED

    assert store.remove_member(NET, "peer-a") is True
    assert store.role(NET, "peer-a") is None
    assert store.remove_member(NET, "peer-a") is False
    assert store.remove_member(NET, "peer-stranger") is False
    assert store.remove_member("no-such-network", "peer-a") is False
    assert store.member_count(NET) == 1


def test_remove_member_never_removes_the_owner(store):
    make_network(store)

    assert store.remove_member(NET, OWNER) is False

    assert store.role(NET, OWNER) == "owner"
    assert store.member_count(NET) == 1


def test_close_network_removes_members_and_invites(store):
    make_network(store)
    make_network(store, "net-other")
    assert join(store, "peer-a", "inv-spent") == JoinOutcome.JOINED
    store.revoke_invite(NET, "inv-revoked", INVITE_EXPIRES)
    assert join(store, "peer-a", "inv-other", network="net-other") == JoinOutcome.JOINED

    store.close_network(NET)

    assert store.network(NET) is None
    assert store.role(NET, OWNER) is None
    assert store.role(NET, "peer-a") is None
    assert store.member_count(NET) == 0
    assert store.members(NET, after=None, limit=10, now_ms=NOW) == []
    assert store.networks_of("peer-a") == ["net-other"]
    assert store.networks_of(OWNER) == ["net-other"]
    # The other network is untouched, its invite still spent.
    assert store.role("net-other", "peer-a") == "member"
    assert join(store, "peer-b", "inv-other", network="net-other") == JoinOutcome.SPENT
    # A network created again under the same id starts without the old invites' bookkeeping.
    make_network(store)
    assert join(store, "peer-b", "inv-spent") == JoinOutcome.JOINED
    assert join(store, "peer-c", "inv-revoked") == JoinOutcome.JOINED


def test_join_to_a_closed_network_is_gone_and_leaves_nothing(store):
    make_network(store)
    store.close_network(NET)

    assert join(store, "peer-a") == JoinOutcome.GONE
    assert store.networks_of("peer-a") == []
    assert store.member_count(NET) == 0


def test_member_count_follows_joins_and_removals(store):
    make_network(store)
    for peer in ("peer-a", "peer-b", "peer-c"):
        join(store, peer, f"inv-{peer}")
    assert store.member_count(NET) == 4
    assert store.remove_member(NET, "peer-b")
    assert not store.remove_member(NET, "peer-b")
    assert not store.remove_member(NET, OWNER)
    assert store.member_count(NET) == 3 == len(store.members(NET, after=None, limit=10, now_ms=NOW))


def test_close_network_frees_an_owner_slot(store):
    make_network(store, "net-a", max_owned=1)
    assert store.create_network("net-b", "b", OWNER, NOW, max_owned=1) is None

    store.close_network("net-a")

    assert store.create_network("net-b", "b", OWNER, NOW, max_owned=1) is not None


def test_close_network_of_an_unknown_network_is_harmless(store):
    make_network(store)

    store.close_network("no-such-network")

    assert store.network(NET) is not None


# -- records ------------------------------------------------------------------------------


def test_put_record_replaces_only_with_a_higher_seq(store):
    assert store.record_seq("peer-a") is None
    assert store.put_record("peer-a", 5, LATER, b"rec-5") is True

    assert store.put_record("peer-a", 4, LATER, b"rec-4") is False
    assert store.put_record("peer-a", 5, LATER, b"rec-5-again") is False
    assert store.record("peer-a", NOW) == b"rec-5"
    assert store.record_seq("peer-a") == 5

    assert store.put_record("peer-a", 6, LATER + 1, b"rec-6") is True
    assert store.record("peer-a", NOW) == b"rec-6"
    assert store.record_seq("peer-a") == 6


def test_records_keep_arbitrary_bytes(store):
    blob = bytes(range(256)) * 16

    assert store.put_record("peer-a", 1, LATER, blob)

    assert store.record("peer-a", NOW) == blob
    assert isinstance(store.record("peer-a", NOW), bytes)


def test_record_hides_an_expired_record(store):
    store.put_record("peer-a", 1, LATER, b"rec")

    assert store.record("peer-a", LATER - 1) == b"rec"
    assert store.record("peer-a", LATER) is None
    assert store.record("peer-a", LATER + 1) is None
    assert store.record("peer-unknown", NOW) is None
    # The sequence number of an expired record still counts ...
    assert store.record_seq("peer-a") == 1
    assert store.put_record("peer-a", 1, LATER + 10_000, b"replay") is False
    # ... and a newer record brings the peer back.
    assert store.put_record("peer-a", 2, LATER + 10_000, b"fresh") is True
    assert store.record("peer-a", LATER + 1) == b"fresh"


# -- listing ------------------------------------------------------------------------------


def test_members_pages_in_peer_order_with_live_records_only(store):
    owner = "peer-05x"
    make_network(store, owner=owner)
    peers = [f"peer-{i:02d}" for i in range(10)]
    for i, peer in enumerate(peers):
        role = "inviter" if i % 3 == 0 else "member"
        assert join(store, peer, f"inv-{i}", role=role, now_ms=NOW + i) == JoinOutcome.JOINED
    for i, peer in enumerate(peers):
        if i % 2 == 0:
            store.put_record(peer, 1, LATER, f"live-{peer}".encode())
        elif i % 5 == 1:
            store.put_record(peer, 1, NOW, f"expired-{peer}".encode())
    store.put_record("peer-not-a-member", 1, LATER, b"elsewhere")

    pages: list[list[MemberRow]] = []
    after = None
    while True:
        page = store.members(NET, after=after, limit=3, now_ms=NOW)
        if not page:
            break
        assert len(page) <= 3
        pages.append(page)
        after = page[-1].peer
    rows = [row for page in pages for row in page]

    assert [len(page) for page in pages] == [3, 3, 3, 2]
    assert [row.peer for row in rows] == sorted([*peers, owner])
    by_peer = {row.peer: row for row in rows}
    assert by_peer[owner] == MemberRow(owner, "owner", NOW, None)
    for i, peer in enumerate(peers):
        expected = f"live-{peer}".encode() if i % 2 == 0 else None
        role = "inviter" if i % 3 == 0 else "member"
        assert by_peer[peer] == MemberRow(peer, role, NOW + i, expected)


def test_members_after_and_limit(store):
    make_network(store, owner="peer-a")
    for peer in ("peer-b", "peer-c", "peer-d"):
        assert join(store, peer, f"inv-{peer}") == JoinOutcome.JOINED

    def peers(after: str | None, limit: int) -> list[str]:
        return [row.peer for row in store.members(NET, after=after, limit=limit, now_ms=NOW)]

    assert peers(None, 2) == ["peer-a", "peer-b"]
    assert peers("peer-b", 10) == ["peer-c", "peer-d"]
    assert peers("peer-bb", 10) == ["peer-c", "peer-d"]  # after need not be a member
    assert peers("peer-d", 10) == []
    assert peers("", 1) == ["peer-a"]
    assert store.members("no-such-network", after=None, limit=10, now_ms=NOW) == []


def test_members_paging_sees_every_peer_once_with_mixed_case_ids(store):
    # Base58 peer IDs mix cases and digits; whatever order the backend sorts them in,
    # paging with ``after`` must list each member exactly once.
    make_network(store, owner="12D3KooWOwner")
    peers = ["12D3KooWa", "12D3KooWB", "12D3KooWb", "12D3KooWA", "12D3Koo9", "12D3KooWz"]
    for i, peer in enumerate(peers):
        assert join(store, peer, f"inv-{i}") == JoinOutcome.JOINED

    seen: list[str] = []
    after = None
    while page := store.members(NET, after=after, limit=2, now_ms=NOW):
        seen += [row.peer for row in page]
        after = page[-1].peer

    assert sorted(seen) == sorted([*peers, "12D3KooWOwner"])
    assert len(seen) == len(set(seen))


def test_shares_network(store):
    make_network(store, "net-a", owner="peer-oa")
    make_network(store, "net-b", owner="peer-ob")
    assert join(store, "peer-x", "inv-x", network="net-a") == JoinOutcome.JOINED
    assert join(store, "peer-y", "inv-y", network="net-b") == JoinOutcome.JOINED
    assert join(store, "peer-z", "inv-z1", network="net-a") == JoinOutcome.JOINED
    assert join(store, "peer-z", "inv-z2", network="net-b") == JoinOutcome.JOINED

    assert store.shares_network("peer-x", "peer-oa")
    assert store.shares_network("peer-oa", "peer-x")
    assert store.shares_network("peer-x", "peer-z")
    assert store.shares_network("peer-y", "peer-z")
    assert not store.shares_network("peer-x", "peer-y")
    assert not store.shares_network("peer-x", "peer-ob")
    assert not store.shares_network("peer-x", "peer-stranger")
    assert not store.shares_network("peer-stranger", "peer-stranger")

    store.remove_member("net-a", "peer-z")
    assert not store.shares_network("peer-x", "peer-z")
    assert store.shares_network("peer-y", "peer-z")


def test_networks_of(store):
    for network in ("net-c", "net-a", "net-b"):
        make_network(store, network, owner=f"owner-{network}")
    for network in ("net-c", "net-a"):
        assert join(store, "peer-x", f"inv-{network}", network=network) == JoinOutcome.JOINED

    assert store.networks_of("peer-x") == ["net-a", "net-c"]
    assert store.networks_of("owner-net-b") == ["net-b"]
    assert store.networks_of("peer-stranger") == []


# -- sweep --------------------------------------------------------------------------------


def test_sweep_removes_expired_records_and_expired_invites(store):
    make_network(store)
    store.put_record("peer-old-1", 1, NOW + 10, b"old-1")
    store.put_record("peer-old-2", 1, NOW + 20, b"old-2")
    store.put_record("peer-live", 1, LATER + 1, b"live")
    short = NOW + 100
    assert join(store, "peer-a", "inv-short", uses=3, expires_ms=short) == JoinOutcome.JOINED
    assert join(store, "peer-b", "inv-short", uses=3, expires_ms=short) == JoinOutcome.JOINED
    store.revoke_invite(NET, "inv-revoked-short", short)
    assert join(store, "peer-c", "inv-long", expires_ms=INVITE_EXPIRES) == JoinOutcome.JOINED

    assert store.sweep(NOW) == 0
    # 2 records + 2 uses of inv-short + the invites inv-short and inv-revoked-short.
    assert store.sweep(LATER) == 6
    assert store.sweep(LATER) == 0

    assert store.record_seq("peer-old-1") is None
    assert store.record_seq("peer-old-2") is None
    assert store.record("peer-live", LATER) == b"live"
    # Memberships stay; only the bookkeeping of the expired invites went.
    assert store.member_count(NET) == 4
    assert store.role(NET, "peer-a") == "member"
    assert join(store, "peer-d", "inv-long") == JoinOutcome.SPENT
    assert join(store, "peer-c", "inv-long") == JoinOutcome.ALREADY
    # The store forgot the expired invites (the service refuses expired tokens itself).
    assert join(store, "peer-e", "inv-revoked-short", expires_ms=short) == JoinOutcome.JOINED


def test_sweep_at_the_expiry_instant(store):
    store.put_record("peer-a", 1, NOW, b"a")

    assert store.sweep(NOW - 1) == 0
    assert store.record_seq("peer-a") == 1
    assert store.sweep(NOW) == 1
    assert store.record_seq("peer-a") is None


# -- persistence --------------------------------------------------------------------------


def test_data_survives_closing_and_reopening(store_factory: StoreFactory):
    first = store_factory()
    make_network(first)
    assert join(first, "peer-a", "inv-a", role="inviter") == JoinOutcome.JOINED
    first.revoke_invite(NET, "inv-revoked", INVITE_EXPIRES)
    first.put_record("peer-a", 7, LATER, b"rec-a")
    first.close()

    again = store_factory()

    assert again.network(NET) == NetworkRow(NET, f"name of {NET}", OWNER, NOW)
    assert again.role(NET, "peer-a") == "inviter"
    assert again.record("peer-a", NOW) == b"rec-a"
    assert again.record_seq("peer-a") == 7
    assert join(again, "peer-b", "inv-a") == JoinOutcome.SPENT
    assert join(again, "peer-a", "inv-a") == JoinOutcome.ALREADY
    assert join(again, "peer-b", "inv-revoked") == JoinOutcome.REVOKED
    assert again.put_record("peer-a", 7, LATER, b"replay") is False


def test_two_stores_on_one_database_see_each_others_writes(store_factory: StoreFactory):
    one, two = store_factory(), store_factory()

    make_network(one)
    assert join(two, "peer-a") == JoinOutcome.JOINED
    assert two.put_record("peer-a", 1, LATER, b"rec")

    assert one.role(NET, "peer-a") == "member"
    assert join(one, "peer-b") == JoinOutcome.SPENT
    assert one.record("peer-a", NOW) == b"rec"
    assert one.put_record("peer-a", 1, LATER, b"replay") is False


def test_store_methods_run_on_the_store_executor(store):
    make_network(store)

    outcome = store.executor.submit(join, store, "peer-a").result(timeout=RACE_TIMEOUT_S)

    assert outcome == JoinOutcome.JOINED
    assert store.executor.submit(store.role, NET, "peer-a").result() == "member"


# -- races --------------------------------------------------------------------------------


@pytest.mark.parametrize("redeemed_before", [False, True], ids=["new-invite", "known-invite"])
def test_racing_peers_on_a_single_use_invite_one_joins(store, redeemed_before):
    make_network(store)
    uses = 1
    if redeemed_before:
        # The invite row exists already (one of two uses bound), so racers meet on its lock
        # rather than on its first insert.
        uses = 2
        assert join(store, "peer-early", uses=uses) == JoinOutcome.JOINED

    outcomes = race([lambda i=i: join(store, f"peer-{i}", uses=uses) for i in range(8)])

    assert sorted(outcomes) == [JoinOutcome.JOINED] + [JoinOutcome.SPENT] * 7
    joined = [f"peer-{i}" for i, outcome in enumerate(outcomes) if outcome == "joined"]
    assert store.role(NET, joined[0]) == "member"
    assert store.member_count(NET) == 2 + redeemed_before


def test_racing_peers_on_a_multi_use_invite_bind_exactly_its_uses(store):
    make_network(store)

    outcomes = race([lambda i=i: join(store, f"peer-{i}", uses=3) for i in range(8)])

    assert outcomes.count(JoinOutcome.JOINED) == 3
    assert outcomes.count(JoinOutcome.SPENT) == 5
    assert store.member_count(NET) == 4


def test_two_stores_racing_on_a_single_use_invite_one_joins(store_factory: StoreFactory):
    # Two discovery servers on one database, each redeeming from several threads.
    one, two = store_factory(), store_factory()
    make_network(one)

    calls = [
        lambda i=i, s=s: join(s, f"peer-{i}")
        for i, s in enumerate([one, two] * 4)  # 8 racers, alternating servers
    ]
    outcomes = race(calls)

    assert sorted(outcomes) == [JoinOutcome.JOINED] + [JoinOutcome.SPENT] * 7
    assert one.member_count(NET) == 2
    assert two.member_count(NET) == 2


def test_racing_retries_of_one_peer_join_once(store_factory: StoreFactory):
    one, two = store_factory(), store_factory()
    make_network(one)

    outcomes = race([lambda s=s: join(s, "peer-a", uses=2) for s in [one, two] * 3])

    assert sorted(outcomes) == [JoinOutcome.ALREADY] * 5 + [JoinOutcome.JOINED]
    assert join(one, "peer-b", uses=2) == JoinOutcome.JOINED  # one use was left


def test_racing_put_record_keeps_the_highest_seq(store_factory: StoreFactory):
    one, two = store_factory(), store_factory()

    results = race(
        [
            lambda seq=seq, s=s: s.put_record("peer-a", seq, LATER, b"%d" % seq)
            for seq, s in zip(range(1, 9), [one, two] * 4, strict=True)
        ]
    )

    assert results.count(True) >= 1
    assert one.record_seq("peer-a") == 8
    assert two.record("peer-a", NOW) == b"8"


def test_racing_creates_of_one_network_all_get_the_row(store_factory: StoreFactory):
    # A client retrying a create against two servers at once: one network, no error.
    one, two = store_factory(), store_factory()

    rows = race(
        [lambda s=s: s.create_network(NET, "n", OWNER, NOW, max_owned=5) for s in [one, two] * 4]
    )

    assert rows == [NetworkRow(NET, "n", OWNER, NOW)] * 8
    assert one.member_count(NET) == 1


def test_racing_creates_respect_max_owned(store_factory: StoreFactory):
    one, two = store_factory(), store_factory()

    rows = race(
        [
            lambda i=i, s=s: s.create_network(f"net-{i}", "n", OWNER, NOW, max_owned=2)
            for i, s in enumerate([one, two] * 4)
        ]
    )

    assert sum(row is not None for row in rows) == 2
    assert len(one.networks_of(OWNER)) == 2


def test_racing_joins_respect_max_members(store_factory: StoreFactory):
    # Different peers on different invites: nothing but the member count stands between them.
    one, two = store_factory(), store_factory()
    make_network(one)

    outcomes = race(
        [
            lambda i=i, s=s: join(s, f"peer-{i}", f"inv-{i}", max_members=4)
            for i, s in enumerate([one, two] * 4)
        ]
    )

    assert outcomes.count(JoinOutcome.JOINED) == 3
    assert outcomes.count(JoinOutcome.FULL) == 5
    assert one.member_count(NET) == 4


def test_one_peer_racing_on_two_invites_joins_without_error(store_factory: StoreFactory):
    one, two = store_factory(), store_factory()
    make_network(one)

    outcomes = race(
        [
            lambda i=i, s=s, role=role: join(s, "peer-a", f"inv-{i}", role=role)
            for i, (s, role) in enumerate([(one, "member"), (two, "inviter")] * 3)
        ]
    )

    assert outcomes == [JoinOutcome.JOINED] * 6
    assert one.role(NET, "peer-a") == "inviter"
    assert one.member_count(NET) == 2
