"""Voice notes and recordings (mp3, m4a, ogg/opus, wav, flac) → a transcript with time offsets.

Theory of operation: :func:`sniff` recognises the container by its first bytes (an ID3 tag or an
MPEG/ADTS frame header, ``OggS``, ``RIFF…WAVE``, ``fLaC``, or an ISO BMFF ``ftyp`` box with an
audio brand); the same answer names FFmpeg's demuxer, so decoding never probes. An ``ftyp`` box
alone is not enough: HEIC photos and MP4 videos have one too, so only audio brands (``M4A ``…)
are claimed, or a generic brand (``isom``, ``mp42``) under an audio suffix such as ``.m4a``.

:func:`read` transcribes on the machine (:mod:`secondme.node.models.speech`) and makes one
document per recording, keyed by the hash of its bytes (a recording has no other identity), one
line per segment, ``[1:07] what was said``, each segment carrying ``at``, its offset in seconds,
so a citation can point at the second where it was said. Where the recording states when it was
made (the container's ``creation_time``), that is the document's date and each segment's time is
that moment plus the offset. A recording with no speech in it is a document with no text and a
note that says so; a file that cannot be decoded at all is a :class:`ParseError` naming it.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import PurePath

from secondme.node.core.errors import ParseError
from secondme.node.memory.imports.found import Found, Imported
from secondme.node.memory.parsers import ParsedDocument, TextBuilder, clean_title
from secondme.node.memory.timeline import parse_time, to_datetime
from secondme.node.models import speech

AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
"""``ftyp`` brands that mean sound (iTunes audio, Flash audio): claimed whatever the name."""

GENERIC_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"3gp4", b"3gp5", b"3gp6"}
)
"""``ftyp`` brands any MP4 may carry (video too): claimed only under an audio suffix."""

PICTURE_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"}
)
"""HEIF/AVIF brands: a picture, never ours, even with an audio suffix."""

AUDIO_SUFFIXES = frozenset({".m4a", ".mp4a", ".m4b", ".aac", ".3ga"})
"""Names under which a generic MP4 is a sound recording (Android recorders write ``isom``)."""

EPOCH_PLACEHOLDERS = ("1904-01-01", "1970-01-01")
"""``creation_time`` values recorders write when they do not know the time (MP4's and Unix's
zero): no recording time at all."""

_HEAD = 4096
"""Bytes :func:`sniff` reads: enough for two MPEG frames (the longest is 2,881 bytes)."""


def container(name: str, data: bytes) -> str | None:
    """FFmpeg's demuxer for these bytes, or None when they are no audio this module reads."""
    head = data[:_HEAD]
    if _id3_tag(head) or _mpeg_frame(head):
        return "mp3"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"fLaC"):
        return "flac"
    if _adts_frame(head):
        return "aac"
    if head[4:8] == b"ftyp" and _audio_brands(name, head[:64]):
        return "mov"
    return None


def _id3_tag(head: bytes) -> bool:
    """An ID3v2 tag header: ``ID3``, a major version 2-4, and a size in 7-bit bytes."""
    return (
        len(head) >= 10
        and head.startswith(b"ID3")
        and 2 <= head[3] <= 4
        and head[4] != 0xFF
        and all(b < 0x80 for b in head[6:10])
    )


def _mpeg_frame(head: bytes) -> bool:
    """Two MPEG audio frames back to back: a lone valid header is too likely in other data
    (``ÿû`` starts a Latin-1 text and a valid MP3 header alike)."""
    first = _mpeg_frame_length(head)
    return first is not None and _mpeg_frame_length(head[first:]) is not None


