"""Parsers: each format's text and segments, titles, and the errors a bad file raises."""

from __future__ import annotations

import csv
import io
import json
import random
import re
import zipfile
from pathlib import Path

import pytest

from secondme.node.core.errors import ParseError, UnsupportedFormat
from secondme.node.memory.parsers import (
    SUPPORTED_SUFFIXES,
    ParsedDocument,
    parse_document,
)


def parse_file(path: Path) -> ParsedDocument:
    """Parse a file the way ingestion does: by its name and its bytes."""
    doc = parse_document(path.name, path.read_bytes())
    assert_segments_are_exact(doc)
    return doc


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def assert_segments_are_exact(doc: ParsedDocument) -> None:
    """Segments are exact, ordered, disjoint spans, and only whitespace lies outside them."""
    pos = 0
    outside = []
    for segment in doc.segments:
        assert pos <= segment.start < segment.end <= len(doc.text)
        assert doc.text[segment.start : segment.end] == segment.text
        assert segment.text == segment.text.strip()
        outside.append(doc.text[pos : segment.start])
        pos = segment.end
    outside.append(doc.text[pos:])
    assert "".join(outside).strip() == ""


def segment_texts(doc: ParsedDocument) -> list[str]:
    return [s.text for s in doc.segments]


# --- plain text ---------------------------------------------------------------------------------


def test_text_paragraphs_become_segments(tmp_path: Path) -> None:
    text = "My dog is called Biscuit.\nShe is old.\n\n  \n\nI live in Ghent.\n"
    path = write(tmp_path, "notes.txt", text)
    doc = parse_file(path)
    assert doc.kind == "text"
    assert doc.title is None
    assert segment_texts(doc) == ["My dog is called Biscuit.\nShe is old.", "I live in Ghent."]


def test_text_suffix_is_case_insensitive_and_crlf_is_normalized(tmp_path: Path) -> None:
    doc = parse_file(write(tmp_path, "NOTES.TXT", b"first line\r\nsecond line\r\n\r\nthird\r"))
    assert doc.text == "first line\nsecond line\n\nthird\n"
    assert segment_texts(doc) == ["first line\nsecond line", "third"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
def test_text_with_bom_decodes(tmp_path: Path, encoding: str) -> None:
    data = "Zoë moved to Kraków in 2019.".encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    doc = parse_file(write(tmp_path, "bom.txt", data))
    assert doc.text == "Zoë moved to Kraków in 2019."


def test_text_in_a_legacy_encoding_falls_back_to_cp1252(tmp_path: Path) -> None:
    text = "Café crème, naïve résumé – déjà vu."
    doc = parse_file(write(tmp_path, "old.txt", text.encode("cp1252")))
    assert doc.text == text


def test_text_with_a_few_damaged_bytes_keeps_utf8(tmp_path: Path) -> None:
    data = ("Ünïcödé text that is mostly fine. " * 20).encode() + b"\xff" + b" end"
    doc = parse_file(write(tmp_path, "damaged.txt", data))
    assert doc.text.startswith("Ünïcödé text")
    assert "\ufffd end" in doc.text


def test_binary_junk_is_refused(tmp_path: Path) -> None:
    rng = random.Random(7)
    junk = bytes(rng.randrange(256) for _ in range(4096))
    with pytest.raises(ParseError, match=r"^junk\.txt: looks like binary data, not text$"):
        parse_file(write(tmp_path, "junk.txt", junk))


def test_binary_junk_without_nul_bytes_is_refused(tmp_path: Path) -> None:
    rng = random.Random(8)
    junk = bytes(rng.randrange(1, 256) for _ in range(4096))
    assert b"\x00" not in junk
    with pytest.raises(ParseError, match=r"^junk\.md: looks like binary data"):
        parse_file(write(tmp_path, "junk.md", junk))


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty.txt", b""),
        ("blank.txt", b" \n\t\r\n  "),
        ("blank.md", "\ufeff\n\n".encode()),
        ("empty.pdf", b""),
        ("empty.json", b"{}"),
        ("empty-list.json", b"[]"),
        ("blank.jsonl", b"\n\n  \n"),
        ("blank.html", b"<html><head><title>T</title></head><body> </body></html>"),
        ("blank.csv", b"\n,,\n"),
    ],
)
def test_empty_content_is_refused(tmp_path: Path, name: str, data: bytes) -> None:
    with pytest.raises(ParseError, match=f"^{re.escape(name)}: file is empty$"):
        parse_file(write(tmp_path, name, data))


