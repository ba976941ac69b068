"""msgpack as SMP 1 uses it: a strict reader and a canonical writer.

The reader walks the bytes once *before* building any object (:func:`check_structure`), because
msgpack-python can bound the length of each string, binary, array and map, but not the nesting
depth, nor the number of objects one payload expands to (a 4 MiB payload of empty arrays would
become four million lists), nor refuse floats, extension types or non-string map keys. Only
bytes that pass the walk are handed to ``msgpack.unpackb`` (with the same limits, ``raw=False``
and ``strict_map_key``), and a map that names one key twice is refused rather than letting the
last value win, so one payload can never mean two different things to two implementations.

The writer (:func:`pack_canonical`) gives every value exactly one encoding, which is what
signatures are computed over (see ``smp-spec/README.md``, "Canonical encoding"):

- integers in the shortest msgpack form of their sign (positive fixint, uint 8/16/32/64 for
  values >= 0; negative fixint, int 8/16/32/64 for values < 0);
- text as str (fixstr, str 8/16/32, UTF-8), bytes as bin (bin 8/16/32), shortest header;
- arrays and maps with the shortest header; map keys are strings, sorted by their UTF-8 bytes;
- nil, false, true as themselves; no floats and no extension types anywhere.

The reader raises :class:`MalformedFrame` on bad input and nothing else; the writer raises
``TypeError`` for a value SMP cannot carry (a float, a set, a non-string key), which is a bug of
the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import msgpack

from secondme.protocol.errors import MalformedFrame
from secondme.protocol.framing import MAX_FRAME_SIZE

Value: TypeAlias = Any
"""What SMP msgpack decodes to: None, bool, int, str, bytes, list of Value, dict str -> Value."""

MAX_DEPTH = 16
"""Containers nested in one payload, the envelope's own map included."""
MAX_ITEMS = 65_536
"""Values in one payload, counting every key, value, container and element."""
MAX_STR_LEN = 1024 * 1024
"""Bytes in one string (UTF-8)."""
MAX_BIN_LEN = MAX_FRAME_SIZE
"""Bytes in one binary value (the frame bounds it anyway)."""
MAX_ARRAY_LEN = 16_384
"""Elements in one array."""
MAX_MAP_LEN = 1_024
"""Key/value pairs in one map."""
MAX_KEY_LEN = 64
"""Bytes in one map key (keys are strings)."""

_WIDTH_OF_SCALAR = {
    0xC0: 0, 0xC2: 0, 0xC3: 0,  # nil, false, true
    0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8,  # uint 8/16/32/64
    0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8,  # int 8/16/32/64
}  # fmt: skip
_STR_LENGTH_WIDTH = {0xD9: 1, 0xDA: 2, 0xDB: 4}
_BIN_LENGTH_WIDTH = {0xC4: 1, 0xC5: 2, 0xC6: 4}
_ARRAY_LENGTH_WIDTH = {0xDC: 2, 0xDD: 4}
_MAP_LENGTH_WIDTH = {0xDE: 2, 0xDF: 4}
_FLOATS = frozenset({0xCA, 0xCB})
_EXTENSIONS = frozenset({0xC7, 0xC8, 0xC9, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8})


def _read_uint(data: bytes, pos: int, width: int) -> tuple[int, int]:
    end = pos + width
    if end > len(data):
        raise MalformedFrame("msgpack ends inside a length")
    return int.from_bytes(data[pos:end], "big"), end


def _skip(data: bytes, pos: int, length: int) -> int:
    end = pos + length
    if end > len(data):
        raise MalformedFrame("msgpack ends inside a value")
    return end


