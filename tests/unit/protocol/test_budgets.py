"""Trusted peers and strangers have separate budgets: a flood of fresh identities is refused
for strangers only, at the rate limit and in the replay window alike."""

from __future__ import annotations

import contextlib

import pytest

from secondme.protocol.budgets import STRANGER_BUDGET, TRUSTED_BUDGET, Budget, PeerBudgets
from secondme.protocol.clock import ManualClock
from secondme.protocol.envelope import decode_envelope
from secondme.protocol.errors import Busy, FrameTooLarge, MalformedFrame, RateLimited
from secondme.protocol.identity import Identity
from secondme.protocol.messages import Ping
from secondme.protocol.ratelimit import TokenBucketLimiter
from secondme.protocol.replay import ReplayWindow
from secondme.protocol.session import SmpEndpoint

NOW = 1_700_000_000_000
NODE = Identity.from_seed(bytes([9]) * 32)
FRIEND = Identity.from_seed(bytes([1]) * 32)
"""The one peer the node trusts (it gave it a grant)."""


def fresh(i: int) -> Identity:
    return Identity.from_seed((1000 + i).to_bytes(32, "big"))


def is_trusted(peer) -> bool:
    return peer == FRIEND.peer_id


@pytest.fixture
def clock():
    return ManualClock(NOW)


def test_strangers_get_a_smaller_budget_than_trusted_peers():
    assert STRANGER_BUDGET.burst < TRUSTED_BUDGET.burst
    assert STRANGER_BUDGET.rate_per_s < TRUSTED_BUDGET.rate_per_s
    assert STRANGER_BUDGET.tracked_peers < TRUSTED_BUDGET.tracked_peers
    with pytest.raises(ValueError):
        Budget(rate_per_s=0, burst=1, tracked_peers=1)


def test_a_full_table_of_busy_strangers_refuses_strangers_only(clock):
    small = Budget(rate_per_s=1, burst=2, tracked_peers=3)
    budgets = PeerBudgets(clock, is_trusted, stranger=small)
    for i in range(3):
        assert budgets.admit(fresh(i).peer_id) is True
    with pytest.raises(Busy):
        budgets.admit(fresh(3).peer_id)
    for _ in range(TRUSTED_BUDGET.burst):
        assert budgets.admit(FRIEND.peer_id) is False
    with pytest.raises(RateLimited):
        budgets.admit(FRIEND.peer_id)  # refused for what it sent itself, not for the flood


def sender(identity: Identity, clock: ManualClock) -> SmpEndpoint:
    return SmpEndpoint(identity, clock, ReplayWindow(clock))


def test_a_flood_of_fresh_identities_leaves_a_trusted_peer_served(clock):
    """Today's attack at a 64th of its size: a 1024-nonce window, 100 fresh identities."""
    node = SmpEndpoint(
        NODE, clock, ReplayWindow(clock, max_total=1024), budgets=PeerBudgets(clock, is_trusted)
    )
    codes: dict[str, int] = {}
    for i in range(100):
        identity = fresh(i)
        attacker = sender(identity, clock)
        for _ in range(12):
            try:
                node.receive_request(identity.peer_id, attacker.request(Ping()).payload)
                codes["accepted"] = codes.get("accepted", 0) + 1
            except (RateLimited, Busy) as exc:
                codes[exc.code] = codes.get(exc.code, 0) + 1
    # 64 identities take their 4 nonces each (the strangers' quarter), the other 36 find it full
    assert codes == {"accepted": 64 * 4, "rate_limited": 64 * 8, "busy": 36 * 12}
    friend = sender(FRIEND, clock)
    for _ in range(200):
        node.receive_request(FRIEND.peer_id, friend.request(Ping()).payload)


def test_the_same_flood_fills_a_window_without_classes(clock):
    """What the flood did before the classes: every peer, trusted or not, is ``busy``."""
    node = SmpEndpoint(
        NODE,
        clock,
        ReplayWindow(clock, max_total=1024),
        rate_limiter=TokenBucketLimiter(clock, rate_per_s=50, burst=200),
    )
    for i in range(100):
        identity = fresh(i)
        attacker = sender(identity, clock)
        for _ in range(12):
            with contextlib.suppress(Busy):
                node.receive_request(identity.peer_id, attacker.request(Ping()).payload)
    with pytest.raises(Busy):
        node.receive_request(FRIEND.peer_id, sender(FRIEND, clock).request(Ping()).payload)


def test_a_rate_limiter_and_budgets_do_not_mix(clock):
    with pytest.raises(ValueError):
        SmpEndpoint(
            NODE,
            clock,
            ReplayWindow(clock),
            rate_limiter=TokenBucketLimiter(clock, rate_per_s=1, burst=1),
            budgets=PeerBudgets(clock, is_trusted),
        )


@pytest.mark.parametrize("error", [FrameTooLarge("too big"), MalformedFrame("cut short")])
def test_an_unreadable_frame_gets_a_signed_error_without_id(clock, error):
    node = SmpEndpoint(NODE, clock, ReplayWindow(clock), budgets=PeerBudgets(clock, is_trusted))
    frame = node.refuse_frame(FRIEND.peer_id, error)
    assert frame is not None
    envelope = decode_envelope(frame)
    envelope.verify(NODE.peer_id)
    assert envelope.request_id is None and envelope.body["code"] == error.code
    assert (envelope.version.major, envelope.version.minor) == (1, 0)


def test_unreadable_frames_over_the_rate_are_reset_not_signed(clock):
    small = Budget(rate_per_s=1, burst=2, tracked_peers=8)
    node = SmpEndpoint(
        NODE, clock, ReplayWindow(clock), budgets=PeerBudgets(clock, is_trusted, stranger=small)
    )
    peer = fresh(1).peer_id
    assert [node.refuse_frame(peer, MalformedFrame("x")) is not None for _ in range(3)] == [
        True,
        True,
        False,
    ]
