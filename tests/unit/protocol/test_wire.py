import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from secondme.protocol.errors import MalformedFrame
from secondme.protocol.wire import (
    MAX_ARRAY_LEN,
    MAX_DEPTH,
    MAX_KEY_LEN,
    MAX_MAP_LEN,
    MAX_STR_LEN,
    check_structure,
    pack_canonical,
    unpack_strict,
)

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text(max_size=40)
    | st.binary(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


def pack(value):
    return msgpack.packb(value, use_bin_type=True)


@given(values)
def test_canonical_encoding_round_trips(value):
    assert unpack_strict(pack_canonical(value)) == value


@given(values)
def test_canonical_encoding_ignores_map_order(value):
    """Any encoding of a value re-encodes to the one canonical form."""
    assert pack_canonical(unpack_strict(pack(value))) == pack_canonical(value)


def test_canonical_maps_are_sorted_by_utf8_bytes():
    assert pack_canonical({"b": 1, "a": 2, "é": 3, "B": 4}) == pack(
        {"B": 4, "a": 2, "b": 1, "é": 3}
    )


def test_canonical_tuples_are_arrays_and_bytes_are_bin():
    assert pack_canonical((b"x", "x")) == bytes.fromhex("92c40178a178")


@pytest.mark.parametrize("value", [1.5, {1: 2}, {"a": {3}}, 2**64, -(2**63) - 1, bytearray()])
def test_canonical_refuses_what_smp_cannot_carry(value):
    with pytest.raises(TypeError):
        pack_canonical(value)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty", b""),
        ("unused byte", b"\xc1"),
        ("float32", b"\xca\x00\x00\x00\x00"),
        ("float64", bytes.fromhex("cb") + bytes(8)),
        ("fixext", b"\xd4\x01\x00"),
        ("ext8", b"\xc7\x01\x01\x00"),
        ("timestamp", b"\xd6\xff\x00\x00\x00\x00"),
        ("int key", b"\x81\x01\x02"),
        ("bin key", b"\x81\xc4\x01a\x02"),
        ("truncated str", b"\xa5abc"),
        ("truncated length", b"\xda\x00"),
        ("truncated uint", b"\xcd\x01"),
        ("truncated array", b"\x93\x01\x02"),
        ("array longer than the data", b"\xdd\xff\xff\xff\xff"),
        ("trailing byte", b"\x01\x02"),
    ],
)
def test_structure_refusals(name, data):
    with pytest.raises(MalformedFrame):
        check_structure(data)
    with pytest.raises(MalformedFrame):
        unpack_strict(data)


def nested(depth):
    value = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_depth_limit():
    assert unpack_strict(pack(nested(MAX_DEPTH))) == nested(MAX_DEPTH)
    with pytest.raises(MalformedFrame, match="nested"):
        unpack_strict(pack(nested(MAX_DEPTH + 1)))


def test_value_count_limit():
    with pytest.raises(MalformedFrame, match="values"):
        unpack_strict(pack([[None] * 5] * 16_000))


@pytest.mark.parametrize(
    "value",
    [
        "x" * (MAX_STR_LEN + 1),
        [None] * (MAX_ARRAY_LEN + 1),
        {str(i): None for i in range(MAX_MAP_LEN + 1)},
        {"k" * (MAX_KEY_LEN + 1): None},
    ],
    ids=["string", "array", "map", "key"],
)
def test_length_limits(value):
    with pytest.raises(MalformedFrame):
        unpack_strict(pack(value))


def test_values_at_the_limits_are_accepted():
    value = {"k" * MAX_KEY_LEN: ["x" * 100] * MAX_ARRAY_LEN}
    assert unpack_strict(pack(value)) == value


def test_duplicate_keys_are_refused():
    with pytest.raises(MalformedFrame, match="twice"):
        unpack_strict(b"\x82\xa1a\x01\xa1a\x02")


def test_invalid_utf8_is_refused():
    with pytest.raises(MalformedFrame, match="UTF-8"):
        unpack_strict(b"\xa2\xff\xfe")
