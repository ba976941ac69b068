"""Which peers get the trusted budget: those holding a live grant this node gave, read from the
real SQLite store; a revoked, expired or used-up grant makes its holder a stranger again."""

from __future__ import annotations

from secondme.node.access.store import AccessStore
from secondme.node.core.db import Database
from secondme.node.p2p.trust import REFRESH_MS, TrustedPeers
from secondme.protocol.clock import ManualClock
from secondme.protocol.grants import GrantTerms, issue_grant, read_grant
from secondme.protocol.identity import Identity

NOW = 1_700_000_000_000
HOUR = 3_600_000
NODE = Identity.from_seed(bytes([9]) * 32)
BOB, CAROL, DAVE, ERIN = (Identity.from_seed(bytes([i]) * 32) for i in (2, 3, 4, 5))


def give(store: AccessStore, holder: Identity, *, expires_ms: int = NOW + HOUR, **terms) -> str:
    token = issue_grant(
        NODE,
        GrantTerms(
            audience=holder.peer_id, abilities=("chat/ask",), expires_ms=expires_ms, **terms
        ),
        issued_ms=NOW,
    )
    info = read_grant(token, NODE.peer_id)
    store.add_issued(
        info,
        token,
        grant_id=info.grant_id,
        holder=str(holder.peer_id),
        scope=info.scope,
        abilities=info.abilities,
        expires_ms=expires_ms,
        created_ms=NOW,
    )
    return info.grant_id


def test_only_holders_of_live_grants_are_trusted(tmp_path):
    store = AccessStore(Database(tmp_path / "node.db"))
    clock = ManualClock(NOW)
    trusted = TrustedPeers(store.grant_holders, clock)
    give(store, BOB)
    revoked = give(store, CAROL)
    store.revoke(revoked, revoked, at_ms=NOW, by_peer=str(NODE.peer_id))
    give(store, DAVE, expires_ms=NOW + 1000)
    used_up = give(store, ERIN, max_uses=1)
    store.count_use(used_up, NOW)

    trusted.refresh()
    assert [trusted(p.peer_id) for p in (BOB, CAROL, DAVE, ERIN)] == [True, False, True, False]

    clock.advance(REFRESH_MS + 1)  # Dave's grant has expired by now
    trusted.refresh()
    assert [trusted(p.peer_id) for p in (BOB, CAROL, DAVE, ERIN)] == [True, False, False, False]


def test_the_snapshot_is_read_at_most_once_a_refresh_interval(tmp_path):
    store = AccessStore(Database(tmp_path / "node.db"))
    clock = ManualClock(NOW)
    reads: list[int] = []

    def holders(now_ms: int) -> set[str]:
        reads.append(now_ms)
        return store.grant_holders(now_ms)

    trusted = TrustedPeers(holders, clock)
    trusted.refresh()
    give(store, BOB)
    trusted.refresh()
    assert not trusted(BOB.peer_id) and len(reads) == 1  # asked again within the interval
    clock.advance(REFRESH_MS)
    trusted.refresh()
    assert trusted(BOB.peer_id) and len(reads) == 2
    clock.advance(-10 * REFRESH_MS)  # a clock stepping back does not freeze the snapshot
    trusted.refresh()
    assert len(reads) == 3
