import itertools

import pytest

from secondme.protocol.clock import ManualClock
from secondme.protocol.envelope import SMP_1_0, Envelope, Kind, Version, decode_envelope
from secondme.protocol.errors import (
    FrameTooLarge,
    InvalidSignature,
    LocalProtocolError,
    MalformedFrame,
    RateLimited,
    RemoteError,
    ReplayedMessage,
    UnexpectedMessage,
    UnknownMessageType,
    UnsupportedVersion,
)
from secondme.protocol.identity import Identity
from secondme.protocol.messages import (
    ErrorMessage,
    Hello,
    HelloResponse,
    Ping,
    Pong,
)
from secondme.protocol.ratelimit import TokenBucketLimiter
from secondme.protocol.replay import ReplayWindow
from secondme.protocol.session import (
    TRANSITIONS,
    Event,
    Exchange,
    Role,
    SmpEndpoint,
    State,
)

NOW = 1_700_000_000_000
ALICE = Identity.from_seed(bytes([1]) * 32)
BOB = Identity.from_seed(bytes([2]) * 32)
CAROL = Identity.from_seed(bytes([3]) * 32)
BOB_HELLO = HelloResponse(
    display_name="Bob", versions=(SMP_1_0,), profile={"city": "Lisbon"}, agent="test/1"
)


def endpoint(identity, clock, versions=(SMP_1_0,), **options):
    return SmpEndpoint(identity, clock, ReplayWindow(clock), versions, **options)


@pytest.fixture
def clock():
    return ManualClock(NOW)


@pytest.fixture
def alice(clock):
    return endpoint(ALICE, clock)


@pytest.fixture
def bob(clock):
    return endpoint(BOB, clock)


def test_ping_round_trip(alice, bob):
    outgoing = alice.request(Ping(payload=b"are you there"))
    incoming = bob.receive_request(ALICE.peer_id, outgoing.payload)
    assert incoming.peer == ALICE.peer_id
    assert incoming.request_id == outgoing.request_id
    assert incoming.message == Ping(payload=b"are you there")
    assert incoming.grant is None
    answer = bob.respond(incoming, incoming.message.answer())
    assert alice.receive_response(BOB.peer_id, outgoing, answer) == Pong(payload=b"are you there")
    assert outgoing.exchange.state is State.DONE
    assert incoming.exchange.state is State.DONE


def test_hello_round_trip_carries_the_grant(alice, bob):
    outgoing = alice.request(Hello(display_name="Alice"), grant=b"grant token")
    incoming = bob.receive_request(ALICE.peer_id, outgoing.payload)
    assert incoming.grant == b"grant token"
    answer = bob.respond(incoming, BOB_HELLO)
    assert alice.receive_response(BOB.peer_id, outgoing, answer) == BOB_HELLO


def test_envelopes_are_stamped_by_the_clock_with_fresh_nonces(alice, clock):
    first = decode_envelope(alice.request(Ping()).payload)
    clock.advance(5)
    second = decode_envelope(alice.request(Ping()).payload)
    assert (first.timestamp_ms, second.timestamp_ms) == (NOW, NOW + 5)
    assert first.nonce != second.nonce and first.request_id != second.request_id


def test_an_error_answer_raises_remote_error(alice, bob):
    outgoing = alice.request(Ping())
    incoming = bob.receive_request(ALICE.peer_id, outgoing.payload)
    answer = bob.respond_error(incoming, ErrorMessage(code="busy", retry_after_ms=30))
    with pytest.raises(RemoteError) as caught:
        alice.receive_response(BOB.peer_id, outgoing, answer)
    assert (caught.value.code, caught.value.retry_after_ms) == ("busy", 30)
    assert outgoing.exchange.state is State.DONE


def test_refusals_carry_the_request_id_once_known(alice, bob):
    outgoing = alice.request(Ping())
    bob.receive_request(ALICE.peer_id, outgoing.payload)
    with pytest.raises(ReplayedMessage) as caught:
        bob.receive_request(ALICE.peer_id, outgoing.payload)
    assert caught.value.request_id == outgoing.request_id
    answer = bob.respond_error(caught.value.request_id, caught.value)
    with pytest.raises(RemoteError, match="replayed"):
        alice.receive_response(BOB.peer_id, outgoing, answer)


