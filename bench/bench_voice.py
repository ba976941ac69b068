"""Speech to text: real-time factor of Whisper tiny.en on 2 cores, beside decoding the audio alone.

A clip of about 30 s is spoken by espeak-ng (sentences from a seed, with pauses, as the tests
make them) and encoded as Ogg/Opus (what WhatsApp and Telegram send) and M4A/AAC (what phone
recorders write). For each, in the same process and on the same cores:

- decode: PyAV alone, the container's samples resampled to 16 kHz mono (``speech.decode``);
- transcribe: the model on the decoded samples (VAD, word timestamps, int8, 2 threads);
- import: ``voice.read`` end to end (decode, transcribe, build the document).

Real-time factor = wall seconds spent / seconds of audio (below 1 is faster than real time),
printed with the CPU seconds (all threads) beside it; each figure is the median of 3 runs after
one warm-up run that also loads the model. The share of the
spoken content words found in the transcript is printed beside it, so a fast figure cannot hide
a broken transcript.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' fixtures
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import report

from secondme.node.memory.imports import voice
from secondme.node.models import speech
from tests.imports_fixtures import voice as fixtures


def median_seconds(func: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median wall-clock and CPU seconds of ``repeat`` calls: on a shared machine the CPU time
    says what the work costs when other processes take the cores away."""
    walls, cpus = [], []
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        func()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def figure(spent: tuple[float, float], seconds: float) -> str:
    wall, cpu = spent
    return f"{wall:6.2f} s   RTF {wall / seconds:.3f}   (CPU {cpu:6.2f} s, {cpu / seconds:.3f}/s)"


def clip(seconds: float, seed: int) -> fixtures.Recording:
    """Sentences with 1.5 s pauses until the recording lasts at least ``seconds``."""
    count = 2
    while True:
        spoken = fixtures.recording(seed, sentences=count, pause=1.5)
        if spoken.duration >= seconds:
            return spoken
        count += max(1, round(count * (seconds / spoken.duration - 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the clip")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for the model")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > args.threads:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.threads])

    spoken = clip(args.seconds, seed=5)
    expected = [w for s in spoken.sentences for w in fixtures.content_words(s)]
    transcriber = speech.Transcriber(threads=args.threads)
    started = time.perf_counter()
    transcriber.transcribe(fixtures.silence(1, seed=1))
    load = time.perf_counter() - started

    for suffix, demuxer in (("ogg", "ogg"), ("m4a", "mov")):
        data = fixtures.convert(spoken.wav, suffix)
        name = f"bench.{suffix}"
        audio = speech.decode(data, name=name, fmt=demuxer)
        transcript = transcriber.transcribe(audio)  # warm-up
        text = " ".join(s.text for s in transcript.segments)
        heard = set(fixtures.content_words(text))
        recall = sum(w in heard for w in expected) / len(expected)

        decode = median_seconds(
            lambda d=data, n=name, f=demuxer: speech.decode(d, name=n, fmt=f), args.repeat
        )
        transcribe = median_seconds(lambda a=audio: transcriber.transcribe(a), args.repeat)
        whole = median_seconds(
            lambda d=data, n=name: voice.read(n, d, transcriber=transcriber), args.repeat
        )
        seconds = audio.seconds
        report(
            f"voice: {seconds:.1f} s of speech as {suffix} ({len(data) / 1024:.0f} KiB), "
            f"{args.threads} threads, median of {args.repeat}",
            [
                ("model load (first use)", f"{load:6.2f} s"),
                ("decode alone (PyAV)", figure(decode, seconds)),
                ("transcribe (decoded)", figure(transcribe, seconds)),
                ("voice.read (all)", figure(whole, seconds)),
                ("content words heard", f"{recall:.0%} of {len(expected)}"),
                ("segments", f"{len(transcript.segments)}"),
            ],
        )


if __name__ == "__main__":
    main()
