import pytest

from secondme.protocol.clock import ManualClock
from secondme.protocol.errors import Busy, RateLimited
from secondme.protocol.identity import Identity
from secondme.protocol.ratelimit import TokenBucketLimiter

PEERS = [Identity.from_seed(bytes([i]) * 32).peer_id for i in range(1, 5)]
ALICE, BOB, CAROL, DAVE = PEERS


@pytest.fixture
def clock():
    return ManualClock(1_000_000)


def test_burst_then_rate(clock):
    limiter = TokenBucketLimiter(clock, rate_per_s=2, burst=3)
    for _ in range(3):
        limiter.acquire(ALICE)
    with pytest.raises(RateLimited) as caught:
        limiter.acquire(ALICE)
    assert caught.value.retry_after_ms == 500
    clock.advance(499)
    with pytest.raises(RateLimited) as caught:
        limiter.acquire(ALICE)
    assert caught.value.retry_after_ms == 1
    clock.advance(1)
    limiter.acquire(ALICE)


def test_refill_stops_at_the_burst(clock):
    limiter = TokenBucketLimiter(clock, rate_per_s=1, burst=2)
    limiter.acquire(ALICE)
    clock.advance(60_000)
    limiter.acquire(ALICE)
    limiter.acquire(ALICE)
    with pytest.raises(RateLimited):
        limiter.acquire(ALICE)


def test_peers_have_their_own_buckets(clock):
    limiter = TokenBucketLimiter(clock, rate_per_s=1, burst=1)
    limiter.acquire(ALICE)
    limiter.acquire(BOB)
    with pytest.raises(RateLimited):
        limiter.acquire(ALICE)


def test_cost(clock):
    limiter = TokenBucketLimiter(clock, rate_per_s=1, burst=5)
    limiter.acquire(ALICE, cost=4)
    with pytest.raises(RateLimited) as caught:
        limiter.acquire(ALICE, cost=2)
    assert caught.value.retry_after_ms == 1000
    for cost in [0, 6]:
        with pytest.raises(ValueError):
            limiter.acquire(ALICE, cost=cost)


def test_idle_peers_are_forgotten(clock):
    limiter = TokenBucketLimiter(clock, rate_per_s=1, burst=2, max_peers=2)
    limiter.acquire(ALICE)
    limiter.acquire(BOB)
    clock.advance(1000)  # both refilled: nothing to remember
    limiter.acquire(CAROL)
    assert len(limiter) == 1


def test_a_full_table_of_busy_peers_refuses_newcomers(clock):
    limiter = TokenBucketLimiter(clock, rate_per_s=1, burst=2, max_peers=2)
    limiter.acquire(ALICE)
    clock.advance(400)
    limiter.acquire(BOB)
    with pytest.raises(Busy) as caught:
        limiter.acquire(CAROL)
    assert caught.value.retry_after_ms == 600  # when alice's bucket is full again
    limiter.acquire(ALICE)  # known peers still served
    clock.advance(2000)
    limiter.acquire(CAROL)


def test_a_clock_stepping_back_refills_nothing(clock):
    limiter = TokenBucketLimiter(clock, rate_per_s=1, burst=1)
    limiter.acquire(ALICE)
    clock.advance(-5000)
    with pytest.raises(RateLimited) as caught:
        limiter.acquire(ALICE)
    assert caught.value.retry_after_ms == 6000
    clock.advance(5000)
    with pytest.raises(RateLimited):
        limiter.acquire(ALICE)
    clock.advance(1000)
    limiter.acquire(ALICE)


def test_parameters_must_be_positive(clock):
    for bad in [{"rate_per_s": 0}, {"burst": 0}, {"max_peers": 0}]:
        with pytest.raises(ValueError):
            TokenBucketLimiter(clock, **{"rate_per_s": 1, "burst": 1, **bad})