def test_unreadable_requests_get_an_error_without_id(alice, bob):
    with pytest.raises(MalformedFrame) as caught:
        bob.receive_request(ALICE.peer_id, b"\xc1")
    assert caught.value.request_id is None
    answer = bob.respond_error(None, caught.value)
    envelope = decode_envelope(answer)
    assert (envelope.kind, envelope.request_id, envelope.body["code"]) == (
        Kind.ERROR,
        None,
        "malformed",
    )
    outgoing = alice.request(Ping())
    with pytest.raises(RemoteError, match="malformed"):
        alice.receive_response(BOB.peer_id, outgoing, answer)


def test_requests_signed_by_another_key_are_refused(alice, bob):
    outgoing = alice.request(Ping())
    with pytest.raises(InvalidSignature) as caught:
        bob.receive_request(CAROL.peer_id, outgoing.payload)
    assert caught.value.request_id == outgoing.request_id


def test_answers_signed_by_another_key_break_the_exchange(alice, bob):
    outgoing = alice.request(Ping())
    incoming = bob.receive_request(ALICE.peer_id, outgoing.payload)
    answer = bob.respond(incoming, Pong())
    with pytest.raises(InvalidSignature):
        alice.receive_response(CAROL.peer_id, outgoing, answer)
    assert outgoing.exchange.state is State.BROKEN
    with pytest.raises(LocalProtocolError):
        alice.receive_response(BOB.peer_id, outgoing, answer)


def test_answers_must_match_the_request(alice, bob, clock):
    first = alice.request(Ping())
    second = alice.request(Ping())
    incoming = bob.receive_request(ALICE.peer_id, first.payload)
    answer = bob.respond(incoming, Pong())
    with pytest.raises(UnexpectedMessage, match="answer to request"):
        alice.receive_response(BOB.peer_id, second, answer)

    hello = alice.request(Hello())
    with pytest.raises(UnexpectedMessage, match="does not answer"):
        alice.receive_response(BOB.peer_id, hello, _pong_for(hello, clock))


def _pong_for(outgoing, clock, version=SMP_1_0):
    return Envelope.sign(
        BOB,
        version=version,
        message_type="pong",
        request_id=outgoing.request_id,
        kind=Kind.RESPONSE,
        timestamp_ms=clock.now_ms(),
        nonce=bytes(16),
        grant=None,
        body={},
    ).encode()


def test_a_request_where_an_answer_belongs_is_unexpected(alice, bob):
    outgoing = alice.request(Ping())
    with pytest.raises(UnexpectedMessage):
        alice.receive_response(BOB.peer_id, outgoing, bob.request(Ping()).payload)


def test_an_answer_where_a_request_belongs_is_unexpected(alice, bob):
    outgoing = alice.request(Ping())
    incoming = bob.receive_request(ALICE.peer_id, outgoing.payload)
    answer = bob.respond(incoming, Pong())
    with pytest.raises(UnexpectedMessage):
        alice.receive_request(BOB.peer_id, answer)


def test_unknown_request_types(bob, clock):
    payload = Envelope.sign(
        ALICE,
        version=SMP_1_0,
        message_type="teleport",
        request_id=9,
        kind=Kind.REQUEST,
        timestamp_ms=NOW,
        nonce=bytes(16),
        grant=None,
        body={},
    ).encode()
    with pytest.raises(UnknownMessageType) as caught:
        bob.receive_request(ALICE.peer_id, payload)
    assert caught.value.request_id == 9


def test_minor_versions_negotiate_down(clock):
    newer = endpoint(ALICE, clock, versions=(Version(major=1, minor=3),))
    older = endpoint(BOB, clock)
    outgoing = newer.request(Ping())
    assert decode_envelope(outgoing.payload).version == Version(major=1, minor=3)
    incoming = older.receive_request(ALICE.peer_id, outgoing.payload)
    assert incoming.version == SMP_1_0
    answer = older.respond(incoming, Pong())
    assert decode_envelope(answer).version == SMP_1_0
    assert newer.receive_response(BOB.peer_id, outgoing, answer) == Pong()

    newest = endpoint(BOB, clock, versions=(Version(major=1, minor=5),))
    incoming = newest.receive_request(ALICE.peer_id, newer.request(Ping()).payload)
    assert incoming.version == Version(major=1, minor=3)


