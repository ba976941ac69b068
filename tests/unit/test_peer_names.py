"""Which peer a name the owner types means: the owner's own names first, then a display name
only one known peer claims; the errors say what to do instead."""

from __future__ import annotations

import pytest

from secondme.node.core.db import Database
from secondme.node.core.errors import InvalidRequest, NotFound
from secondme.node.people.peers import PeerStore
from secondme.protocol.identity import Identity


@pytest.fixture
def peers(tmp_path):
    return PeerStore(Database(tmp_path / "node.db"))


def _known(peers: PeerStore, display_name: str, name: str | None = None) -> str:
    peer_id = str(Identity.generate().peer_id)
    peers.add(peer_id, [f"/ip4/10.0.0.1/tcp/4001/p2p/{peer_id}"], name=name)
    peers.seen(peer_id, display_name=display_name)
    return peer_id


def test_display_name_resolves_when_one_peer_claims_it(peers):
    bob = _known(peers, "Bob")
    assert peers.resolve("Bob").peer_id == bob
    assert peers.resolve("bob").peer_id == bob  # as typed, in any case
    assert peers.resolve(bob).peer_id == bob


def test_the_owners_name_wins_over_a_display_name(peers):
    _known(peers, "Bob")
    mine = _known(peers, "Robert", name="Bob")
    assert peers.resolve("Bob").peer_id == mine


def test_a_display_name_two_peers_claim_is_refused(peers):
    first, second = _known(peers, "Carol"), _known(peers, "Carol")
    with pytest.raises(InvalidRequest) as refused:
        peers.resolve("Carol")
    assert first in refused.value.message and second in refused.value.message
    assert "peers add" in refused.value.message


def test_unknown_names_say_how_to_learn_them(peers):
    with pytest.raises(NotFound) as missing:
        peers.resolve("Dana")
    assert "peers add" in missing.value.message and "network refresh" in missing.value.message
