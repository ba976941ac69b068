"""Photos: what is in them (OCR), when and where they were taken (EXIF, offline place names), and
the damaged or hostile files that must end in one clear line."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import time
import zipfile

import pytest
from PIL import Image, ImageDraw

from secondme.node.core.errors import ParseError
from secondme.node.memory.imports import detect, photos, places
from secondme.node.models.ocr import MISSING, Tesseract, is_junk
from tests.imports_fixtures import photos as fx

SEEDS = (3, 11)


def _words_found(shot: fx.Shot, text: str) -> float:
    seen = set(text.casefold().split())
    return sum(word in seen for word in shot.words) / len(shot.words)


def _expected_time(shot: fx.Shot) -> str:
    assert shot.taken is not None
    return shot.taken.isoformat() + (shot.offset or "")


# --- sniffing -----------------------------------------------------------------------------------


def test_sniff_claims_images_by_their_bytes_not_their_names():
    shot = fx.shot(1, words_count=3)
    assert photos.sniff("a.bin", fx.jpeg(shot))
    assert photos.sniff("b", fx.png(shot.words))
    assert photos.sniff("c.dat", fx.heic(shot))
    assert not photos.sniff("fake.jpg", b"not really a picture\n")


def test_sniff_leaves_ordinary_documents_to_their_parsers():
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    ordinary = {
        "notes.txt": b"Shopping list\n\nmilk, eggs\n",
        "readme.md": b"# Title\n\nSome *markdown* text.\n",
        "data.json": json.dumps({"photo": "IMG_1.jpg", "taken": "2024"}).encode(),
        "table.csv": b"name,city\nAna,Lisbon\n",
        "paper.pdf": b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n",
        "letter.docx": docx.getvalue(),
        "chat.jsonl": b'{"role": "user", "content": "hi"}\n',
    }
    for name, data in ordinary.items():
        assert not photos.sniff(name, data), name


def test_detect_hands_a_photo_to_this_importer():
    assert detect.importer_for("IMG_2.jpg", fx.jpeg(fx.shot(2, words_count=3))) is photos.read


# --- a photo with text, time and place ----------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_jpeg_gives_its_words_time_and_the_city_it_was_taken_in(seed):
    shot = fx.shot(seed)
    data = fx.jpeg(shot)
    imported = photos.read(f"IMG_{seed}.jpg", data)

    [doc] = imported.documents
    assert doc.kind == "photo"
    assert doc.title == f"IMG_{seed}.jpg"
    assert doc.key == "photo:" + hashlib.sha256(data).hexdigest()
    assert doc.date == _expected_time(shot)
    assert _words_found(shot, doc.text) >= 2 / 3, doc.text

    city = shot.city
    assert city is not None
    first = doc.segments[0].text
    assert first.startswith(f"Photo taken {shot.taken:%Y-%m-%d %H:%M} near {city.label()}")
    assert "Pixel 7" in first
    assert all(segment.time == doc.date for segment in doc.segments)
    assert all(doc.text[s.start : s.end] == s.text for s in doc.segments)
    assert len(doc.segments) >= 2  # the summary, then the text as paragraphs

    line = imported.found.line()
    assert line.startswith(f"photo: taken {shot.taken:%Y-%m-%d} near {city.name}, {city.country}, ")
    assert line.endswith(" words of text")
    assert imported.notes == ()


@pytest.mark.parametrize("seed", SEEDS)
def test_heic_is_read_like_a_jpeg(seed):
    shot = fx.shot(seed)
    doc = photos.read(f"IMG_{seed}.HEIC", fx.heic(shot)).documents[0]
    assert doc.date == _expected_time(shot)
    assert shot.city is not None and shot.city.label() in doc.text
    assert _words_found(shot, doc.text) >= 2 / 3, doc.text


@pytest.mark.parametrize("seed", SEEDS)
def test_png_without_exif_gives_its_text_and_no_time(seed):
    shot = fx.shot(seed, located=False, timed=False)
    imported = photos.read(f"scan-{seed}.png", fx.png(shot.words))
    [doc] = imported.documents
    assert doc.date is None
    assert doc.segments[0].text == f"Photo scan-{seed}.png."
    assert _words_found(shot, doc.text) >= 2 / 3, doc.text
    assert imported.found.line().startswith("photo: ")
    assert "taken" not in imported.found.line()


def test_a_photo_held_sideways_is_read_upright():
    """Phones store the sensor's pixels and say how to turn them (EXIF orientation 6)."""
    shot = fx.shot(9, located=False)
    stored = fx.picture(shot.words).transpose(Image.Transpose.ROTATE_90)
    tags = fx.exif(shot)
    tags[0x0112] = 6
    out = io.BytesIO()
    stored.save(out, "JPEG", quality=90, exif=tags)
    doc = photos.read("sideways.jpg", out.getvalue()).documents[0]
    assert _words_found(shot, doc.text) >= 2 / 3, doc.text