def test_refusals_are_written_in_minor_zero_so_any_requester_reads_them(clock):
    requester = endpoint(ALICE, clock, versions=(Version(major=1, minor=3),))
    responder = endpoint(BOB, clock, versions=(Version(major=1, minor=5),))
    outgoing = requester.request(Ping())
    responder.receive_request(ALICE.peer_id, outgoing.payload)
    with pytest.raises(ReplayedMessage) as caught:
        responder.receive_request(ALICE.peer_id, outgoing.payload)
    answer = responder.respond_error(caught.value.request_id, caught.value)
    assert decode_envelope(answer).version == SMP_1_0
    with pytest.raises(RemoteError, match="replayed"):
        requester.receive_response(BOB.peer_id, outgoing, answer)


def test_an_answer_in_a_higher_minor_is_refused(alice, clock):
    outgoing = alice.request(Ping())
    answer = _pong_for(outgoing, clock, version=Version(major=1, minor=1))
    with pytest.raises(UnsupportedVersion):
        alice.receive_response(BOB.peer_id, outgoing, answer)


def test_endpoint_versions_must_be_sensible(clock):
    for versions in [(), (SMP_1_0, Version(major=1, minor=2)), (Version(major=2, minor=0),)]:
        with pytest.raises(ValueError):
            endpoint(ALICE, clock, versions=versions)


def test_rate_limit_is_checked_before_decoding(alice, clock):
    limited = endpoint(BOB, clock, rate_limiter=TokenBucketLimiter(clock, rate_per_s=1, burst=1))
    limited.receive_request(ALICE.peer_id, alice.request(Ping()).payload)
    with pytest.raises(RateLimited) as caught:
        limited.receive_request(ALICE.peer_id, b"not even msgpack")
    assert caught.value.request_id is None and caught.value.retry_after_ms == 1000
    answer = limited.respond_error(None, caught.value)
    assert decode_envelope(answer).body["retry_after_ms"] == 1000


def test_oversized_payloads_are_refused(bob):
    with pytest.raises(FrameTooLarge):
        bob.receive_request(ALICE.peer_id, bytes(5 * 1024 * 1024))


# Local misuse: LocalProtocolError, and the exchange is unchanged


def test_answering_twice(alice, bob):
    incoming = bob.receive_request(ALICE.peer_id, alice.request(Ping()).payload)
    bob.respond(incoming, Pong())
    with pytest.raises(LocalProtocolError):
        bob.respond(incoming, Pong())
    with pytest.raises(LocalProtocolError):
        bob.respond_error(incoming, ErrorMessage(code="internal"))


def test_answering_with_the_wrong_type(alice, bob):
    incoming = bob.receive_request(ALICE.peer_id, alice.request(Ping()).payload)
    for wrong in [BOB_HELLO, ErrorMessage(code="internal")]:
        with pytest.raises(LocalProtocolError):
            bob.respond(incoming, wrong)  # type: ignore[arg-type]
    assert incoming.exchange.state is State.AWAITING_RESPONSE
    bob.respond_error(incoming, ErrorMessage(code="internal", message="handler failed"))
    assert incoming.exchange.state is State.DONE


def test_asking_with_something_that_is_not_a_registered_request(alice):
    for wrong in [Pong(), ErrorMessage(code="internal")]:
        with pytest.raises(LocalProtocolError):
            alice.request(wrong)


def test_sending_an_unregistered_error_code(bob):
    with pytest.raises(LocalProtocolError, match="registry"):
        bob.respond_error(None, ErrorMessage(code="made_up"))


def test_sending_a_grant_out_of_limits(alice):
    with pytest.raises(LocalProtocolError):
        alice.request(Ping(), grant=bytes(64 * 1024 + 1))
    with pytest.raises(LocalProtocolError):
        alice.request(Ping(), grant=b"")


def test_receiving_an_answer_twice(alice, bob):
    outgoing = alice.request(Ping())
    answer = bob.respond(bob.receive_request(ALICE.peer_id, outgoing.payload), Pong())
    alice.receive_response(BOB.peer_id, outgoing, answer)
    with pytest.raises(LocalProtocolError):
        alice.receive_response(BOB.peer_id, outgoing, answer)


# The transition table itself