def check_structure(data: bytes) -> None:
    """Check that ``data`` is one msgpack value within SMP's limits, building no objects.

    Refuses truncation, trailing bytes, the unused byte 0xc1, floats, extension types,
    non-string map keys, and anything over the ``MAX_*`` limits above.
    """
    pos = 0
    items = 0
    # One entry per open container: [values still expected, is a map]. A map of n pairs
    # expects 2n values, and the next value is a key while that count is even. The bottom
    # entry stands for the document, which is one value.
    open_containers: list[list[Any]] = [[1, False]]
    while open_containers:
        innermost = open_containers[-1]
        if innermost[0] == 0:
            open_containers.pop()
            continue
        is_key = innermost[1] and innermost[0] % 2 == 0
        innermost[0] -= 1
        items += 1
        if items > MAX_ITEMS:
            raise MalformedFrame(f"more than {MAX_ITEMS} values in one payload")
        if pos >= len(data):
            raise MalformedFrame("msgpack ends before a value")
        tag = data[pos]
        pos += 1

        if 0xA0 <= tag <= 0xBF or tag in _STR_LENGTH_WIDTH:
            if tag in _STR_LENGTH_WIDTH:
                length, pos = _read_uint(data, pos, _STR_LENGTH_WIDTH[tag])
            else:
                length = tag & 0x1F
            limit = MAX_KEY_LEN if is_key else MAX_STR_LEN
            if length > limit:
                raise MalformedFrame(f"a {'key' if is_key else 'string'} over {limit} bytes")
            pos = _skip(data, pos, length)
            continue
        if is_key:
            raise MalformedFrame("map keys must be strings")

        if tag <= 0x7F or tag >= 0xE0:
            continue
        if tag in _WIDTH_OF_SCALAR:
            pos = _skip(data, pos, _WIDTH_OF_SCALAR[tag])
        elif tag in _BIN_LENGTH_WIDTH:
            length, pos = _read_uint(data, pos, _BIN_LENGTH_WIDTH[tag])
            if length > MAX_BIN_LEN:
                raise MalformedFrame(f"a binary value over {MAX_BIN_LEN} bytes")
            pos = _skip(data, pos, length)
        elif tag <= 0x9F or tag in _ARRAY_LENGTH_WIDTH or tag in _MAP_LENGTH_WIDTH:
            is_map = tag <= 0x8F or tag in _MAP_LENGTH_WIDTH  # fixmap is 0x80-0x8f
            if tag <= 0x9F:
                count = tag & 0x0F
            else:
                width = (_MAP_LENGTH_WIDTH if is_map else _ARRAY_LENGTH_WIDTH)[tag]
                count, pos = _read_uint(data, pos, width)
            if count > (MAX_MAP_LEN if is_map else MAX_ARRAY_LEN):
                raise MalformedFrame(f"a{' map' if is_map else 'n array'} with {count} entries")
            values = 2 * count if is_map else count
            if values > len(data) - pos:
                raise MalformedFrame("msgpack ends before the container's values")
            if len(open_containers) > MAX_DEPTH:
                raise MalformedFrame(f"containers nested more than {MAX_DEPTH} deep")
            open_containers.append([values, is_map])
        elif tag in _FLOATS:
            raise MalformedFrame("floats are not allowed in SMP")
        elif tag in _EXTENSIONS:
            raise MalformedFrame("msgpack extension types are not allowed in SMP")
        else:
            raise MalformedFrame(f"byte 0x{tag:02x} is not a msgpack type")
    if pos != len(data):
        raise MalformedFrame(f"{len(data) - pos} bytes after the msgpack value")


def _map_without_duplicates(pairs: list[tuple[str, Value]]) -> dict[str, Value]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise MalformedFrame("a map names the same key twice")
    return result


def unpack_strict(data: bytes) -> Value:
    """Decode one msgpack value under SMP's rules; raises :class:`MalformedFrame`."""
    check_structure(data)
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            use_list=True,
            object_pairs_hook=_map_without_duplicates,
            max_str_len=MAX_STR_LEN,
            max_bin_len=MAX_BIN_LEN,
            max_array_len=MAX_ARRAY_LEN,
            max_map_len=MAX_MAP_LEN,
            max_ext_len=0,
        )
    except UnicodeDecodeError as exc:
        raise MalformedFrame("a string is not valid UTF-8") from exc
    except (msgpack.UnpackException, ValueError) as exc:
        raise MalformedFrame(f"not valid msgpack: {exc}") from exc


def _canonical(value: Value) -> Value:
    if value is None or isinstance(value, bool | str | bytes):
        return value
    if isinstance(value, int):
        if not -(2**63) <= value < 2**64:
            raise TypeError(f"integer {value} does not fit in 64 bits")
        return value
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"map key {key!r} is not a string")
        return {
            key: _canonical(value[key]) for key in sorted(value, key=lambda k: k.encode("utf-8"))
        }
    raise TypeError(f"{type(value).__name__} cannot be encoded in SMP")


def pack_canonical(value: Value) -> bytes:
    """The one canonical encoding of ``value``; raises ``TypeError`` on what SMP cannot carry.

    Tuples encode as arrays and any mapping as a map, so frozen message fields can be passed
    as they are.
    """
    return msgpack.packb(_canonical(value), use_bin_type=True)
