"""The moderator's outbox state over a real SQLite file: the backoff doubles to its cap, an
acknowledgement ends the failures, a member heard from is tried again at once, an owed end is
kept until delivered, and a member failing for long is away. (Delivery itself, over real
libp2p hosts, is in tests/integration/test_groups_inprocess.py.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from secondme.node.core.config import GroupSettings
from secondme.node.core.db import Database
from secondme.node.groups.outbox import MemberDelivery, OutboxStore, retry_delay_s

GID = "ab" * 16
PEER = "12D3KooWExample"
SETTINGS = GroupSettings(retry_first_s=2.0, retry_max_s=60.0, away_after_s=3600.0)


@pytest.fixture
def outbox(tmp_path) -> Iterator[OutboxStore]:
    db = Database(tmp_path / "node.db")
    yield OutboxStore(db)
    db.close()


def test_the_wait_doubles_up_to_its_cap() -> None:
    waits = [retry_delay_s(n, SETTINGS) for n in range(1, 9)]
    assert waits == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]


def test_an_unknown_member_is_owed_everything(outbox: OutboxStore) -> None:
    state = outbox.get(GID, PEER)
    assert state == MemberDelivery(GID, PEER)
    assert state.to_json(4, 0, SETTINGS)["behind"] == 4
    assert state.to_json(4, 0, SETTINGS)["delivery"] == "behind"


def test_failures_count_until_an_acknowledgement(outbox: OutboxStore) -> None:
    outbox.failed(GID, PEER, "timed out", now_ms=1_000, next_ms=3_000)
    outbox.failed(GID, PEER, "refused", now_ms=3_000, next_ms=7_000)
    state = outbox.get(GID, PEER)
    assert (state.failures, state.failing_since_ms, state.last_error) == (2, 1_000, "refused")
    assert state.waiting(6_999) and not state.waiting(7_000)
    shown = state.to_json(3, 5_000, SETTINGS)
    assert (shown["delivery"], shown["behind"], shown["next_try_ms"]) == ("retrying", 3, 7_000)

    outbox.acked(GID, PEER, 3, now_ms=8_000)
    state = outbox.get(GID, PEER)
    assert (state.acked_seq, state.failures, state.failing_since_ms) == (3, 0, None)
    assert state.to_json(3, 8_000, SETTINGS)["delivery"] == "up to date"
    outbox.acked(GID, PEER, 2, now_ms=9_000)  # a late, older answer does not go back
    assert outbox.get(GID, PEER).acked_seq == 3


def test_a_member_failing_for_long_is_away_until_heard_from(outbox: OutboxStore) -> None:
    outbox.failed(GID, PEER, "no route", now_ms=0, next_ms=60_000)
    outbox.failed(GID, PEER, "no route", now_ms=3_000_000, next_ms=3_060_000)
    assert outbox.get(GID, PEER).away(3_600_000, SETTINGS)
    assert outbox.get(GID, PEER).to_json(1, 3_600_000, SETTINGS)["delivery"] == "away"

    outbox.heard_from(GID, PEER, now_ms=3_700_000, held_seq=2)
    state = outbox.get(GID, PEER)
    assert not state.away(3_700_000, SETTINGS) and not state.waiting(3_700_000)
    assert state.failures == 2 and state.acked_seq == 2  # tried again at once, from there


def test_an_owed_end_stays_until_delivered(outbox: OutboxStore) -> None:
    outbox.owe_end(GID, PEER, "removed")
    assert outbox.ends_owed(GID) == [PEER]
    assert outbox.of_group(GID)[PEER].end_reason == "removed"
    outbox.end_delivered(GID, PEER, now_ms=5)
    assert outbox.ends_owed(GID) == [] and outbox.get(GID, PEER).end_reason is None
