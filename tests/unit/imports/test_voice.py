"""Voice notes: sniffing containers, transcripts with offsets and recording times, bad input.

Speech is made here with espeak-ng and transcribed by the real shipped model (Whisper tiny.en on
the CPU); one transcriber serves the module. espeak is robotic and tiny.en small: over 8 seeds x
4 containers, tiny.en caught 57-100% of a sentence's content words (median 100%), at least 71% of
a recording's, and put each sentence within 0.35 s of where it was placed; the bars below are
60% of a recording's content words and 1.5 s.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest

from secondme.node.core.errors import ParseError
from secondme.node.memory.imports import detect, voice
from secondme.node.memory.timeline import to_datetime
from secondme.node.models import speech
from tests.imports_fixtures import voice as fixtures
from tests.unit.test_parsers import handmade_pdf, make_docx

pytestmark = pytest.mark.skipif(not fixtures.espeak_available(), reason="espeak-ng is missing")

SEEDS = (11, 12)
RECALL_BAR = 0.6
OFFSET_SLACK = 1.5
LINE = re.compile(r"\[(?:\d+:)?\d{1,2}:\d{2}\] \S")


@pytest.fixture(scope="module")
def transcriber() -> speech.Transcriber:
    return speech.Transcriber(threads=2)


@pytest.fixture(scope="module", params=SEEDS)
def spoken(request: pytest.FixtureRequest) -> fixtures.Recording:
    return fixtures.recording(request.param)


def recorded_at(seed: int) -> datetime:
    """A recording time between 2020 and 2021, to the minute, from a seed."""
    return datetime(2020, 1, 1, tzinfo=UTC) + timedelta(
        minutes=random.Random(seed).randrange(10**6)
    )


def recall(expected: list[str], text: str) -> float:
    heard = set(fixtures.content_words(text))
    return sum(word in heard for word in expected) / len(expected)


# --- sniffing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "demuxer"),
    [("ogg", "ogg"), ("mp3", "mp3"), ("m4a", "mov"), ("flac", "flac"), ("wav", "wav")],
)
def test_each_container_is_claimed_by_its_bytes(suffix: str, demuxer: str) -> None:
    wav = fixtures.silence(1, seed=1)
    data = wav if suffix == "wav" else fixtures.convert(wav, suffix)
    assert voice.container(f"note.{suffix}", data) == demuxer
    assert voice.sniff("renamed.bin", data) == (suffix != "m4a" or data[8:12] == b"M4A ")
    assert detect.importer_for(f"note.{suffix}", data) is voice.read


def test_sniffing_any_prefix_of_a_recording_never_fails() -> None:
    wav = fixtures.silence(1, seed=5)
    for suffix in ("wav", "ogg", "mp3", "m4a", "flac"):
        data = wav if suffix == "wav" else fixtures.convert(wav, suffix)
        for end in range(80):
            assert voice.sniff(f"x.{suffix}", data[:end]) in (True, False)


def test_mp3_without_id3_tag_is_claimed_by_its_frame_header() -> None:
    data = fixtures.convert(fixtures.silence(1, seed=2), "mp3")
    assert data.startswith(b"ID3")
    tag_size = 10 + sum(b << (7 * (3 - i)) for i, b in enumerate(data[6:10]))
    bare = data[tag_size:]
    assert bare[0] == 0xFF
    assert voice.container("x.mp3", bare) == "mp3"


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + b"\x00\x00\x00\x08free"


def test_generic_mp4_is_claimed_only_under_an_audio_name() -> None:
    data = fixtures.convert(fixtures.silence(1, seed=3), "mp4")
    assert data[8:12] == b"isom"
    assert voice.sniff("Recording 12.m4a", data)
    assert not voice.sniff("holiday.mp4", data)
    assert voice.sniff("x.bin", ftyp(b"M4A ", b"M4A ", b"mp42", b"isom"))


@pytest.mark.parametrize("name", ["IMG_0001.heic", "IMG_0001.m4a", "photo.avif"])
def test_heif_pictures_are_never_claimed(name: str) -> None:
    assert not voice.sniff(name, ftyp(b"heic", b"mif1", b"heic"))
    assert not voice.sniff(name, ftyp(b"mif1", b"mif1", b"heic", b"isom"))
    assert not voice.sniff(name, ftyp(b"avif", b"avif", b"mif1", b"mp42"))


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("notes.txt", b"Buy milk.\n\nCall the plumber about the kitchen tap."),
        ("notes.md", "# Trip\n\nPack the \u00fcber-warm jacket.".encode()),
        ("data.json", json.dumps({"a": [1, 2, 3], "b": "RIFF WAVE OggS ID3"}).encode()),
        ("table.csv", b"name,when\nAnn,2024-01-02\n"),
        ("scan.pdf", handmade_pdf(["My passport number ends in 4471."])),
        ("recipes.docx", make_docx("Family recipes")),
        ("ID3.txt", b"ID3 is the tag an mp3 starts with"),
        ("latin.txt", "\u00ff\u00fb caf\u00e9".encode("latin-1")),
    ],
)
def test_ordinary_files_are_not_claimed(name: str, data: bytes) -> None:
    assert not voice.sniff(name, data)


# --- transcripts --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["wav", "ogg", "mp3", "m4a"])
def test_speech_becomes_a_transcript_with_offsets(
    transcriber: speech.Transcriber, spoken: fixtures.Recording, suffix: str
) -> None:
    when = recorded_at(len(spoken.wav))
    data = (
        spoken.wav
        if suffix == "wav"
        else fixtures.convert(spoken.wav, suffix, creation_time=when.isoformat())
    )
    imported = voice.read(f"Voice 0{suffix}.{suffix}", data, transcriber=transcriber)

    (doc,) = imported.documents
    assert doc.kind == "voice"
    assert doc.key == "voice:" + hashlib.sha256(data).hexdigest()
    assert doc.title == f"Voice 0{suffix}.{suffix}"
    lines = doc.text.split("\n")
    assert lines == [s.text for s in doc.segments]
    assert all(LINE.match(line) for line in lines), lines
    assert all(doc.text[s.start : s.end] == s.text for s in doc.segments)
    assert [s.at for s in doc.segments] == sorted(s.at for s in doc.segments)
    assert all(type(s.at) is float for s in doc.segments)  # not numpy's: it goes to SQLite

    expected = [w for s in spoken.sentences for w in fixtures.content_words(s)]
    assert recall(expected, doc.text) >= RECALL_BAR, (spoken.sentences, doc.text)
    for sentence, start in zip(spoken.sentences, spoken.starts, strict=True):
        words = set(fixtures.content_words(sentence))
        best = max(doc.segments, key=lambda s: len(words & set(fixtures.content_words(s.text))))
        assert best.at is not None and abs(best.at - start) <= OFFSET_SLACK, (start, best)

    words = len(doc.text.split()) - len(lines)
    assert imported.found.what == "voice note"
    assert f"{words} words" in imported.found.line()
    assert voice.length(spoken.duration) in imported.found.line()
    if suffix == "wav":
        assert doc.date is None and all(s.time is None for s in doc.segments)
    else:
        assert to_datetime(doc.date) == when
        assert when.date().isoformat() in imported.found.line()
        for segment in doc.segments:
            offset = (to_datetime(segment.time) - when).total_seconds()
            assert abs(offset - segment.at) <= 1


@pytest.mark.slow
def test_progress_is_reported_as_segments_arrive(transcriber: speech.Transcriber) -> None:
    spoken = fixtures.recording(SEEDS[1], sentences=3)
    heard: list[float] = []
    transcript = transcriber.transcribe(spoken.wav, heard.append, name="long.wav")
    assert transcript.language == "en"
    assert abs(transcript.duration - spoken.duration) < 0.1
    assert len(heard) >= 2 and heard[-1] == 1.0
    assert heard == sorted(heard) and all(0 <= f <= 1 for f in heard)
    assert heard[0] < 1.0

    class Cancelled(Exception):
        pass

    def cancel(fraction: float) -> None:
        raise Cancelled

    with pytest.raises(Cancelled):
        transcriber.transcribe(spoken.wav, cancel, name="long.wav")


@pytest.mark.slow
@pytest.mark.parametrize(("suffix", "seed"), [("wav", 1), ("ogg", 2)])
def test_silence_is_a_document_that_says_no_speech_was_found(
    transcriber: speech.Transcriber, suffix: str, seed: int
) -> None:
    wav = fixtures.silence(12, seed=seed)
    data = wav if suffix == "wav" else fixtures.convert(wav, suffix)
    imported = voice.read(f"pocket.{suffix}", data, transcriber=transcriber)
    (doc,) = imported.documents
    assert doc.text == "" and doc.segments == ()
    assert doc.notes == ("no speech was found in 12 s",)
    assert imported.found.line() == "voice note: 12 s, no speech"


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["mp3", "flac"])
def test_a_file_cut_short_is_read_as_far_as_it_goes(
    transcriber: speech.Transcriber, suffix: str
) -> None:
    spoken = fixtures.recording(SEEDS[0])
    data = fixtures.convert(spoken.wav, suffix)
    imported = voice.read(f"cut.{suffix}", data[: len(data) * 2 // 3], transcriber=transcriber)
    (note,) = imported.notes
    assert note.startswith(f"cut.{suffix}: the file ends early: ")
    first = fixtures.content_words(spoken.sentences[0])
    assert recall(first, imported.documents[0].text) >= RECALL_BAR


class StubTranscriber:
    """Says what it is told, at the offsets it is told: the document's shape without the model."""

    def __init__(self, *said: tuple[float, str]) -> None:
        self.said = said

    def transcribe(
        self, audio: speech.Audio, progress: speech.Progress | None = None, *, name: str = ""
    ) -> speech.Transcript:
        segments = tuple(
            speech.Utterance(start=at, end=at + 2, text=text) for at, text in self.said
        )
        return speech.Transcript(segments=segments, duration=audio.seconds, language="en")


