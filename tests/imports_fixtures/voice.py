"""Spoken recordings made for the tests: sentences from a seed, said by espeak-ng, with pauses.

A :class:`Recording` is a WAV file (what ``espeak-ng -w`` writes: 16-bit mono) holding a second
of silence, the first sentence, a pause, then the second sentence and a tail, and knows where each
sentence starts; :func:`convert` re-encodes it with PyAV (FFmpeg inside the wheel) into the
containers phones write: Ogg/Opus (WhatsApp, Telegram), MP3, M4A/AAC (iPhone, Android), FLAC.
The seed picks the words, the voice (American or British) and the speed, so no two seeds sound
alike; the words are ordinary English ones in simple sentences, the kind a voice note holds.
"""

from __future__ import annotations

import io
import random
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

NOUNS = (
    "garden house window river market kitchen doctor teacher brother sister table letter morning "
    "evening winter summer train station bridge village forest mountain coffee bread apples "
    "ticket money office meeting weekend holiday weather dinner family children neighbour "
    "hospital library computer telephone picture camera bottle chair shoes jacket"
).split()
ADJECTIVES = (
    "old yellow quiet heavy bright small large green warm cold early late happy tired busy "
    "empty famous careful simple strange"
).split()
VERBS = (
    "opened painted carried cleaned visited bought watched borrowed finished repaired ordered "
    "found moved closed called"
).split()
PLACES = ("near the", "behind the", "inside the", "across the", "beside the")
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
FUNCTION_WORDS = frozenset({"the", "a", "on", "near", "behind", "inside", "across", "beside"})

SAMPLE_WIDTH = 2


@dataclass(frozen=True, slots=True)
class Recording:
    wav: bytes
    sentences: tuple[str, ...]
    starts: tuple[float, ...]
    """Seconds into the recording where each sentence begins."""
    duration: float


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def sentence(rng: random.Random) -> str:
    """``The old gardener painted the yellow window near the bridge on Tuesday.``"""
    return (
        f"The {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(VERBS)} the "
        f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(PLACES)} "
        f"{rng.choice(NOUNS)} on {rng.choice(DAYS)}."
    )


def content_words(text: str) -> list[str]:
    """The words of a sentence a listener must catch: all but articles and prepositions."""
    words = ["".join(c for c in w.lower() if c.isalpha()) for w in text.split()]
    return [w for w in words if w and w not in FUNCTION_WORDS]


def speak(text: str, *, voice: str, speed: int) -> tuple[np.ndarray, int]:
    """espeak-ng's samples (int16) and rate for ``text``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out), "--", text],
            check=True,
            capture_output=True,
            timeout=60,
        )
        with wave.open(str(out)) as spoken:
            rate = spoken.getframerate()
            samples = np.frombuffer(spoken.readframes(spoken.getnframes()), dtype=np.int16)
    return samples, rate


def recording(seed: int, *, sentences: int = 2, pause: float = 2.5, lead: float = 1.0) -> Recording:
    """Sentences said with ``pause`` seconds between them, after ``lead`` seconds of silence."""
    rng = random.Random(seed)
    voice = rng.choice(("en-us", "en-gb"))
    speed = rng.randrange(140, 171, 5)
    texts = tuple(sentence(rng) for _ in range(sentences))
    pieces: list[np.ndarray] = []
    starts: list[float] = []
    rate, position = 22050, 0
    for number, text in enumerate(texts):
        samples, rate = speak(text, voice=voice, speed=speed)
        gap = np.zeros(int((lead if number == 0 else pause) * rate), dtype=np.int16)
        pieces += [gap, samples]
        position += len(gap)
        starts.append(position / rate)
        position += len(samples)
    pieces.append(np.zeros(int(lead * rate), dtype=np.int16))
    samples = np.concatenate(pieces)
    return Recording(
        wav=wav_bytes(samples, rate),
        sentences=texts,
        starts=tuple(starts),
        duration=len(samples) / rate,
    )


def silence(seconds: float, *, seed: int, rate: int = 16000, noise_db: float = -60.0) -> bytes:
    """A WAV of room tone: white noise ``noise_db`` below full scale, no speech."""
    rng = np.random.default_rng(seed)
    level = 32767 * 10 ** (noise_db / 20)
    samples = np.clip(rng.normal(0, level, int(seconds * rate)), -32768, 32767).astype(np.int16)
    return wav_bytes(samples, rate)


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(SAMPLE_WIDTH)
        file.setframerate(rate)
        file.writeframes(samples.astype("<i2").tobytes())
    return out.getvalue()


CONTAINERS = {
    "ogg": ("ogg", "libopus", 48000),
    "opus": ("ogg", "libopus", 48000),
    "mp3": ("mp3", "libmp3lame", None),
    "m4a": ("ipod", "aac", None),
    "mp4": ("mp4", "aac", None),
    "flac": ("flac", "flac", None),
}
"""Suffix → (FFmpeg muxer, encoder, sample rate it needs): ``ipod`` writes an ``M4A `` brand,
``mp4`` the generic ``isom`` an Android recorder writes."""


def convert(wav: bytes, suffix: str, *, creation_time: str | None = None) -> bytes:
    """The WAV re-encoded into the container ``suffix`` names, tagged with ``creation_time``."""
    muxer, codec, rate = CONTAINERS[suffix]
    out = io.BytesIO()
    with av.open(io.BytesIO(wav)) as source, av.open(out, "w", format=muxer) as target:
        if creation_time:
            target.metadata["creation_time"] = creation_time
        audio = source.streams.audio[0]
        stream = target.add_stream(codec, rate=rate or audio.rate)
        stream.layout = "mono"
        for frame in source.decode(audio):
            frame.pts = None
            for packet in stream.encode(frame):
                target.mux(packet)
        for packet in stream.encode(None):
            target.mux(packet)
    return out.getvalue()
