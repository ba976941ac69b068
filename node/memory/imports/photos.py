"""Photos (JPEG, PNG, HEIC/HEIF) → a document of when and where they were taken and their text.

Theory of operation: a photo is recognised by its first bytes (JPEG ``FF D8 FF``, PNG's
signature, an ISO-BMFF ``ftyp`` box with a HEIF brand), never by its name alone. Pillow opens
it (HEIF through pillow-heif's opener, registered once), restricted to the format the bytes
claimed; an image that claims more pixels than Pillow's decompression-bomb limit, or that is
damaged, is a :class:`ParseError` naming the file. EXIF gives the time it was taken
(``DateTimeOriginal`` with ``OffsetTimeOriginal`` where the camera wrote one) and the GPS
position, which :mod:`.places` names offline; Tesseract (:mod:`secondme.node.models.ocr`) reads
the text in it, on a grayscale copy no larger than :data:`OCR_MAX_SIDE`.

A photo is its content: its key is ``photo:`` and the SHA-256 of its bytes, so the same picture
under another name is the same document. The text opens with one sentence of what is known
("Photo taken 2024-06-01 14:03 near Lisbon, Lisbon, PT.") followed by the text read in it, one
segment per paragraph, every segment carrying the time it was taken. A photo with neither text
nor EXIF is still a document ("Photo IMG_1.jpg, no text found.") so that it is listed; a missing
Tesseract or an OCR that fails keeps time and place and says so in one note.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
from datetime import datetime
from pathlib import PurePath

import pillow_heif
from PIL import ExifTags, Image

from secondme.node.core.errors import ModelError, ParseError
from secondme.node.memory.imports import places
from secondme.node.memory.imports.found import Found, Imported
from secondme.node.memory.parsers import ParsedDocument, TextBuilder, clean_title, short_reason
from secondme.node.models.ocr import Tesseract

OCR_MAX_SIDE = 2560
"""The longer side of the copy Tesseract reads: enough for a page photographed whole, and the
time OCR takes grows with the pixels."""

_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"heif"})

_EXIF_DATETIME_ORIGINAL = 0x9003
_EXIF_OFFSET_TIME_ORIGINAL = 0x9011
_IFD0_DATETIME = 0x0132
_IFD0_MAKE = 0x010F
_IFD0_MODEL = 0x0110
_IFD0_ORIENTATION = 0x0112
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
"""EXIF orientation → the turn that makes the picture upright (as ``ImageOps.exif_transpose``)."""
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4


def _format(data: bytes) -> str | None:
    """The Pillow format the first bytes claim, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "HEIF"
    return None


def sniff(name: str, data: bytes) -> bool:
    return _format(data) is not None


@functools.cache
def _register_heif() -> None:
    pillow_heif.register_heif_opener()


@functools.cache
def _default_ocr() -> Tesseract:
    return Tesseract()


def read(name: str, data: bytes, *, ocr: Tesseract | None = None) -> Imported:
    """The photo as one document. ``ocr`` defaults to Tesseract on ``PATH`` reading English.

    Raises :class:`ParseError` for bytes that are not a readable JPEG, PNG or HEIF image."""
    image = _open(name, data)
    exif = image.getexif()
    taken = _taken(exif)
    notes: list[str] = []
    try:
        where = _position(exif)
    except (ValueError, TypeError, ZeroDivisionError):
        where = None
        notes.append(f"{name}: the photo's GPS position is unreadable; it is kept without a place")
    place = places.place(*where) if where else None
    camera = _camera(exif)

    reader = ocr or _default_ocr()
    paragraphs: tuple[str, ...] = ()
    words = 0
    if reader.missing:
        notes.append(f"photos: {reader.missing}")
    else:
        try:
            found_text = reader.read(_for_ocr(name, image))
            paragraphs, words = found_text.paragraphs, found_text.words
        except ModelError as exc:
            notes.append(
                f"{name}: {exc.message}; the photo's time and place are kept, its text is not"
            )

    title = clean_title(PurePath(name).name) or "photo"
    builder = TextBuilder()
    builder.add(_summary(title, taken, place, camera, bool(paragraphs)), time=taken)
    for paragraph in paragraphs:
        builder.add(paragraph, time=taken)
    doc = builder.build("photo", title, taken)
    if taken is None and place is None and not paragraphs:
        notes.append(f"{name}: no text, time or place found in the photo; it is listed by name")
    document = ParsedDocument(
        kind=doc.kind,
        title=doc.title,
        text=doc.text,
        segments=doc.segments,
        date=doc.date,
        key="photo:" + hashlib.sha256(data).hexdigest(),
    )
    return Imported(
        found=Found(what="photo", details=_details(taken, place, words)),
        documents=(document,),
        notes=tuple(notes),
    )


# --- opening ------------------------------------------------------------------------------------


def _open(name: str, data: bytes) -> Image.Image:
    kind = _format(data)
    if kind is None:
        raise ParseError(f"{name}: not a JPEG, PNG or HEIC image")
    if kind == "HEIF":
        _register_heif()
    try:
        image = Image.open(io.BytesIO(data), formats=[kind])
        width, height = image.size
        if Image.MAX_IMAGE_PIXELS and width * height > 2 * Image.MAX_IMAGE_PIXELS:
            raise Image.DecompressionBombError(f"{width}x{height} pixels")
        _reduce_on_load(image)
        image.load()
    except Image.DecompressionBombError as exc:
        raise ParseError(
            f"{name}: the image claims more pixels than a photo has ({short_reason(exc)}); "
            "refused as a decompression bomb"
        ) from exc
    except Exception as exc:  # Pillow and its plugins raise many unrelated types on damage
        raise ParseError(f"{name}: cannot read the {kind} image: {short_reason(exc)}") from exc
    return image


