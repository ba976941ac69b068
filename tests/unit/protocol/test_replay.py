import pytest

from secondme.protocol.clock import ManualClock, SystemClock
from secondme.protocol.errors import Busy, RateLimited, ReplayedMessage, StaleMessage
from secondme.protocol.identity import Identity
from secondme.protocol.replay import DEFAULT_MAX_PER_PEER, DEFAULT_MAX_TOTAL, ReplayWindow

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


def stranger(i: int):
    return Identity.from_seed(i.to_bytes(32, "big")).peer_id


def test_a_stranger_holds_a_256th_of_the_window(clock):
    window = ReplayWindow(clock, skew_ms=SKEW, max_total=1024)
    assert window.max_per_stranger == 4
    for i in range(4):
        window.check(ALICE, nonce(i), NOW, stranger=True)
    with pytest.raises(RateLimited):
        window.check(ALICE, nonce(4), NOW, stranger=True)
    window.check(ALICE, nonce(4), NOW)  # the same peer, trusted now: its own share is larger


FLOODERS = [stranger(i + 10) for i in range(400)]
"""More throwaway identities than the ~330 that, each spending a burst of 200, used to fill
the whole default window."""


def flood(window: ReplayWindow, *, as_strangers: bool) -> list[Exception]:
    refused = []
    for peer in FLOODERS:
        for j in range(200):
            try:
                window.check(peer, nonce(j), NOW, stranger=as_strangers)
            except (Busy, RateLimited) as exc:
                refused.append(exc)
    return refused


def test_a_flood_of_fresh_identities_fills_the_strangers_quarter_only(clock):
    window = ReplayWindow(clock, skew_ms=SKEW)  # the default size: 65,536
    refused = flood(window, as_strangers=True)
    assert window.held_by_strangers() == window.max_strangers == 16_384
    assert len(refused) == 400 * 200 - 16_384
    assert all(exc.retry_after_ms == SKEW + 1 for exc in refused if isinstance(exc, Busy))
    for j in range(DEFAULT_MAX_PER_PEER):
        window.check(BOB, nonce(j), NOW)  # a trusted peer takes its whole share
    window.check(ALICE, nonce(1), NOW)


def test_without_classes_the_same_flood_keeps_everyone_out(clock):
    """The window as it was: every peer counted alike, so the flood fills it all."""
    window = ReplayWindow(clock, skew_ms=SKEW)
    flood(window, as_strangers=False)
    assert len(window) == DEFAULT_MAX_TOTAL
    with pytest.raises(Busy):
        window.check(BOB, nonce(1), NOW)


def test_a_far_future_nonce_is_refused_and_pins_nothing(clock, window):
    with pytest.raises(StaleMessage):
        window.check(ALICE, nonce(1), NOW + 365 * 24 * 3600 * 1000)
    assert len(window) == 0


def test_a_forward_dated_nonce_is_held_two_skews_at_most_and_counts_against_its_peer(clock):
    window = ReplayWindow(clock, skew_ms=SKEW, max_total=256)  # one nonce per stranger
    window.check(ALICE, nonce(1), NOW + SKEW, stranger=True)
    with pytest.raises(RateLimited) as caught:
        window.check(ALICE, nonce(2), NOW, stranger=True)
    assert caught.value.retry_after_ms == 2 * SKEW + 1
    clock.advance(2 * SKEW + 1)
    window.check(ALICE, nonce(2), clock.now_ms(), stranger=True)
    assert len(window) == 1
