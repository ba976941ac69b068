"""The audit log stays bounded under a flood: repeated refusals share a row, and retention
drops the oldest rows by age and by count. Real SQLite files."""

from __future__ import annotations

from secondme.node.access.store import AUDIT_ALLOWED, AUDIT_REFUSED, AccessStore, AuditRetention
from secondme.node.core.db import Database

DAY_MS = 86_400_000


def store(tmp_path, **retention) -> AccessStore:
    return AccessStore(Database(tmp_path / "node.db"), AuditRetention(**retention))


def refuse(access: AccessStore, at_ms: int, peer: str = "p1", code: str = "no_grant") -> int:
    return access.audit(
        at_ms=at_ms, peer_id=peer, request_type="ask", decision=AUDIT_REFUSED, code=code
    )


def test_repeated_refusals_from_one_peer_share_a_row_within_the_window(tmp_path):
    access = store(tmp_path, coalesce_ms=60_000)
    first = refuse(access, 1_000)
    assert [refuse(access, 1_000 + i * 100) for i in range(1, 500)] == [first] * 499
    (row,) = access.audit_log()
    assert row["repeats"] == 500 and row["at_ms"] == 1_000 and row["last_ms"] == 50_900
    # Another code, another peer, or the window passed: a row of its own.
    assert refuse(access, 51_000, code="grant_revoked") != first
    assert refuse(access, 51_000, peer="p2") != first
    assert refuse(access, 70_000) != first
    assert access.audit_count() == 4


def test_allowed_requests_are_never_coalesced_and_name_their_model(tmp_path):
    access = store(tmp_path)
    for i in range(3):
        access.audit(
            at_ms=i, peer_id="p1", request_type="ask", decision=AUDIT_ALLOWED, model="base"
        )
    rows = access.audit_log()
    assert len(rows) == 3 and {r["model"] for r in rows} == {"base"}
    assert {r["repeats"] for r in rows} == {1}


def test_retention_drops_old_rows_and_caps_the_count(tmp_path):
    access = store(tmp_path, keep_days=7, max_rows=1000, coalesce_ms=0, prune_every=100)
    now = 30 * DAY_MS
    for i in range(50):
        refuse(access, now - 10 * DAY_MS + i)
    assert access.prune_audit(now) == 50 and access.audit_count() == 0
    for i in range(3050):
        refuse(access, now + i, peer=f"p{i}")
    assert access.audit_count() == 1000 + 50  # pruned every 100 rows
    assert access.prune_audit(now + 3050) == 50 and access.audit_count() == 1000
    oldest, newest = access.audit_log(limit=1000)[-1], access.audit_log(limit=1)[0]
    assert (oldest["peer_id"], newest["peer_id"]) == ("p2050", "p3049")