@pytest.mark.parametrize(
    ("tag", "date"),
    [
        ("2023-07-14T18:02:03.000000Z", "2023-07-14T18:02:03+00:00"),
        ("2023-07-14T20:02:03+02:00", "2023-07-14T18:02:03+00:00"),  # MP4 keeps UTC
        ("1904-01-01T00:00:00.000000Z", None),  # MP4's zero: the recorder did not know
        ("1970-01-01T00:00:00.000000Z", None),
        ("2023-07-14", None),  # a day alone: no times to add offsets to
        ("not a time", None),
        (None, None),
    ],
)
def test_recording_time_dates_the_document_and_each_segment(tag: str | None, date: str) -> None:
    data = fixtures.convert(fixtures.silence(2, seed=4), "m4a", creation_time=tag)
    stub = StubTranscriber((0.4, "Hello there."), (75.2, "Later on."), (3725.0, "Much later."))
    imported = voice.read("memo.m4a", data, transcriber=stub)  # type: ignore[arg-type]
    (doc,) = imported.documents
    assert doc.text == "[0:00] Hello there.\n[1:15] Later on.\n[1:02:05] Much later."
    assert [s.at for s in doc.segments] == [0.4, 75.2, 3725.0]
    assert doc.date == date
    if date is None:
        assert all(s.time is None for s in doc.segments)
        assert imported.found.line() == "voice note: 2 s, 6 words"
    else:
        start = to_datetime(date)
        assert [to_datetime(s.time) for s in doc.segments] == [
            start, start + timedelta(seconds=75), start + timedelta(seconds=3725)
        ]  # fmt: skip
        assert imported.found.line() == f"voice note: {date[:10]}, 2 s, 6 words"