@pytest.mark.parametrize("name", ["photo.xyz", "archive.tar.gz", "Makefile"])
def test_unknown_suffix_is_unsupported(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsupportedFormat) as caught:
        parse_file(write(tmp_path, name, b"some text"))
    message = caught.value.message
    assert message.startswith(f"{name}: unsupported file type")
    assert ".txt" in message and ".jsonl" in message
    suffix = Path(name).suffix
    assert (f"'{suffix}'" in message) if suffix else ("(no extension)" in message)


def test_supported_suffixes_are_the_documented_ones() -> None:
    assert {
        ".txt",
        ".md",
        ".markdown",
        ".pdf",
        ".docx",
        ".html",
        ".htm",
        ".csv",
        ".json",
        ".jsonl",
    } == SUPPORTED_SUFFIXES


# --- markdown -----------------------------------------------------------------------------------

MARKDOWN = """\
Intro line before any heading.

# Trip to   Lisbon #
We stayed in Alfama.
## Food
Pastéis de nata every morning.

```
# not a heading, a comment in code

still code
```
"""


def test_markdown_keeps_headings_and_splits_at_them(tmp_path: Path) -> None:
    doc = parse_file(write(tmp_path, "trip.md", MARKDOWN))
    assert doc.kind == "markdown"
    assert doc.title == "Trip to Lisbon"
    assert doc.text == MARKDOWN
    assert segment_texts(doc) == [
        "Intro line before any heading.",
        "# Trip to   Lisbon #\nWe stayed in Alfama.",
        "## Food\nPastéis de nata every morning.",
        "```\n# not a heading, a comment in code\n\nstill code\n```",
    ]


def test_markdown_without_level_one_heading_has_no_title(tmp_path: Path) -> None:
    doc = parse_file(write(tmp_path, "n.markdown", "## Only a subheading\n\n#hashtag is not one\n"))
    assert doc.title is None
    assert segment_texts(doc) == ["## Only a subheading", "#hashtag is not one"]


# --- PDF ----------------------------------------------------------------------------------------


def _pdf_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def handmade_pdf(lines: list[str]) -> bytes:
    """A one-page PDF written byte by byte, as small as the format allows."""
    shown = " ".join(f"({_pdf_text(line)}) Tj T*" for line in lines)
    content = f"BT /F1 12 Tf 72 720 Td 14 TL {shown} ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        "/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    trailer = f"<< /Size {len(objects) + 1} /Root 1 0 R >>"
    out += f"trailer\n{trailer}\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def test_handmade_pdf_text_is_extracted(tmp_path: Path) -> None:
    data = handmade_pdf(["My passport number ends in 4471.", "Renew it before May (2027)."])
    doc = parse_file(write(tmp_path, "passport.pdf", data))
    assert doc.kind == "pdf"
    assert "passport number ends in 4471" in doc.text
    assert "Renew it before May (2027)." in doc.text


def test_reportlab_pdf_pages_text_and_title(tmp_path: Path) -> None:
    canvas = pytest.importorskip("reportlab.pdfgen.canvas")
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    pdf.setTitle("Lease agreement")
    pdf.drawString(72, 720, "The monthly rent is 950 euros.")
    pdf.showPage()
    pdf.drawString(72, 720, "The landlord is Mrs. Peeters.")
    pdf.showPage()
    pdf.save()
    doc = parse_file(write(tmp_path, "lease.pdf", buffer.getvalue()))
    assert doc.title == "Lease agreement"
    assert segment_texts(doc) == ["The monthly rent is 950 euros.", "The landlord is Mrs. Peeters."]


def test_pdf_without_text_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match=r"^scan\.pdf: PDF has no extractable text"):
        parse_file(write(tmp_path, "scan.pdf", handmade_pdf([])))


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.4\nthis is not really a pdf at all\n%%EOF",
        b"not even the header",
        handmade_pdf(["cut short"])[:60],
    ],
)
def test_corrupt_pdf_is_refused(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ParseError, match=r"^broken\.pdf: cannot read PDF: "):
        parse_file(write(tmp_path, "broken.pdf", data))


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    writer = pypdf.PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(ParseError, match=r"^locked\.pdf: cannot read PDF: .*encrypted"):
        parse_file(write(tmp_path, "locked.pdf", buffer.getvalue()))