ALL_MOVES = list(itertools.product(State, Role, Event))


@pytest.mark.parametrize(("state", "emitter", "event"), ALL_MOVES)
@pytest.mark.parametrize("our_role", list(Role))
def test_every_move_follows_the_table(state, emitter, event, our_role):
    exchange = Exchange(our_role)
    exchange.state = state
    expected = TRANSITIONS[state].get((emitter, event))
    if expected is not None:
        exchange.process(emitter, event)
        assert exchange.state is expected
        return
    error = LocalProtocolError if emitter is our_role else UnexpectedMessage
    with pytest.raises(error, match=state.value):
        exchange.process(emitter, event)
    assert exchange.state is state


def test_the_table_covers_every_state_and_ends_in_done():
    assert set(TRANSITIONS) == set(State)
    assert TRANSITIONS[State.DONE] == {} and TRANSITIONS[State.BROKEN] == {}


def test_process_error_breaks_any_exchange():
    exchange = Exchange(Role.REQUESTER)
    exchange.process(Role.REQUESTER, Event.REQUEST)
    exchange.process_error()
    assert exchange.state is State.BROKEN


# Streamed answers (a request type with PART, such as ``ask``)


@pytest.fixture
def streaming(clock):
    from secondme.protocol.access import ACCESS_MESSAGES

    def make(identity):
        return endpoint(identity, clock, registry=ACCESS_MESSAGES)

    return make(ALICE), make(BOB)


def test_a_streamed_answer_is_parts_then_the_response(streaming):
    from secondme.protocol.access import Answer, AnswerPart, Ask

    alice, bob = streaming
    outgoing = alice.request(Ask(question="Where did you go?"))
    incoming = bob.receive_request(ALICE.peer_id, outgoing.payload)
    frames = [bob.respond_part(incoming, AnswerPart(text=t)) for t in ("Lis", "bon")]
    frames.append(bob.respond(incoming, Answer(text="Lisbon", grant_id="ab" * 8, sources=2)))
    received = [alice.receive_response(BOB.peer_id, outgoing, f) for f in frames]
    assert [type(m) for m in received] == [AnswerPart, AnswerPart, Answer]
    assert "".join(m.text for m in received[:2]) == received[2].text
    assert outgoing.exchange.state is State.DONE
    with pytest.raises(LocalProtocolError):
        bob.respond_part(incoming, AnswerPart(text="late"))


def test_an_error_may_end_a_stream(streaming):
    from secondme.protocol.access import AnswerPart, Ask

    alice, bob = streaming
    outgoing = alice.request(Ask(question="Where?"))
    incoming = bob.receive_request(ALICE.peer_id, outgoing.payload)
    part = bob.respond_part(incoming, AnswerPart(text="Li"))
    error = bob.respond_error(incoming, ErrorMessage(code="internal", message="model died"))
    assert isinstance(alice.receive_response(BOB.peer_id, outgoing, part), AnswerPart)
    with pytest.raises(RemoteError, match="model died"):
        alice.receive_response(BOB.peer_id, outgoing, error)


def test_parts_only_for_streamed_requests(streaming):
    from secondme.protocol.access import AnswerPart, Ask

    alice, bob = streaming
    outgoing = alice.request(Ping())
    incoming = bob.receive_request(ALICE.peer_id, outgoing.payload)
    with pytest.raises(LocalProtocolError):
        bob.respond_part(incoming, AnswerPart(text="no"))
    # A part answering a ping is the peer's fault, and breaks the exchange.
    ask = bob.receive_request(ALICE.peer_id, alice.request(Ask(question="q")).payload)
    stray = bob.respond_part(ask, AnswerPart(text="stray"))
    wrong_id = decode_envelope(stray)
    assert wrong_id.message_type == "answer.part"
    forged = Envelope.sign(
        BOB,
        version=wrong_id.version,
        message_type="answer.part",
        request_id=outgoing.request_id,
        kind=Kind.RESPONSE,
        timestamp_ms=wrong_id.timestamp_ms,
        nonce=wrong_id.nonce,
        grant=None,
        body={"text": "stray"},
    ).encode()
    with pytest.raises(UnexpectedMessage):
        alice.receive_response(BOB.peer_id, outgoing, forged)
    assert outgoing.exchange.state is State.BROKEN