def _reduce_on_load(image: Image.Image) -> None:
    """For a JPEG, decode at a reduced scale (DCT scaling) when the full one is far beyond what
    OCR reads: a 48-megapixel photo then costs a quarter of the memory and time."""
    if image.format == "JPEG" and max(image.size) > 2 * OCR_MAX_SIDE:
        image.draft("L", (OCR_MAX_SIDE, OCR_MAX_SIDE))


def _for_ocr(name: str, image: Image.Image) -> Image.Image:
    """Upright (EXIF orientation), grayscale on white where it was transparent (a screenshot's
    black text on a clear background would read as black on black), and no larger than
    :data:`OCR_MAX_SIDE`."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat.alpha_composite(rgba)
        gray = flat.convert("L")
    else:
        gray = image.convert("L")
    turn = _ORIENTATION.get(image.getexif().get(_IFD0_ORIENTATION))
    upright = gray.transpose(turn) if turn is not None else gray
    if max(upright.size) > OCR_MAX_SIDE:
        upright.thumbnail((OCR_MAX_SIDE, OCR_MAX_SIDE), Image.Resampling.LANCZOS)
    return upright


# --- EXIF ---------------------------------------------------------------------------------------


def _taken(exif: Image.Exif) -> str | None:
    """``DateTimeOriginal`` (else the file's ``DateTime``) as ISO 8601, with the camera's UTC
    offset where it wrote one."""
    inner = exif.get_ifd(ExifTags.IFD.Exif)
    for value in (inner.get(_EXIF_DATETIME_ORIGINAL), exif.get(_IFD0_DATETIME)):
        when = _exif_datetime(value)
        if when is not None:
            offset = _exif_offset(inner.get(_EXIF_OFFSET_TIME_ORIGINAL))
            return when.isoformat() + (offset or "")
    return None


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    if not isinstance(value, str):
        return None
    return value.strip("\x00 ") or None


def _exif_datetime(value: object) -> datetime | None:
    text = _text(value)
    if text is None or len(text) < 19:
        return None
    try:
        return datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None  # "0000:00:00 00:00:00" and the like: the camera did not know


def _exif_offset(value: object) -> str | None:
    text = _text(value)
    if text is None or len(text) != 6 or text[0] not in "+-" or text[3] != ":":
        return None
    hours, minutes = text[1:3], text[4:6]
    if not (hours.isdigit() and minutes.isdigit()) or int(hours) > 14 or int(minutes) > 59:
        return None
    return text


def _position(exif: Image.Exif) -> tuple[float, float] | None:
    """GPS latitude and longitude in degrees; None when there is none. Raises ``ValueError``
    for a position that is present but unreadable."""
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    if _GPS_LAT not in gps or _GPS_LON not in gps:
        return None
    lat = _degrees(gps[_GPS_LAT], _text(gps.get(_GPS_LAT_REF)), "NS")
    lon = _degrees(gps[_GPS_LON], _text(gps.get(_GPS_LON_REF)), "EW")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"GPS position out of range: {lat}, {lon}")
    if lat == 0 and lon == 0:
        return None  # what a receiver without a fix writes, not a photo taken at sea off Ghana
    return lat, lon


def _degrees(value: object, ref: str | None, refs: str) -> float:
    """EXIF degrees/minutes/seconds rationals and an N/S or E/W reference → signed degrees."""
    parts = [float(part) for part in (value if isinstance(value, tuple) else (value,))]
    if not 1 <= len(parts) <= 3 or not all(math.isfinite(p) and p >= 0 for p in parts):
        raise ValueError(f"GPS coordinate unreadable: {value!r}")
    degrees = sum(part / 60**i for i, part in enumerate(parts))
    if ref is not None and ref[:1].upper() not in refs:
        raise ValueError(f"GPS reference unreadable: {ref!r}")
    return -degrees if ref is not None and ref[:1].upper() == refs[1] else degrees


def _camera(exif: Image.Exif) -> str | None:
    """The camera's model, with its maker unless the model already names it."""
    make, model = _text(exif.get(_IFD0_MAKE)), _text(exif.get(_IFD0_MODEL))
    if model is None:
        return None
    if make and not model.casefold().startswith(make.split()[0].casefold()):
        model = f"{make} {model}"
    return " ".join(model.split())[:80]


# --- what it says -------------------------------------------------------------------------------


def _when(taken: str) -> str:
    return f"{taken[:10]} {taken[11:16]}" if len(taken) >= 16 else taken[:10]


def _summary(
    title: str, taken: str | None, place: places.Place | None, camera: str | None, text: bool
) -> str:
    """The first segment: only what is known, e.g. ``Photo taken 2024-06-01 14:03 near Lisbon,
    Lisbon, PT.``"""
    if taken is None and place is None:
        sentence = f"Photo {title}"
    else:
        sentence = "Photo taken"
        if taken is not None:
            sentence += f" {_when(taken)}"
        if place is not None:
            sentence += f" near {place.label()}" if place.city else f" at {place.label()}"
    if camera:
        sentence += f" ({camera})"
    return sentence + ("." if text else ", no text found.")


def _details(taken: str | None, place: places.Place | None, words: int) -> tuple[str, ...]:
    """``taken 2024-06-01 near Lisbon, PT``, ``42 words of text``."""
    details = []
    if taken is not None or place is not None:
        taken_part = "taken"
        if taken is not None:
            taken_part += f" {taken[:10]}"
        if place is not None:
            taken_part += f" near {place.short()}" if place.city else f" at {place.short()}"
        details.append(taken_part)
    if words:
        details.append(f"{words:,} {'word' if words == 1 else 'words'} of text")
    else:
        details.append("no text found")
    return tuple(details)