# --- DOCX ---------------------------------------------------------------------------------------


def make_docx(title: str | None = None) -> bytes:
    import docx

    document = docx.Document()
    if title is not None:
        document.core_properties.title = title
    document.add_heading("Family recipes", level=1)
    document.add_paragraph("Grandma's soup needs three leeks.")
    document.add_paragraph("")
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).text = "Dish"
    table.cell(0, 1).text = "Cook"
    table.cell(0, 1).merge(table.cell(0, 2))
    table.cell(1, 0).text = "Waterzooi"
    table.cell(1, 1).text = "Uncle Jan"
    document.add_paragraph("Serve with bread.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_paragraphs_tables_and_heading_title(tmp_path: Path) -> None:
    doc = parse_file(write(tmp_path, "recipes.docx", make_docx()))
    assert doc.kind == "docx"
    assert doc.title == "Family recipes"
    assert segment_texts(doc) == [
        "Family recipes",
        "Grandma's soup needs three leeks.",
        "Dish | Cook\nWaterzooi | Uncle Jan",
        "Serve with bread.",
    ]


def test_docx_title_prefers_core_properties(tmp_path: Path) -> None:
    doc = parse_file(write(tmp_path, "recipes.docx", make_docx(title="Recipes of the family")))
    assert doc.title == "Recipes of the family"


@pytest.mark.parametrize("kind", ["random", "zip-without-document", "truncated"])
def test_corrupt_docx_is_refused(tmp_path: Path, kind: str) -> None:
    if kind == "random":
        data = random.Random(3).randbytes(2000)
    elif kind == "zip-without-document":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("hello.txt", "not a word document")
        data = buffer.getvalue()
    else:
        data = make_docx()[:3000]
    with pytest.raises(ParseError, match=r"^bad\.docx: cannot read DOCX: "):
        parse_file(write(tmp_path, "bad.docx", data))


def test_docx_zip_bomb_is_refused_before_unpacking(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\0" * (40 * 1024 * 1024))
    data = buffer.getvalue()
    assert len(data) < 200_000
    with pytest.raises(ParseError, match=r"^bomb\.docx: cannot read DOCX: it unpacks to"):
        parse_file(write(tmp_path, "bomb.docx", data))


# --- HTML ---------------------------------------------------------------------------------------

HTML = """<!DOCTYPE html>
<html><head><title>My   Garden</title><style>p { color: red }</style>
<script>var leaked = "SCRIPT_TEXT";</script></head>
<body>
<nav><a href="/">Home</a> <a href="/x">NAV_TEXT</a></nav>
<h1>Tomatoes</h1>
<p>I planted <b>San Marzano</b> tomatoes
   on the 3rd of May &amp; watered them daily.</p>
<!-- COMMENT_TEXT -->
<ul><li>Basil</li><li>Mint<br>and thyme</li></ul>
<div>Loose div text<p>inner paragraph</p>tail text</div>
<table><tr><th>Plant</th><th>Height</th></tr><tr><td>Sunflower</td><td>2 m</td></tr></table>
<pre>  def water():
      return "daily"</pre>
<noscript>NOSCRIPT_TEXT</noscript>
</body></html>"""


def test_html_blocks_become_segments_and_noise_is_dropped(tmp_path: Path) -> None:
    doc = parse_file(write(tmp_path, "garden.html", HTML))
    assert doc.kind == "html"
    assert doc.title == "My Garden"
    assert segment_texts(doc) == [
        "Tomatoes",
        "I planted San Marzano tomatoes on the 3rd of May & watered them daily.",
        "Basil",
        "Mint\nand thyme",
        "Loose div text",
        "inner paragraph",
        "tail text",
        "Plant | Height",
        "Sunflower | 2 m",
        'def water():\n      return "daily"',
    ]
    for noise in ["SCRIPT_TEXT", "NAV_TEXT", "COMMENT_TEXT", "NOSCRIPT_TEXT", "color: red"]:
        assert noise not in doc.text


def test_html_meta_charset_is_honoured(tmp_path: Path) -> None:
    page = '<html><head><meta charset="windows-1251"></head><body><p>Привет, мир</p></body></html>'
    doc = parse_file(write(tmp_path, "ru.htm", page.encode("cp1251")))
    assert doc.text == "Привет, мир"


def test_html_without_title_uses_first_h1(tmp_path: Path) -> None:
    doc = parse_file(write(tmp_path, "a.html", "<h1>Plan  B</h1><p>text</p>"))
    assert doc.title == "Plan B"


def test_deeply_nested_html_does_not_recurse(tmp_path: Path) -> None:
    depth = 20_000
    page = "<div>" * depth + "deep fact" + "</div>" * depth
    doc = parse_file(write(tmp_path, "deep.html", page))
    assert doc.text == "deep fact"


# --- CSV ----------------------------------------------------------------------------------------


def test_csv_rows_read_by_header_in_groups(tmp_path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["name", "birthday", "note"])
    writer.writerow(["Ann", "1983-04-02", "likes jazz, hates rain"])
    for i in range(44):
        writer.writerow([f"friend {i}", "", f"note {i}"])
    doc = parse_file(write(tmp_path, "friends.csv", buffer.getvalue()))
    assert doc.kind == "csv"
    lines = doc.text.split("\n")
    assert lines[0] == "name: Ann; birthday: 1983-04-02; note: likes jazz, hates rain"
    assert lines[1] == "name: friend 0; note: note 0"
    assert len(lines) == 45
    assert [len(s.text.split("\n")) for s in doc.segments] == [20, 20, 5]


def test_csv_delimiter_is_sniffed(tmp_path: Path) -> None:
    data = "city;country;population\nGhent;Belgium;265000\nLyon;France;522000\n"
    doc = parse_file(write(tmp_path, "cities.csv", data))
    assert doc.text == (
        "city: Ghent; country: Belgium; population: 265000\n"
        "city: Lyon; country: France; population: 522000"
    )


def test_csv_extra_columns_get_numbered_names(tmp_path: Path) -> None:
    doc = parse_file(write(tmp_path, "x.csv", "a,b\n1,2,3\n"))
    assert doc.text == "a: 1; b: 2; column 3: 3"


def test_csv_field_over_the_size_limit_is_a_parse_error(tmp_path: Path) -> None:
    data = 'a,b\n1,"' + "x" * (csv.field_size_limit() + 10) + '"\n'
    with pytest.raises(ParseError, match=r"^huge\.csv: cannot read CSV at line"):
        parse_file(write(tmp_path, "huge.csv", data))


# --- JSON and chat ------------------------------------------------------------------------------


def test_json_is_flattened_per_top_level_item(tmp_path: Path) -> None:
    value = {
        "title": "Profile",
        "person": {"name": "Ann", "pets": [{"kind": "cat", "name": "Whiskers"}], "vegan": True},
        "empty": "",
        "score": 4.5,
    }
    doc = parse_file(write(tmp_path, "profile.json", json.dumps(value)))
    assert doc.kind == "json"
    assert doc.title == "Profile"
    assert segment_texts(doc) == [
        "title: Profile",
        "person.name: Ann\nperson.pets[0].kind: cat\nperson.pets[0].name: Whiskers\n"
        "person.vegan: true",
        "score: 4.5",
    ]


def test_json_deep_nesting_keeps_paths_short(tmp_path: Path) -> None:
    depth = 500
    value: object = "bottom"
    for _ in range(depth):
        value = {"level": value}
    doc = parse_file(write(tmp_path, "deep.json", json.dumps(value)))
    path, _, leaf = doc.text.rpartition(": ")
    assert leaf == "bottom"
    assert path.startswith("…") and len(path) <= 200


def test_json_list_of_turns_is_a_chat(tmp_path: Path) -> None:
    turns = [
        {"speaker": "Ann", "text": "Shall we meet Friday?", "time": "2024-05-01T09:00:00Z"},
        {"speaker": "Bob", "text": "Yes, at the station."},
    ]
    doc = parse_file(write(tmp_path, "chat.json", json.dumps(turns)))
    assert doc.kind == "chat"
    assert doc.text == "Ann: Shall we meet Friday?\nBob: Yes, at the station."
    assert [(s.speaker, s.time) for s in doc.segments] == [
        ("Ann", "2024-05-01T09:00:00+00:00"),
        ("Bob", None),
    ]


def test_json_file_holding_json_lines_is_a_chat(tmp_path: Path) -> None:
    data = '{"speaker": "Ann", "text": "hi"}\n{"speaker": "Bob", "text": "hello"}\n'
    doc = parse_file(write(tmp_path, "export.json", data))
    assert doc.kind == "chat"
    assert doc.text == "Ann: hi\nBob: hello"


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    data = '{\n  "a": 1,\n  "b": oops\n}\n'
    with pytest.raises(ParseError, match=r"^bad\.json: invalid JSON at line 3, column 8: "):
        parse_file(write(tmp_path, "bad.json", data))


def test_json_nested_beyond_the_parser_is_a_parse_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match=r"^nest\.json: invalid JSON"):
        parse_file(write(tmp_path, "nest.json", "[" * 100_000 + "]" * 100_000))


CHAT_LINES = [
    {"speaker": "me", "text": "Booked the dentist for Tuesday.", "time": "2024-03-04T10:00:00"},
    {"speaker": "Sam", "text": "Which one?\nThe one on Main Street?"},
    {"speaker": "me", "text": "Yes, Dr. Aerts.", "time": 1709546400},
    {"speaker": "Sam", "text": None},
]


def test_jsonl_chat_turns_carry_speaker_and_time(tmp_path: Path) -> None:
    data = "\n".join(json.dumps(line) for line in CHAT_LINES) + "\n\n"
    doc = parse_file(write(tmp_path, "chat.jsonl", data))
    assert doc.kind == "chat"
    assert doc.title is None
    assert doc.text == (
        "me: Booked the dentist for Tuesday.\n"
        "Sam: Which one?\nThe one on Main Street?\n"
        "me: Yes, Dr. Aerts."
    )
    assert [(s.speaker, s.time) for s in doc.segments] == [
        ("me", "2024-03-04T10:00:00"),
        ("Sam", None),
        ("me", "2024-03-04T10:00:00+00:00"),
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"speaker": "Ann", "text": ', r"line 3: invalid JSON at column \d+"),
        ('["Ann", "hi"]', r"line 3: expected an object"),
        ('{"text": "hi"}', r"line 3: missing 'speaker'"),
        ('{"speaker": "Ann"}', r"line 3: missing 'text'"),
        ('{"speaker": {"id": 1}, "text": "hi"}', r"line 3: 'speaker' must be a string"),
        ('{"speaker": " ", "text": "hi"}', r"line 3: 'speaker' is empty"),
        ('{"speaker": "Ann", "text": ["a"]}', r"line 3: 'text' must be a string"),
    ],
)
def test_malformed_jsonl_line_is_named(tmp_path: Path, line: str, reason: str) -> None:
    data = '{"speaker": "Ann", "text": "hi"}\n\n' + line + "\n"
    with pytest.raises(ParseError, match=rf"^chat\.jsonl: {reason}"):
        parse_file(write(tmp_path, "chat.jsonl", data))


