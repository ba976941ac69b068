"""Arbitrary input, whole or one byte at a time, ends in a parse or a RemoteProtocolError: never
in any other exception (the sans-IO promise that lets a node keep serving after garbage)."""

from __future__ import annotations

import contextlib

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secondme.protocol.clock import ManualClock
from secondme.protocol.envelope import SMP_1_0, Envelope, Kind, decode_envelope
from secondme.protocol.errors import RemoteError, RemoteProtocolError
from secondme.protocol.framing import FrameDecoder, encode_frame
from secondme.protocol.identity import Identity
from secondme.protocol.messages import Hello, Ping
from secondme.protocol.replay import ReplayWindow
from secondme.protocol.session import SmpEndpoint

NOW = 1_700_000_000_000
ALICE = Identity.from_seed(bytes([1]) * 32)
BOB = Identity.from_seed(bytes([2]) * 32)
SMALL_FRAMES = 64 * 1024


def bob() -> SmpEndpoint:
    clock = ManualClock(NOW)
    return SmpEndpoint(BOB, clock, ReplayWindow(clock))


def alice() -> SmpEndpoint:
    clock = ManualClock(NOW)
    return SmpEndpoint(ALICE, clock, ReplayWindow(clock))


def frames_of(data: bytes, chunk_sizes: list[int]) -> list[bytes]:
    """Feed ``data`` in chunks of the given sizes (the rest at the end); return the frames."""
    decoder = FrameDecoder(max_size=SMALL_FRAMES)
    frames = []
    position = 0
    for size in [*chunk_sizes, len(data)]:
        decoder.receive_data(data[position : position + size])
        position += size
        while (frame := decoder.next_frame()) is not None:
            frames.append(frame)
    decoder.end_of_stream()
    return frames


def accept_only_parse_or_protocol_error(action) -> None:
    """Run ``action``; a RemoteProtocolError is an answer, anything else fails the test."""
    with contextlib.suppress(RemoteProtocolError):
        action()


@given(st.binary(max_size=512))
def test_frame_decoder_whole(data):
    accept_only_parse_or_protocol_error(lambda: frames_of(data, []))


@given(st.binary(max_size=256))
def test_frame_decoder_one_byte_at_a_time(data):
    accept_only_parse_or_protocol_error(lambda: frames_of(data, [1] * len(data)))


@given(st.binary(max_size=512), st.lists(st.integers(min_value=0, max_value=64), max_size=20))
def test_frame_decoder_any_chunking_gives_the_same_result(data, chunks):
    def outcome(chunk_sizes):
        try:
            return frames_of(data, chunk_sizes)
        except RemoteProtocolError as exc:
            return exc.code

    assert outcome(chunks) == outcome([])


@given(st.lists(st.binary(max_size=300), max_size=4))
def test_frame_decoder_reads_back_what_was_framed(payloads):
    stream = b"".join(encode_frame(payload) for payload in payloads)
    assert frames_of(stream, [1] * len(stream)) == payloads


@given(st.binary(max_size=1024))
def test_envelope_decoding_of_arbitrary_bytes(data):
    accept_only_parse_or_protocol_error(lambda: decode_envelope(data))
    accept_only_parse_or_protocol_error(lambda: bob().receive_request(ALICE.peer_id, data))


@given(st.binary(max_size=256))
def test_requests_fed_one_byte_at_a_time(data):
    endpoint = bob()

    def run():
        for frame in frames_of(encode_frame(data) + data, [1] * (len(data) * 2 + 2)):
            endpoint.receive_request(ALICE.peer_id, frame)

    accept_only_parse_or_protocol_error(run)


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=4) | st.integers(0, 9), children, max_size=4)
    ),
    max_leaves=20,
)


@given(msgpack_values)
def test_envelope_decoding_of_arbitrary_msgpack(value):
    data = msgpack.packb(value, use_bin_type=True)
    accept_only_parse_or_protocol_error(lambda: bob().receive_request(ALICE.peer_id, data))


envelope_maps = st.fixed_dictionaries(
    {
        key: msgpack_values | st.just(value)
        for key, value in {
            "v": [1, 0],
            "t": "ping",
            "id": 1,
            "k": "request",
            "ts": NOW,
            "n": bytes(16),
            "g": None,
            "b": {},
            "s": bytes(64),
        }.items()
    },
    optional={"x": msgpack_values},
)


