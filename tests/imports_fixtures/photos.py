"""Photos made by the tests: text drawn with a TrueType font, EXIF time and GPS of a real city.

Everything varies with a seed: the words (pronounceable, made of syllables, so no dictionary of
ours is involved), the city (drawn from the packaged city table itself), the time and its UTC
offset. The images are written by Pillow (JPEG, PNG) and pillow-heif (HEIC) in their real formats;
the hostile ones (a truncated JPEG, a PNG header claiming a billion pixels) are built byte by byte.
"""

from __future__ import annotations

import functools
import io
import random
import struct
import subprocess
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageDraw, ImageFont

from secondme.node.memory.imports import places

_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"


@functools.cache
def font_path() -> str | None:
    """A sans TrueType font installed here: fontconfig's choice, else any under /usr/share."""
    try:
        found = subprocess.run(
            ["fc-match", "-f", "%{file}", "sans:style=Regular"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except OSError:
        found = ""
    if found.endswith((".ttf", ".otf")) and Path(found).is_file():
        return found
    fonts = (
        sorted(Path("/usr/share/fonts").rglob("*.ttf")) if Path("/usr/share/fonts").is_dir() else []
    )
    return str(fonts[0]) if fonts else None


def font(size: int) -> ImageFont.FreeTypeFont:
    path = font_path()
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)


def words(seed: int, count: int) -> list[str]:
    """``count`` distinct pronounceable words of 2–4 syllables."""
    rng = random.Random(seed)
    made: list[str] = []
    while len(made) < count:
        word = "".join(
            rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(rng.randint(2, 4))
        )
        if word not in made:
            made.append(word)
    return made


def city(
    seed: int, *, alone_km: float = 5.0, where: Callable[[places.City], bool] | None = None
) -> places.City:
    """A city of the table, drawn by the seed, with no other city within ``alone_km`` (so that
    its own coordinates name it and no neighbour), and for which ``where`` holds."""
    rows = places.cities().rows
    lat = np.radians([row.lat for row in rows])
    lon = np.radians([row.lon for row in rows])
    rng = random.Random(seed)
    while True:
        index = rng.randrange(len(rows))
        if where is not None and not where(rows[index]):
            continue
        p, q = lat[index], lon[index]
        a = np.sin((lat - p) / 2) ** 2 + np.cos(p) * np.cos(lat) * np.sin((lon - q) / 2) ** 2
        km = 2 * places.EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(1.0, a)))
        km[index] = np.inf
        if float(km.min()) > alone_km and rows[index].name:
            return rows[index]


@dataclass(frozen=True, slots=True, kw_only=True)
class Shot:
    """What a made photo holds, for the test to check against."""

    words: tuple[str, ...]
    taken: datetime | None
    offset: str | None
    city: places.City | None


def shot(seed: int, *, words_count: int = 12, located: bool = True, timed: bool = True) -> Shot:
    rng = random.Random(seed * 7919)
    taken = datetime(2015, 1, 1) + timedelta(seconds=rng.randrange(10 * 365 * 86400))
    hours = rng.randint(-11, 13)
    offset = f"{'+' if hours >= 0 else '-'}{abs(hours):02d}:{rng.choice((0, 30)):02d}"
    return Shot(
        words=tuple(words(seed, words_count)),
        taken=taken if timed else None,
        offset=offset if timed else None,
        city=city(seed) if located else None,
    )


def picture(
    text_words: tuple[str, ...], *, size: tuple[int, int] = (1800, 1200), per_line: int = 3
) -> Image.Image:
    """Black words on a light background, ``per_line`` to a line, large and clear (the letters
    scale with the width: 72 px on an 1800 px wide picture with 3 words to a line)."""
    image = Image.new("RGB", size, (246, 244, 238))
    if text_words:
        draw = ImageDraw.Draw(image)
        em = max(12, size[0] * 3 // (25 * per_line))
        lines = [
            " ".join(text_words[i : i + per_line]) for i in range(0, len(text_words), per_line)
        ]
        draw.multiline_text(
            (em, em), "\n".join(lines), font=font(em), fill=(20, 20, 20), spacing=em // 2
        )
    return image


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600, 4)
    return float(degrees), float(minutes), seconds


def exif(shot_: Shot, *, camera: tuple[str, str] | None = ("Google", "Pixel 7")) -> Image.Exif:
    """EXIF as a phone writes it: IFD0 make/model, the Exif IFD's DateTimeOriginal and
    OffsetTimeOriginal, the GPS IFD's degrees/minutes/seconds with N/S and E/W."""
    tags = Image.Exif()
    if camera:
        tags[0x010F], tags[0x0110] = camera
    if shot_.taken is not None:
        inner = tags.get_ifd(ExifTags.IFD.Exif)
        inner[0x9003] = shot_.taken.strftime("%Y:%m:%d %H:%M:%S")
        if shot_.offset:
            inner[0x9011] = shot_.offset
    if shot_.city is not None:
        gps = tags.get_ifd(ExifTags.IFD.GPSInfo)
        gps[0] = b"\x02\x02\x00\x00"
        gps[1] = "N" if shot_.city.lat >= 0 else "S"
        gps[2] = _dms(shot_.city.lat)
        gps[3] = "E" if shot_.city.lon >= 0 else "W"
        gps[4] = _dms(shot_.city.lon)
    return tags


def jpeg(shot_: Shot, **kwargs) -> bytes:
    out = io.BytesIO()
    picture(shot_.words, **kwargs).save(out, "JPEG", quality=90, exif=exif(shot_))
    return out.getvalue()


def png(text_words: tuple[str, ...], **kwargs) -> bytes:
    out = io.BytesIO()
    picture(text_words, **kwargs).save(out, "PNG")
    return out.getvalue()


def heic(shot_: Shot) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    picture(shot_.words).save(out, format="HEIF", quality=90, exif=exif(shot_).tobytes())
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header claiming ``width × height`` pixels, over a tiny compressed body."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * 4096)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", body)
        + _chunk(b"IEND", b"")
    )
