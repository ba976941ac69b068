import pytest

from secondme.protocol.clock import ManualClock, SystemClock
from secondme.protocol.errors import Busy, RateLimited, ReplayedMessage, StaleMessage
from secondme.protocol.identity import Identity
from secondme.protocol.replay import ReplayWindow

NOW = 1_700_000_000_000
SKEW = 120_000
ALICE = Identity.from_seed(bytes([1]) * 32).peer_id
BOB = Identity.from_seed(bytes([2]) * 32).peer_id


def nonce(i: int) -> bytes:
    return i.to_bytes(16, "big")


@pytest.fixture
def clock():
    return ManualClock(NOW)


@pytest.fixture
def window(clock):
    return ReplayWindow(clock, skew_ms=SKEW)


def test_a_nonce_is_accepted_once_per_peer(window):
    window.check(ALICE, nonce(1), NOW)
    with pytest.raises(ReplayedMessage):
        window.check(ALICE, nonce(1), NOW + 5)
    window.check(BOB, nonce(1), NOW)
    window.check(ALICE, nonce(2), NOW)
    assert len(window) == 3


@pytest.mark.parametrize("offset", [-SKEW, SKEW, 0])
def test_timestamps_within_the_skew_are_fresh(window, offset):
    window.check(ALICE, nonce(1), NOW + offset)


@pytest.mark.parametrize("offset", [-SKEW - 1, SKEW + 1])
def test_timestamps_beyond_the_skew_are_stale(window, offset):
    with pytest.raises(StaleMessage):
        window.check(ALICE, nonce(1), NOW + offset)
    assert len(window) == 0


def test_nonces_are_forgotten_once_their_message_is_stale(clock, window):
    window.check(ALICE, nonce(1), NOW + SKEW)  # the longest-lived entry: 2 × skew
    window.check(ALICE, nonce(2), NOW)
    clock.advance(SKEW)
    window.check(BOB, nonce(3), NOW + SKEW)
    assert len(window) == 3  # at exactly ts + skew, nonce 2 could still pass: kept
    clock.advance(1)
    window.check(BOB, nonce(4), NOW + SKEW)
    assert len(window) == 3  # nonce 2 gone
    with pytest.raises(StaleMessage):
        window.check(ALICE, nonce(2), NOW)  # and its message is stale, so no replay
    clock.advance(SKEW - 1)
    with pytest.raises(ReplayedMessage):
        window.check(ALICE, nonce(1), NOW + SKEW)  # 2 × skew after first sight: still known
    clock.advance(1)
    window.check(BOB, nonce(5), NOW + 2 * SKEW + 1)
    assert len(window) == 1


def test_a_clock_stepping_back_does_not_reopen_the_window(clock, window):
    window.check(ALICE, nonce(1), NOW)
    clock.advance(10 * SKEW)
    window.check(BOB, nonce(2), clock.now_ms())  # forgets nonce 1
    clock.set(NOW)
    with pytest.raises(StaleMessage):
        window.check(ALICE, nonce(1), NOW)


def test_the_future_edge_follows_the_current_clock(clock, window):
    clock.advance(-SKEW)
    with pytest.raises(StaleMessage):
        window.check(ALICE, nonce(1), NOW + 1)


def test_per_peer_cap_refuses_instead_of_forgetting(clock):
    window = ReplayWindow(clock, skew_ms=SKEW, max_per_peer=2)
    window.check(ALICE, nonce(1), NOW - 1000)
    window.check(ALICE, nonce(2), NOW)
    with pytest.raises(RateLimited) as caught:
        window.check(ALICE, nonce(3), NOW)
    assert caught.value.retry_after_ms == SKEW - 1000 + 1
    window.check(BOB, nonce(3), NOW)
    with pytest.raises(ReplayedMessage):
        window.check(ALICE, nonce(1), NOW)  # still remembered
    clock.advance(caught.value.retry_after_ms)
    window.check(ALICE, nonce(3), clock.now_ms())


def test_total_cap_refuses_with_busy(clock):
    window = ReplayWindow(clock, skew_ms=SKEW, max_total=2)
    window.check(ALICE, nonce(1), NOW)
    window.check(BOB, nonce(2), NOW)
    carol = Identity.from_seed(bytes([3]) * 32).peer_id
    with pytest.raises(Busy) as caught:
        window.check(carol, nonce(3), NOW)
    assert caught.value.retry_after_ms == SKEW + 1
    assert len(window) == 2
    clock.advance(SKEW + 1)
    window.check(carol, nonce(3), clock.now_ms())
    assert len(window) == 1


def test_parameters_must_be_positive(clock):
    for bad in [{"skew_ms": 0}, {"max_per_peer": 0}, {"max_total": -1}]:
        with pytest.raises(ValueError):
            ReplayWindow(clock, **bad)


def test_clocks():
    clock = ManualClock(5)
    clock.advance(10)
    assert clock.now_ms() == 15
    clock.set(3)
    assert clock.now_ms() == 3
    assert SystemClock().now_ms() > NOW
