"""Login tickets are good once and briefly; browser sessions expire when idle and are bounded."""

from __future__ import annotations

from secondme.node.http.sessions import SessionStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_ticket_begins_one_session_only():
    store = SessionStore(Clock())
    ticket = store.issue_ticket()
    session = store.redeem(ticket)
    assert session is not None and store.get(session.session_id) is session
    assert store.redeem(ticket) is None
    assert len(store) == 1


def test_unknown_and_expired_tickets_are_refused():
    clock = Clock()
    store = SessionStore(clock, ticket_ttl_s=60)
    assert store.redeem("") is None
    assert store.redeem("made-up") is None
    ticket = store.issue_ticket()
    clock.now += 60
    assert store.redeem(ticket) is None
    assert len(store) == 0


def test_sessions_and_csrf_tokens_are_distinct_random_strings():
    store = SessionStore(Clock())
    first, second = (store.redeem(store.issue_ticket()) for _ in range(2))
    assert first and second
    tokens = {first.session_id, first.csrf_token, second.session_id, second.csrf_token}
    assert len(tokens) == 4 and all(len(t) >= 40 for t in tokens)
    assert first.csrf_matches(first.csrf_token)
    assert not first.csrf_matches(second.csrf_token)
    assert not first.csrf_matches("")


def test_an_idle_session_ends_and_use_keeps_it_alive():
    clock = Clock()
    store = SessionStore(clock, idle_ttl_s=100)
    session = store.redeem(store.issue_ticket())
    assert session
    clock.now += 99
    assert store.get(session.session_id) is session  # used: the idle clock restarts
    clock.now += 99
    assert store.get(session.session_id) is session
    clock.now += 100
    assert store.get(session.session_id) is None
    assert len(store) == 0


def test_the_least_recently_used_session_makes_room():
    clock = Clock()
    store = SessionStore(clock, max_sessions=2)
    a = store.redeem(store.issue_ticket())
    clock.now += 1
    b = store.redeem(store.issue_ticket())
    clock.now += 1
    assert a and b and store.get(a.session_id)  # a is now the more recent
    clock.now += 1
    c = store.redeem(store.issue_ticket())
    assert c
    assert store.get(b.session_id) is None
    assert store.get(a.session_id) is a and store.get(c.session_id) is c


def test_logout_ends_a_session():
    store = SessionStore(Clock())
    session = store.redeem(store.issue_ticket())
    assert session
    store.end(session.session_id)
    assert store.get(session.session_id) is None
    store.end(session.session_id)  # twice is harmless