def test_a_screenshot_with_a_transparent_background_is_read_on_white():
    shot = fx.shot(10, located=False, timed=False)
    ink = fx.picture(shot.words).convert("L").point(lambda v: 255 - v)
    clear = Image.new("RGBA", ink.size, (0, 0, 0, 0))
    clear.putalpha(ink)  # black text, transparent everywhere else
    out = io.BytesIO()
    clear.save(out, "PNG")
    doc = photos.read("screenshot.png", out.getvalue()).documents[0]
    assert _words_found(shot, doc.text) >= 2 / 3, doc.text


def test_southern_and_western_references_give_negative_coordinates():
    target = fx.city(5, where=lambda row: row.lat < -10 and row.lon < -10)
    shot = fx.Shot(words=(), taken=None, offset=None, city=target)
    imported = photos.read("far.jpg", fx.jpeg(shot))
    assert target.label() in imported.documents[0].text


def test_a_48_megapixel_photo_is_read_from_a_smaller_copy():
    shot = fx.shot(12)
    data = fx.jpeg(shot, size=(8000, 6000))
    started = time.perf_counter()
    doc = photos.read("big.jpg", data).documents[0]
    assert _words_found(shot, doc.text) >= 2 / 3, doc.text
    assert time.perf_counter() - started < 30


def test_the_same_picture_under_another_name_is_the_same_document():
    shot = fx.shot(4, words_count=3)
    data = fx.jpeg(shot)
    first = photos.read("IMG_4.jpg", data).documents[0]
    again = photos.read("copy of IMG_4.jpg", data).documents[0]
    other = photos.read("IMG_5.jpg", fx.jpeg(fx.shot(5, words_count=3))).documents[0]
    assert first.key == again.key != other.key


def test_far_from_any_city_the_place_is_its_coordinates():
    lat, lon = -48.9, -123.4  # the South Pacific's pole of inaccessibility, roughly
    city, km = places.cities().nearest(lat, lon)
    assert km > places.NEAR_KM
    where = places.place(lat, lon)
    assert where.city is None and where.label() == "-48.90000, -123.40000"
    assert city.name  # the table was searched, and its nearest entry is far


# --- photos with nothing in them ----------------------------------------------------------------


def test_a_photo_with_no_text_and_no_exif_is_still_listed_with_a_note():
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 140, 200)).save(out, "JPEG")
    imported = photos.read("IMG_1.jpg", out.getvalue())
    [doc] = imported.documents
    assert doc.text == "Photo IMG_1.jpg, no text found."
    assert doc.date is None
    assert imported.found.line() == "photo: no text found"
    assert len(imported.notes) == 1 and imported.notes[0].startswith("IMG_1.jpg: ")


def test_a_scene_without_writing_gives_little_or_no_text():
    rng = random.Random(8)
    image = Image.new("RGB", (1200, 900), (120, 160, 90))
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x, y = rng.randrange(1200), rng.randrange(900)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x, y, x + rng.randrange(20, 200), y + rng.randrange(20, 200)), fill=colour)
    out = io.BytesIO()
    image.save(out, "PNG")
    imported = photos.read("garden.png", out.getvalue())
    assert len(imported.documents[0].text.split()) <= 6, imported.documents[0].text


def test_junk_words_are_those_mostly_without_letters():
    assert is_junk("|;:") and is_junk("—") and is_junk("a|;:")
    assert not is_junk("Lisbon") and not is_junk("2024-06-01") and not is_junk("don't")


