"""Zip members read in memory: unsafe names skipped with a note, bombs and damage refused."""

from __future__ import annotations

import io
import zipfile

import pytest

from secondme.node.core.errors import ParseError
from secondme.node.memory.imports import archive


def make_zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as handle:
        for member, data in members.items():
            handle.writestr(member, data)
    return buffer.getvalue()


def test_wanted_members_are_read_and_others_listed() -> None:
    data = make_zip({"chat/_chat.txt": b"hello", "a.jpg": b"\xff\xd8", "b.opus": b"x"})
    got = archive.members("export.zip", data, lambda n: n.endswith(".txt"))
    assert got.files == {"chat/_chat.txt": b"hello"}
    assert got.others == ("a.jpg", "b.opus")
    assert got.notes == ()
    assert archive.names("export.zip", data) == ["chat/_chat.txt", "a.jpg", "b.opus"]
    assert archive.head("export.zip", data, "chat/_chat.txt", 3) == b"hel"


@pytest.mark.parametrize(
    "bad", ["../../etc/passwd", "/etc/passwd", "a/../../b.txt", "..\\..\\win.ini", "C:/x.txt"]
)
def test_traversal_members_are_skipped_with_one_note(bad: str) -> None:
    data = make_zip({bad: b"evil", "ok.txt": b"fine", "../second.txt": b"evil"})
    got = archive.members("export.zip", data, lambda n: True)
    assert got.files == {"ok.txt": b"fine"}
    assert len(got.notes) == 1
    assert got.notes[0].startswith("export.zip: skipped 2 archive member(s) with unsafe paths")
    assert bad not in archive.names("export.zip", data)


def test_a_bomb_is_refused_before_unpacking() -> None:
    data = make_zip({"bomb.txt": b"\0" * (40 * 1024 * 1024)})
    assert len(data) < 100_000
    with pytest.raises(ParseError, match=r"^bomb\.zip: cannot read zip archive: .*unpacks to"):
        archive.members("bomb.zip", data, lambda n: True)


def test_one_member_inflating_far_beyond_its_size_is_refused_among_large_media() -> None:
    """The whole archive is big enough to allow the total, but one member is a bomb."""
    import random

    media = random.Random(1).randbytes(2 * 1024 * 1024)
    members = {f"media{i}.jpg": media for i in range(3)}
    members["bomb.txt"] = b"a" * (30 * 1024 * 1024)
    data = make_zip(members)
    with pytest.raises(ParseError, match=r"bomb\.txt unpacks to"):
        archive.names("big.zip", data)


def test_member_count_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "MAX_MEMBERS", 5)
    data = make_zip({f"{i}.txt": b"x" for i in range(6)})
    with pytest.raises(ParseError, match=r"^many\.zip: .*holds over 5 files"):
        archive.members("many.zip", data, lambda n: True)


def test_a_member_lying_about_its_size_is_a_note_not_a_crash() -> None:
    data = bytearray(make_zip({"a.txt": b"hello world, hello world", "b.txt": b"fine"}, 0))
    # shrink a.txt's declared size in the central directory: reading it finds more than declared
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("a.txt")
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(b"PK\x01\x02"))
    assert data[central + 46 : central + 51] == b"a.txt"
    data[central + 24 : central + 28] = (info.file_size - 10).to_bytes(4, "little")
    got = archive.members("liar.zip", bytes(data), lambda n: True)
    assert got.files == {"b.txt": b"fine"}
    assert got.notes and got.notes[0].startswith("liar.zip: could not unpack 1 archive member(s)")


@pytest.mark.parametrize(
    "data", [b"", b"PK\x03\x04garbage", b"not a zip at all", make_zip({"a.txt": b"x" * 100})[:60]]
)
def test_corrupt_archives_are_a_parse_error_naming_the_file(data: bytes) -> None:
    with pytest.raises(ParseError, match=r"^broken\.zip: cannot read zip archive"):
        archive.members("broken.zip", data, lambda n: True)


def test_an_encrypted_archive_is_a_parse_error() -> None:
    data = bytearray(make_zip({"secret.txt": b"x"}))
    # set the "encrypted" flag in the local and the central header, as zip tools do with a password
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature) + offset
        data[at] |= 0x1
    with pytest.raises(ParseError, match=r"^locked\.zip: .*encrypted with a password"):
        archive.members("locked.zip", bytes(data), lambda n: True)


def test_is_zip_looks_at_the_magic_only() -> None:
    assert archive.is_zip(make_zip({"a": b"b"}))
    assert archive.is_zip(make_zip({}))
    assert not archive.is_zip(b"[31/12/2023, 21:04:05] A: hi")
