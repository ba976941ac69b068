"""Arbitrary input, whole or one byte at a time, ends in a parse or a RemoteProtocolError: never
in any other exception (the sans-IO promise that lets a node keep serving after garbage)."""

from __future__ import annotations

import contextlib

import msgpack
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


@settings(max_examples=200)
@given(st.data())
def test_mutated_valid_requests(data):
    payload = bytearray(valid_request())
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        position = data.draw(st.integers(min_value=0, max_value=len(payload) - 1))
        action = data.draw(st.sampled_from(["flip", "delete", "insert"]))
        if action == "flip":
            payload[position] ^= data.draw(st.integers(min_value=1, max_value=255))
        elif action == "delete":
            del payload[position]
        else:
            payload.insert(position, data.draw(st.integers(min_value=0, max_value=255)))
    accept_only_parse_or_protocol_error(lambda: bob().receive_request(ALICE.peer_id, payload))


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
