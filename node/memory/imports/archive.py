"""Members of a zip archive read safely in memory: exports often come zipped (WhatsApp, ChatGPT).

Nothing is ever extracted to disk, so a member's name is only a label; still, a name that is
absolute or climbs out with ``..`` is a sign of a hostile archive and is skipped with one note.
Bombs are refused before anything is decompressed, by the sizes the central directory declares:
the whole archive may unpack to at most :data:`MAX_INFLATION` times its size plus
:data:`SLACK` (the rule :func:`~secondme.node.memory.parsers._check_zip` applies to DOCX), no
member may inflate more than :data:`MAX_MEMBER_RATIO` times (plus :data:`SLACK`), and an archive
may hold at most :data:`MAX_MEMBERS` entries. A member that lies about its size cannot get past
it either: reads stop one byte after the declared size and such a member is refused.

An archive that is not a zip, is damaged, or is encrypted is a :class:`ParseError` naming the
file; a single member that cannot be read is a note, and the other members are still returned.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from secondme.node.core.errors import ParseError
from secondme.node.memory.parsers import short_reason

MAX_INFLATION = 50
SLACK = 16 * 1024 * 1024
"""The whole archive may unpack to 50 times its size plus 16 MiB (as a DOCX may)."""
MAX_MEMBER_RATIO = 200
"""One member may unpack to 200 times its compressed size (plus the slack); text compresses
well below 20 times, only a bomb goes beyond."""
MAX_MEMBERS = 50_000
"""More entries than this is an archive built to exhaust, not an export."""
MAX_READ = 512 * 1024 * 1024
"""The members an import reads from one archive may hold at most this much together (the
rest of an export's zip, its media, is never read)."""

_UNREADABLE = (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError, EOFError)
"""What reading one damaged, encrypted or unsupported member raises."""

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


@dataclass(frozen=True, slots=True, kw_only=True)
class Members:
    """What :func:`members` read: the wanted members' bytes, the other members' names, notes."""

    files: dict[str, bytes]
    """Wanted members by their name in the archive, in archive order."""
    others: tuple[str, ...]
    """Safe names of the members that were not wanted (media beside a chat, say)."""
    notes: tuple[str, ...]
    """One line per thing skipped: unsafe names, members that could not be read."""


def is_zip(data: bytes) -> bool:
    """Whether the bytes start like a zip archive (a local header, or an empty archive)."""
    return data[:4] in _ZIP_MAGIC


def unsafe_name(member: str) -> bool:
    """A name that would land outside the folder it was extracted to: absolute, a drive, or
    with a ``..`` step (either slash counts)."""
    parts = member.replace("\\", "/").split("/")
    drive = len(parts[0]) >= 2 and parts[0][1] == ":"
    return member.startswith(("/", "\\")) or ".." in parts or drive


def _open(name: str, data: bytes) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """The archive and its entries, after the checks that need no decompression."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise ParseError(f"{name}: cannot read zip archive: not a valid zip file") from exc
    if len(infos) > MAX_MEMBERS:
        archive.close()
        raise ParseError(f"{name}: cannot read zip archive: it holds over {MAX_MEMBERS:,} files")
    unpacked = sum(info.file_size for info in infos)
    if unpacked > len(data) * MAX_INFLATION + SLACK:
        archive.close()
        raise ParseError(f"{name}: cannot read zip archive: it unpacks to {unpacked:,} bytes")
    for info in infos:
        if info.file_size > info.compress_size * MAX_MEMBER_RATIO + SLACK:
            archive.close()
            raise ParseError(
                f"{name}: cannot read zip archive: {info.filename} unpacks to "
                f"{info.file_size:,} bytes from {info.compress_size:,}"
            )
        if info.flag_bits & 0x1:
            archive.close()
            raise ParseError(f"{name}: cannot read zip archive: it is encrypted with a password")
    return archive, infos


def _files(infos: list[zipfile.ZipInfo]) -> tuple[list[zipfile.ZipInfo], list[str]]:
    """The entries that are files with safe names, and the unsafe names."""
    safe, unsafe = [], []
    for info in infos:
        if info.is_dir():
            continue
        (unsafe if unsafe_name(info.filename) else safe).append(info)
    return safe, [info.filename for info in unsafe]


def _unsafe_note(name: str, unsafe: list[str]) -> str:
    shown = ", ".join(repr(n[:80]) for n in unsafe[:3]) + (", ..." if len(unsafe) > 3 else "")
    return f"{name}: skipped {len(unsafe)} archive member(s) with unsafe paths ({shown})"


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """At most ``limit`` bytes of a member; more than it declared is a lie and refused."""
    with archive.open(info) as stream:
        data = stream.read(min(limit, info.file_size) + 1)
    if len(data) > info.file_size:
        raise zipfile.BadZipFile("member is larger than it declares")
    return data[:limit]


def names(name: str, data: bytes) -> list[str]:
    """The safe names of the files in the archive (for sniffing); ParseError as :func:`members`."""
    archive, infos = _open(name, data)
    with archive:
        return [info.filename for info in _files(infos)[0]]


def head(name: str, data: bytes, member: str, size: int = 4096) -> bytes:
    """The first ``size`` bytes of one member (for sniffing); b"" if it cannot be read."""
    archive, infos = _open(name, data)
    with archive:
        for info in _files(infos)[0]:
            if info.filename == member:
                try:
                    return _read(archive, info, size)
                except _UNREADABLE:
                    return b""
    return b""


def members(name: str, data: bytes, wanted: Callable[[str], bool]) -> Members:
    """The bytes of the members whose (safe) names ``wanted`` accepts, read in memory.

    Raises :class:`ParseError` naming ``name`` for an archive that is not a zip, is damaged,
    encrypted, or a bomb. Unsafe names and members that cannot be decompressed are skipped,
    each kind with one line in ``notes``.
    """
    archive, infos = _open(name, data)
    files: dict[str, bytes] = {}
    others: list[str] = []
    failed: list[str] = []
    with archive:
        safe, unsafe = _files(infos)
        for info in safe:
            if not wanted(info.filename):
                others.append(info.filename)
                continue
            if info.filename in files:
                continue
            if sum(map(len, files.values())) + info.file_size > MAX_READ:
                raise ParseError(
                    f"{name}: the files to read in the archive hold over "
                    f"{MAX_READ // 1048576} MB of text; split the export"
                )
            try:
                files[info.filename] = _read(archive, info, info.file_size)
            except _UNREADABLE as exc:
                failed.append(f"{info.filename} ({short_reason(exc)})")
    notes = []
    if unsafe:
        notes.append(_unsafe_note(name, unsafe))
    if failed:
        shown = "; ".join(failed[:3]) + ("; ..." if len(failed) > 3 else "")
        notes.append(f"{name}: could not unpack {len(failed)} archive member(s): {shown}")
    return Members(files=files, others=tuple(others), notes=tuple(notes))


def basename(member: str) -> str:
    """The last step of a member's name."""
    return PurePosixPath(member.replace("\\", "/")).name
