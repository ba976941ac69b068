"""Media imports: OCR seconds per photo beside Pillow decoding alone, and place look-ups.

1. Photos, each kind made here with Pillow (the tests' generator: words drawn in a TrueType
   font, EXIF time and GPS of a city from the packaged table): a 1800x1200 JPEG with 12 words,
   the same as HEIC, a 1280x800 PNG screenshot with 30 words, a 12-megapixel (4032x3024) JPEG of
   a page with 120 words (8 to a line), and a 12-megapixel JPEG of a scene without writing. Per
   kind, medians of ``--runs`` (default 5): Pillow decoding alone (open + load, the floor any
   importer pays), ``photos.read`` whole (decode, EXIF, place, OCR, the document), and
   Tesseract's part of it.
2. Places: reading the city table once (the first photo with GPS pays it), then look-ups per
   second.

Tesseract runs as the distribution ships it (OpenMP threads as it decides); the figures are for
this machine's cores, printed with them.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pillow_heif
from common import report
from PIL import Image, ImageDraw

from secondme.node.memory.imports import photos, places
from secondme.node.models.ocr import OcrText, Tesseract
from tests.imports_fixtures import photos as fx


class TimedTesseract(Tesseract):
    """Tesseract that keeps how long its last run took."""

    last: OcrText | None = None

    def read(self, image: Image.Image) -> OcrText:
        self.last = super().read(image)
        return self.last


def scene(size: tuple[int, int], seed: int) -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", size, (110, 150, 90))
    draw = ImageDraw.Draw(image)
    for _ in range(300):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x, y, x + rng.randrange(20, 400), y + rng.randrange(20, 400)), fill=colour)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def samples() -> dict[str, bytes]:
    small = fx.shot(1, words_count=12)
    page = fx.shot(2, words_count=120)
    return {
        "JPEG 1800x1200, 12 words": fx.jpeg(small),
        "HEIC 1800x1200, 12 words": fx.heic(small),
        "PNG 1280x800, 30 words": fx.png(tuple(fx.words(3, 30)), size=(1280, 800)),
        "JPEG 4032x3024 page, 120 words": fx.jpeg(page, size=(4032, 3024), per_line=8),
        "JPEG 4032x3024 scene, no text": scene((4032, 3024), 4),
    }


def decode(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.load()


def median_s(func, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(data: bytes, ocr: TimedTesseract, runs: int) -> str:
    """Decoding alone, the whole import, and Tesseract's part of it: medians of ``runs``."""
    decoding = median_s(lambda: decode(data), runs)
    ocr_times: list[float] = []
    words = 0

    def whole() -> None:
        nonlocal words
        photos.read("bench", data, ocr=ocr)
        assert ocr.last is not None
        ocr_times.append(ocr.last.seconds)
        words = ocr.last.words

    total = median_s(whole, runs)
    return (
        f"decode {decoding * 1000:7.1f} ms   read {total:6.2f} s   "
        f"OCR {statistics.median(ocr_times):6.2f} s   {words} words read"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median)")
    args = parser.parse_args()

    started = time.perf_counter()
    places.cities()
    table_s = time.perf_counter() - started
    rng = random.Random(9)
    points = [(rng.uniform(-60, 70), rng.uniform(-180, 180)) for _ in range(20_000)]
    started = time.perf_counter()
    for lat, lon in points:
        places.place(lat, lon)
    lookups = len(points) / (time.perf_counter() - started)

    pillow_heif.register_heif_opener()
    ocr = TimedTesseract()
    rows = [(label, measure(data, ocr, args.runs)) for label, data in samples().items()]
    version = subprocess.run(
        ["tesseract", "--version"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    report(
        f"photos: medians of {args.runs} on {os.cpu_count()} cores, "
        f"{version[0] if version else 'tesseract'}",
        rows,
    )
    report(
        f"places: {len(places.cities().rows):,} cities",
        [
            ("table read once", f"{table_s:.2f} s"),
            ("look-ups", f"{lookups:,.0f} /s"),
        ],
    )


if __name__ == "__main__":
    main()