@given(envelope_maps)
def test_envelope_shaped_maps_with_arbitrary_values(wire):
    data = msgpack.packb(wire, use_bin_type=True)
    accept_only_parse_or_protocol_error(lambda: bob().receive_request(ALICE.peer_id, data))


def valid_request() -> bytes:
    return alice().request(Hello(display_name="Alice"), grant=b"grant").payload


class _NotTheSame(Exception):
    pass


def _pairs(pairs: list) -> dict:
    if len({key for key, _ in pairs}) != len(pairs):
        raise _NotTheSame("a key twice")
    return dict(pairs)


def same_values(a: object, b: object) -> bool:
    """Equal, and of the same types all the way down (``True == 1`` and ``1.0 == 1`` in Python,
    but not in SMP)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_values(a[k], b[k]) for k in a)  # type: ignore[attr-defined]
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same_values, a, b))  # type: ignore[arg-type]
    return a == b


def another_encoding_of(payload: bytes, original: bytes) -> bool:
    """Whether ``payload`` holds exactly the values of ``original`` in another msgpack encoding
    (a wider integer, a longer string header, keys in another order), read by plain msgpack,
    not by the code under test. Such a payload is the same request: the signature covers the
    canonical encoding of the values, not the bytes on the wire (README section 3)."""
    try:
        decoded = msgpack.unpackb(
            payload, raw=False, strict_map_key=False, object_pairs_hook=_pairs
        )
    except Exception:  # msgpack's many errors for bytes that are not one value
        return False
    return same_values(decoded, msgpack.unpackb(original, raw=False))


@settings(max_examples=300)
@given(st.data())
def test_mutated_valid_requests(data):
    """A mutated request is refused with a RemoteProtocolError, except where the mutation is
    provably a no-op: the bytes still decode to the very same values (then the signature still
    holds and it is the same request, accepted as it was). Every other change alters a signed
    value, or the signature, or the encoding's rules, and is refused."""
    original = valid_request()
    payload = bytearray(original)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        position = data.draw(st.integers(min_value=0, max_value=max(0, len(payload) - 1)))
        action = data.draw(st.sampled_from(["flip", "delete", "insert"]))
        if action == "flip" and payload:
            payload[position] ^= data.draw(st.integers(min_value=1, max_value=255))
        elif action == "delete" and payload:
            del payload[position]
        else:
            payload.insert(position, data.draw(st.integers(min_value=0, max_value=255)))
    if another_encoding_of(bytes(payload), original):
        incoming = bob().receive_request(ALICE.peer_id, bytes(payload))
        assert incoming.envelope == decode_envelope(original)
        return
    with pytest.raises(RemoteProtocolError):
        bob().receive_request(ALICE.peer_id, bytes(payload))


def test_a_request_in_another_encoding_of_the_same_values_is_the_same_request():
    """The no-op the test above allows, shown once: the envelope's keys in reverse order."""
    original = valid_request()
    wire = msgpack.unpackb(original, raw=False)
    reencoded = msgpack.packb({key: wire[key] for key in reversed(wire)}, use_bin_type=True)
    assert reencoded != original and another_encoding_of(reencoded, original)
    assert bob().receive_request(ALICE.peer_id, reencoded).envelope == decode_envelope(original)


@given(st.binary(max_size=512))
def test_answers_of_arbitrary_bytes(data):
    requester = alice()
    outgoing = requester.request(Ping())
    with contextlib.suppress(RemoteProtocolError, RemoteError):
        requester.receive_response(BOB.peer_id, outgoing, data)


@given(st.binary(min_size=1, max_size=64), st.integers(min_value=0, max_value=2**64 - 1))
def test_envelopes_survive_encoding(grant, request_id):
    envelope = Envelope.sign(
        ALICE,
        version=SMP_1_0,
        message_type="ping",
        request_id=request_id,
        kind=Kind.REQUEST,
        timestamp_ms=NOW,
        nonce=bytes(16),
        grant=grant,
        body={"payload": grant},
    )
    decoded = decode_envelope(envelope.encode())
    assert decoded == envelope
    decoded.verify(ALICE.peer_id)