def _mpeg_frame_length(head: bytes) -> int | None:
    """The length of the MPEG audio frame whose header starts ``head``, or None for no header."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    version, layer = (head[1] >> 3) & 0b11, (head[1] >> 1) & 0b11
    bitrate_index, rate_index, padding = head[2] >> 4, (head[2] >> 2) & 0b11, (head[2] >> 1) & 1
    if version == 0b01 or layer == 0b00 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    mpeg1 = version == 0b11
    kbps = _MPEG_KBPS[(mpeg1, layer if mpeg1 or layer == 0b11 else 0b10)][bitrate_index - 1]
    rate = _MPEG_RATES[rate_index] >> {0b11: 0, 0b10: 1, 0b00: 2}[version]
    if layer == 0b11:
        return (12 * kbps * 1000 // rate + padding) * 4
    return (144 if mpeg1 or layer == 0b10 else 72) * kbps * 1000 // rate + padding


_MPEG_KBPS = {
    (True, 0b11): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 0b10): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 0b01): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 0b11): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 0b10): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
"""Bitrates (kbit/s) by (MPEG-1?, layer bits) for indexes 1-14; MPEG-2/2.5 layers II and III
share one row."""

_MPEG_RATES = (44100, 48000, 32000)
"""MPEG-1 sample rates; MPEG-2 halves them, MPEG-2.5 quarters them."""


def _adts_frame(head: bytes) -> bool:
    """Two AAC ADTS frames (raw ``.aac``) back to back, for the same reason as MP3."""
    first = _adts_frame_length(head)
    return first is not None and _adts_frame_length(head[first:]) is not None


def _adts_frame_length(head: bytes) -> int | None:
    if len(head) < 7 or head[0] != 0xFF or head[1] & 0xF6 != 0xF0 or (head[2] >> 2) & 0xF > 12:
        return None
    length = ((head[3] & 0b11) << 11) | (head[4] << 3) | (head[5] >> 5)
    return length if length >= 7 else None


def _audio_brands(name: str, head: bytes) -> bool:
    size = int.from_bytes(head[:4], "big")
    end = min(len(head), size if size >= 16 else 16)
    major = head[8:12]
    brands = {major} | {head[i : i + 4] for i in range(16, end - 3, 4)}
    if brands & PICTURE_BRANDS:
        return False
    if major in AUDIO_BRANDS:
        return True
    return PurePath(name).suffix.lower() in AUDIO_SUFFIXES and bool(
        brands & (GENERIC_BRANDS | AUDIO_BRANDS)
    )


def sniff(name: str, data: bytes) -> bool:
    return container(name, data) is not None


def read(
    name: str,
    data: bytes,
    progress: speech.Progress | None = None,
    *,
    transcriber: speech.Transcriber | None = None,
) -> Imported:
    """The recording transcribed. ``progress`` hears the fraction done (for a background job);
    ``transcriber`` defaults to the process's shared one."""
    fmt = container(name, data)
    if fmt is None:
        if not data:
            raise ParseError(f"{name}: the file is empty")
        raise ParseError(f"{name}: not a recording this node reads (mp3, m4a, ogg, wav, flac)")
    audio = speech.decode(data, name=name, fmt=fmt)
    transcript = (transcriber or speech.shared()).transcribe(audio, progress, name=name)
    recorded = _recording_time(audio.creation_time)
    doc = _document(name, data, transcript, recorded)
    words = sum(len(s.text.split()) for s in transcript.segments)
    details = [length(transcript.duration)]
    details.append(f"{words:,} {'word' if words == 1 else 'words'}" if words else "no speech")
    when = parse_time(recorded) if recorded else None
    found = Found(what="voice note", first=when, last=when, details=tuple(details))
    return Imported(found=found, documents=(doc,), notes=_cut_short(name, audio))


def _document(
    name: str, data: bytes, transcript: speech.Transcript, recorded: datetime | None
) -> ParsedDocument:
    builder = TextBuilder()
    for segment in transcript.segments:
        said = recorded + timedelta(seconds=segment.start) if recorded else None
        builder.add(
            f"[{clock(segment.start)}] {segment.text}",
            sep="\n",
            time=parse_time(said) if said else None,
            at=round(segment.start, 2),
        )
    title = clean_title(PurePath(name).name)
    doc = builder.build("voice", title, parse_time(recorded) if recorded else None)
    notes = () if doc.segments else (f"no speech was found in {length(transcript.duration)}",)
    return replace(doc, notes=notes, key="voice:" + hashlib.sha256(data).hexdigest())


def _recording_time(tag: str | None) -> datetime | None:
    """The ``creation_time`` tag as a moment; None for a missing, unreadable or placeholder one,
    or for a bare day (segment times would be made up)."""
    if not tag or tag.strip().startswith(EPOCH_PLACEHOLDERS):
        return None
    moment = parse_time(tag.strip())
    return to_datetime(moment) if moment and "T" in moment else None


def _cut_short(name: str, audio: speech.Audio) -> tuple[str, ...]:
    """A note when far less sound could be decoded than the header promises (a cut-off file)."""
    declared = audio.declared_seconds
    if declared is None or declared - audio.seconds < max(1.0, 0.1 * declared):
        return ()
    return (
        f"{name}: the file ends early: {clock(audio.seconds)} of {clock(declared)} could be read",
    )


def clock(seconds: float) -> str:
    """``0:07``, ``12:34``, ``1:02:03``: an offset as a player shows it."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def length(seconds: float) -> str:
    """``45 s``, ``1 min 12 s``, ``1 h 3 min``: a duration as a person says it."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"
