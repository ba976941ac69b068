"""The node's network membership life cycle: the table, walked, and stored as its strings."""

from __future__ import annotations

import itertools

import pytest

from secondme.node.core.db import Database
from secondme.node.network.membership import MEMBERSHIP, Membership, MembershipEvent
from secondme.node.network.store import Network, NetworkStore
from secondme.protocol.lifecycle import ImpossibleTransition

PEER = "12D3KooWGhjLG5WaJbPcJcgyfx1FifETrJ8npsjarajhc2wyGuyK"
MOVES = {
    (Membership.ACTIVE, MembershipEvent.LEAVE): Membership.LEFT,
    (Membership.ACTIVE, MembershipEvent.CLOSE): Membership.CLOSED,
    (Membership.ACTIVE, MembershipEvent.REMOVE): Membership.REMOVED,
}


def test_the_table_is_the_drawn_one() -> None:
    assert dict(MEMBERSHIP.moves) == MOVES
    assert MEMBERSHIP.initial is Membership.ACTIVE
    assert MEMBERSHIP.states == set(Membership)
    assert MEMBERSHIP.final == {Membership.LEFT, Membership.CLOSED, Membership.REMOVED}


@pytest.mark.parametrize(
    ("state", "event"), list(itertools.product(Membership, MembershipEvent)), ids=str
)
def test_every_pair_moves_as_drawn_or_is_refused(state: Membership, event: MembershipEvent) -> None:
    if (state, event) in MOVES:
        assert MEMBERSHIP.next(state, event) is MOVES[(state, event)]
    else:
        with pytest.raises(ImpossibleTransition, match="network membership"):
            MEMBERSHIP.next(state, event)


@pytest.mark.parametrize("event", list(MembershipEvent), ids=str)
def test_each_end_is_stored_as_its_string_and_read_back_as_the_state(
    tmp_path, event: MembershipEvent
) -> None:
    db = Database(tmp_path / "node.db")
    store = NetworkStore(db)
    network = store.save(
        Network(
            network_id="a" * 32,
            name="friends",
            owner=PEER,
            role="member",
            discovery=(f"/ip4/127.0.0.1/tcp/4001/p2p/{PEER}",),
            joined_ms=1,
        )
    )
    assert network.status is Membership.ACTIVE and network.active
    store.set_status(network.network_id, MEMBERSHIP.next(network.status, event))
    ended = store.get(network.network_id)
    assert ended.status is MOVES[(Membership.ACTIVE, event)] and not ended.active
    row = db.query_one("SELECT status FROM networks WHERE network_id = ?", (network.network_id,))
    assert row is not None and row["status"] == MOVES[(Membership.ACTIVE, event)].value
    assert ended.to_json()["status"] == row["status"]