# --- robustness ---------------------------------------------------------------------------------


def _mutations(rng: random.Random, seeds: list[bytes]) -> list[bytes]:
    """Random damage to valid files: cut, flip, splice, repeat."""
    out = []
    for _ in range(40):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 6)):
            action = rng.randrange(4)
            where = rng.randrange(len(data) + 1)
            if action == 0:
                del data[where:]
            elif action == 1 and data:
                data[min(where, len(data) - 1)] = rng.randrange(256)
            elif action == 2:
                data[where:where] = rng.randbytes(rng.randrange(1, 40))
            else:
                data[where:where] = data[: rng.randrange(1, 60)]
        out.append(bytes(data))
    return out


@pytest.mark.parametrize("suffix", sorted(SUPPORTED_SUFFIXES))
def test_damaged_input_gives_a_document_or_a_parse_error(suffix: str) -> None:
    """Like a fuzzer: any bytes yield a well-formed document or ParseError, nothing else."""
    rng = random.Random(suffix)
    seeds = [
        MARKDOWN.encode(),
        HTML.encode(),
        handmade_pdf(["some text", "more text"]),
        make_docx(),
        b"a,b\n1,2\n3,4\n",
        b'{"a": [1, {"b": "c"}], "d": null}',
        "\n".join(json.dumps(line) for line in CHAT_LINES).encode(),
    ]
    for data in _mutations(rng, seeds):
        try:
            doc = parse_document(f"fuzz{suffix}", data)
        except ParseError as exc:
            assert exc.message.startswith(f"fuzz{suffix}: ")
        else:
            assert doc.text.strip()
            assert_segments_are_exact(doc)