# --- OCR unavailable ----------------------------------------------------------------------------


def test_without_tesseract_time_and_place_are_kept_and_the_owner_is_told():
    shot = fx.shot(6)
    missing = Tesseract("/nonexistent/bin/tesseract")
    assert missing.missing == MISSING
    imported = photos.read("IMG_6.jpg", fx.jpeg(shot), ocr=missing)
    [doc] = imported.documents
    assert imported.notes == (
        "photos: Tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-eng); "
        "the photo's time and place are kept, its text is not",
    )
    assert doc.date == _expected_time(shot)
    assert shot.city is not None and shot.city.label() in doc.text
    assert not any(word in doc.text for word in shot.words)


def test_ocr_past_its_time_limit_is_stopped_and_said():
    shot = fx.shot(7)
    impatient = Tesseract(timeout_s=0.01)
    started = time.perf_counter()
    imported = photos.read("IMG_7.jpg", fx.jpeg(shot), ocr=impatient)
    assert time.perf_counter() - started < 5
    assert len(imported.notes) == 1
    assert imported.notes[0].startswith("IMG_7.jpg: Tesseract took longer than 0.01 s")
    assert imported.documents[0].date == _expected_time(shot)


def test_each_run_gets_its_thread_limit_in_its_own_environment(tmp_path):
    seen = tmp_path / "seen"
    fake = tmp_path / "tesseract"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then echo "tesseract 5.3.0"; exit 0; fi\n'
        f'echo "$OMP_THREAD_LIMIT" > {seen}\n'
        'printf "level\\tpage_num\\tblock_num\\tpar_num\\tline_num\\tword_num\\t'
        'left\\ttop\\twidth\\theight\\tconf\\ttext\\n" > "$2.tsv"\n'
    )
    fake.chmod(0o755)
    before = os.environ.get("OMP_THREAD_LIMIT")
    result = Tesseract(str(fake), threads=2).read(Image.new("L", (64, 64), 255))
    assert seen.read_text().strip() == "2"
    assert result.words == 0 and result.paragraphs == ()
    assert os.environ.get("OMP_THREAD_LIMIT") == before


def test_an_unknown_language_is_a_note_not_a_crash():
    imported = photos.read("IMG_8.jpg", fx.jpeg(fx.shot(8)), ocr=Tesseract(language="xxx"))
    assert len(imported.notes) == 1 and imported.notes[0].startswith("IMG_8.jpg: Tesseract failed")


# --- damaged and hostile files ------------------------------------------------------------------


def test_corrupt_bytes_behind_a_jpeg_signature_name_the_file():
    data = b"\xff\xd8\xff\xe0" + random.Random(1).randbytes(3000)
    with pytest.raises(ParseError, match=r"^broken\.jpg: cannot read the JPEG image"):
        photos.read("broken.jpg", data)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_truncated_jpeg_names_the_file(seed):
    data = fx.jpeg(fx.shot(seed))
    with pytest.raises(ParseError, match=r"^cut\.jpg: "):
        photos.read("cut.jpg", data[: len(data) // 2])


def test_a_png_claiming_ten_billion_pixels_is_refused_at_once():
    started = time.perf_counter()
    with pytest.raises(ParseError, match=r"^bomb\.png: .*decompression bomb"):
        photos.read("bomb.png", fx.png_bomb())
    assert time.perf_counter() - started < 2


def test_a_heif_box_with_nothing_inside_names_the_file():
    data = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    with pytest.raises(ParseError, match=r"^x\.heic: "):
        photos.read("x.heic", data)


# --- places -------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_a_citys_own_coordinates_name_it(seed):
    city = fx.city(seed)
    where = places.place(city.lat, city.lon)
    assert where.city == city and where.km is not None and where.km < 0.01


def test_a_point_not_on_earth_is_refused():
    for lat, lon in ((91.0, 0.0), (0.0, 181.0), (float("nan"), 0.0)):
        with pytest.raises(ValueError):
            places.place(lat, lon)


def test_haversine_agrees_with_a_known_distance():
    # One degree of latitude is about 111.2 km on the mean sphere.
    assert places.haversine_km(10.0, 20.0, 11.0, 20.0) == pytest.approx(111.19, abs=0.05)
