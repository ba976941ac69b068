"""The node's own view of its networks: names resolve the way the CLI promises, and what it
announces to others never holds an address nobody can dial."""

from __future__ import annotations

import pytest

from secondme.node.core.db import Database
from secondme.node.core.errors import InvalidRequest, NotFound
from secondme.node.network.service import announced_addresses
from secondme.node.network.store import IssuedInvite, Network, NetworkStore

PEER = "12D3KooWGhjLG5WaJbPcJcgyfx1FifETrJ8npsjarajhc2wyGuyK"


def network(network_id: str, name: str, *, status: str = "active") -> Network:
    return Network(
        network_id=network_id,
        name=name,
        owner=PEER,
        role="owner",
        discovery=(f"/ip4/127.0.0.1/tcp/4001/p2p/{PEER}",),
        joined_ms=len(network_id),
        status=status,
        synced_ms=None,
        sync_error=None,
    )


@pytest.fixture
def store(tmp_path) -> NetworkStore:
    return NetworkStore(Database(tmp_path / "node.db"))


def test_resolve_by_name_id_prefix_or_the_only_one(store: NetworkStore) -> None:
    with pytest.raises(NotFound, match="in no network"):
        store.resolve(None)
    store.save(network("a" * 32, "friends"))
    assert store.resolve(None).name == "friends"
    store.save(network("b" * 32, "family"))
    with pytest.raises(InvalidRequest, match="several networks"):
        store.resolve(None)
    assert store.resolve("family").network_id == "b" * 32
    assert store.resolve("aaaa").name == "friends"
    with pytest.raises(NotFound):
        store.resolve("work")
    store.set_status("b" * 32, "left")
    assert store.resolve(None).name == "friends"  # only active networks count
    assert [n.status for n in store.list(include_inactive=True)] == ["active", "left"]


def test_same_name_from_two_owners_needs_the_id(store: NetworkStore) -> None:
    store.save(network("a" * 32, "friends"))
    store.save(network("c" * 32, "friends"))
    with pytest.raises(InvalidRequest, match="use the id"):
        store.resolve("friends")
    assert store.resolve("c" * 32).network_id == "c" * 32


def test_members_are_replaced_and_shared_networks_listed(store: NetworkStore) -> None:
    store.save(network("a" * 32, "friends"))
    store.replace_members("a" * 32, [(PEER, "owner", 1), ("other", "member", 2)])
    store.replace_members("a" * 32, [(PEER, "owner", 1)])
    assert store.members("a" * 32) == [(PEER, "owner", 1)]
    assert store.networks_of_peers() == {PEER: ["friends"]}


def test_invites_resolve_by_unique_prefix(store: NetworkStore) -> None:
    store.save(network("a" * 32, "friends"))
    for invite_id in ("ab" + "0" * 30, "ac" + "0" * 30):
        store.add_invite(IssuedInvite(invite_id, "a" * 32, "member", 1, 10, 1, None))
    assert store.invite("ab").invite_id.startswith("ab")
    with pytest.raises(NotFound, match="several"):
        store.invite("a")
    store.revoked("ab" + "0" * 30, 5)
    assert store.invite("ab").revoked_ms == 5


def test_announced_addresses() -> None:
    bound = [f"/ip4/0.0.0.0/tcp/4001/p2p/{PEER}", f"/ip6/::/tcp/4001/p2p/{PEER}"]
    announced = announced_addresses(bound, ())
    assert announced and all("0.0.0.0" not in a and "/ip6/::/" not in a for a in announced)
    assert f"/ip4/127.0.0.1/tcp/4001/p2p/{PEER}" in announced
    assert all(a.endswith(f"/p2p/{PEER}") for a in announced)
    configured = (f"/ip4/192.0.2.7/tcp/4001/p2p/{PEER}",)
    assert announced_addresses(bound, configured) == configured
    loopback = [f"/ip4/127.0.0.1/tcp/5000/p2p/{PEER}"]
    assert announced_addresses(loopback, ()) == tuple(loopback)
