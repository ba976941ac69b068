import pytest

from secondme.protocol.errors import FrameTooLarge, MalformedFrame
from secondme.protocol.framing import MAX_FRAME_SIZE, FrameDecoder, encode_frame, encode_uvarint


@pytest.mark.parametrize(
    ("value", "encoded"),
    [(0, "00"), (1, "01"), (127, "7f"), (128, "8001"), (300, "ac02"), (16384, "808001")],
)
def test_uvarint_known_encodings(value, encoded):
    assert encode_uvarint(value).hex() == encoded


def test_uvarint_refuses_negative():
    with pytest.raises(ValueError):
        encode_uvarint(-1)


@pytest.mark.parametrize("size", [0, 1, 127, 128, 16_383, 16_384, 100_000])
@pytest.mark.parametrize("bytewise", [False, True])
def test_frames_round_trip(size, bytewise):
    payload = bytes(i % 251 for i in range(size))
    frame = encode_frame(payload)
    decoder = FrameDecoder()
    chunks = [frame[i : i + 1] for i in range(len(frame))] if bytewise else [frame]
    frames = []
    for chunk in chunks:
        decoder.receive_data(chunk)
        while (got := decoder.next_frame()) is not None:
            frames.append(got)
    assert frames == [payload]
    decoder.end_of_stream()
    assert decoder.buffered == 0


def test_two_frames_in_one_chunk():
    decoder = FrameDecoder()
    decoder.receive_data(encode_frame(b"one") + encode_frame(b"two"))
    assert decoder.next_frame() == b"one"
    decoder.end_of_stream()  # a whole frame still buffered is not a truncation
    assert decoder.next_frame() == b"two"
    assert decoder.next_frame() is None


def test_encode_refuses_oversized_payload():
    with pytest.raises(FrameTooLarge):
        encode_frame(bytes(11), max_size=10)


def test_oversized_prefix_is_refused_before_the_payload():
    decoder = FrameDecoder()
    with pytest.raises(FrameTooLarge):
        decoder.receive_data(encode_uvarint(MAX_FRAME_SIZE + 1))


def test_non_minimal_prefix_is_malformed():
    with pytest.raises(MalformedFrame):
        FrameDecoder().receive_data(b"\x85\x00")


def test_prefix_of_nine_continuation_bytes_is_malformed():
    decoder = FrameDecoder()
    decoder.receive_data(b"\x80" * 8)
    with pytest.raises(MalformedFrame):
        decoder.receive_data(b"\x80")


def test_first_chunk_may_not_carry_unbounded_data():
    """The buffer bound holds on the call that also reads the prefix."""
    decoder = FrameDecoder(max_size=10)
    with pytest.raises(FrameTooLarge):
        decoder.receive_data(encode_frame(b"x" * 10) + bytes(30))


def test_later_chunks_may_not_carry_unbounded_data():
    decoder = FrameDecoder(max_size=10)
    decoder.receive_data(encode_uvarint(10))
    with pytest.raises(FrameTooLarge):
        decoder.receive_data(bytes(40))


def test_end_of_stream_inside_a_prefix_is_malformed():
    decoder = FrameDecoder()
    decoder.receive_data(b"\x80")
    with pytest.raises(MalformedFrame):
        decoder.end_of_stream()


def test_end_of_stream_inside_a_payload_is_malformed():
    decoder = FrameDecoder()
    decoder.receive_data(encode_frame(b"hello")[:-1])
    assert decoder.next_frame() is None
    with pytest.raises(MalformedFrame):
        decoder.end_of_stream()


def test_end_of_an_empty_stream_is_fine():
    FrameDecoder().end_of_stream()