# --- bad input ----------------------------------------------------------------------------------


def corrupted(data: bytes, seed: int, keep: int) -> bytes:
    """The first ``keep`` bytes (the magic) kept, everything after them random."""
    rng = random.Random(seed)
    return data[:keep] + bytes(rng.randrange(256) for _ in range(len(data) - keep))


@pytest.fixture(scope="module")
def encoded() -> dict[str, bytes]:
    wav = fixtures.recording(SEEDS[1], sentences=1).wav
    return {"wav": wav} | {s: fixtures.convert(wav, s) for s in ("ogg", "mp3", "m4a", "flac")}


@pytest.mark.parametrize("suffix", ["wav", "ogg", "mp3", "m4a", "flac"])
@pytest.mark.parametrize("damage", ["header only", "random after magic"])
def test_undecodable_audio_is_a_parse_error_naming_the_file(
    transcriber: speech.Transcriber, encoded: dict[str, bytes], suffix: str, damage: str
) -> None:
    data = encoded[suffix]
    data = data[:40] if damage == "header only" else corrupted(data, seed=len(suffix), keep=12)
    with pytest.raises(ParseError, match=rf"^broken\.{suffix}: "):
        voice.read(f"broken.{suffix}", data, transcriber=transcriber)


def test_an_m4a_cut_before_its_index_is_a_parse_error(
    transcriber: speech.Transcriber, encoded: dict[str, bytes]
) -> None:
    data = encoded["m4a"][: len(encoded["m4a"]) // 2]  # the index (moov) is written last
    with pytest.raises(ParseError, match=r"^cut\.m4a: not a readable recording"):
        voice.read("cut.m4a", data, transcriber=transcriber)


@pytest.mark.parametrize("suffix", ["mp3", "m4a", "ogg", "opus", "wav"])
@pytest.mark.parametrize("seed", [1, 2])
def test_random_bytes_and_empty_files_are_parse_errors(
    transcriber: speech.Transcriber, suffix: str, seed: int
) -> None:
    junk = random.Random(seed).randbytes(4096)
    with pytest.raises(ParseError, match=rf"^junk\.{suffix}: not a recording"):
        voice.read(f"junk.{suffix}", junk, transcriber=transcriber)
    with pytest.raises(ParseError, match=rf"^empty\.{suffix}: the file is empty"):
        voice.read(f"empty.{suffix}", b"", transcriber=transcriber)


def test_a_wav_header_claiming_gigabytes_is_refused_quickly(
    transcriber: speech.Transcriber,
) -> None:
    header = fixtures.wav_bytes(fixtures.np.zeros(0, dtype="int16"), 16000)
    huge = header[:4] + (2**32 - 1).to_bytes(4, "little") + header[8:40]
    huge += (2**32 - 100).to_bytes(4, "little")
    with pytest.raises(ParseError, match=r"^huge\.wav: "):
        voice.read("huge.wav", huge, transcriber=transcriber)


# --- the model ----------------------------------------------------------------------------------


def test_the_model_is_the_shipped_one_and_shared() -> None:
    folder = speech.model_dir()
    assert folder.parent.name == speech.MODEL_PACKAGE and (folder / "model.bin").is_file()
    assert speech.shared() is speech.shared()


@pytest.mark.slow
def test_nothing_is_fetched_from_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a network connection was attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    fresh = speech.Transcriber(threads=1)
    spoken = fixtures.recording(SEEDS[0], sentences=1)
    results: list[speech.Transcript] = []
    threads = [
        threading.Thread(target=lambda: results.append(fresh.transcribe(spoken.wav)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and results[0] == results[1]
    assert recall(fixtures.content_words(spoken.sentences[0]), results[0].segments[0].text) > 0


@pytest.mark.parametrize(
    ("seconds", "clock", "length"),
    [(0, "0:00", "0 s"), (7.6, "0:07", "8 s"), (72, "1:12", "1 min 12 s"), (600, "10:00", "10 min"),
     (3723, "1:02:03", "1 h 2 min"), (7200, "2:00:00", "2 h")],
)  # fmt: skip
def test_offsets_and_lengths_read_as_a_person_says_them(
    seconds: float, clock: str, length: str
) -> None:
    assert voice.clock(seconds) == clock
    assert voice.length(seconds) == length
