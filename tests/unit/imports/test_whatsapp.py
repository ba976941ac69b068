"""WhatsApp chat exports: every locale's headers, multi-line messages, media, notices, ids."""

from __future__ import annotations

from datetime import datetime

import pytest

from secondme.node.core.errors import ParseError
from secondme.node.memory.imports import whatsapp
from secondme.node.memory.imports.found import Imported
from tests.imports_fixtures.chats import (
    WHATSAPP_LOCALES,
    Expected,
    whatsapp_chat,
    whatsapp_file_name,
    whatsapp_zip,
)
from tests.imports_fixtures.ordinary import ordinary_files
from tests.unit.imports.test_archive import make_zip
from tests.unit.test_parsers import assert_segments_are_exact

SEEDS = (7, 2024)


def kept(imported: Imported) -> list[tuple[str | None, str, str | None]]:
    [doc] = imported.documents
    assert_segments_are_exact(doc)
    return [
        (s.speaker, s.text.split(": ", 1)[1].replace("\n  ", "\n"), s.time) for s in doc.segments
    ]


def wanted(expected: Expected) -> list[tuple[str, str, str]]:
    return [(m.speaker, m.text, m.time) for m in expected.messages]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("locale", WHATSAPP_LOCALES)
@pytest.mark.parametrize("group", [False, True])
def test_messages_speakers_and_times_as_generated(seed: int, locale: str, group: bool) -> None:
    data, expected, chat_name = whatsapp_chat(seed, locale=locale, count=120, group=group)
    name = whatsapp_file_name(chat_name, locale)
    assert whatsapp.sniff(name, data)
    imported = whatsapp.read(name, data)
    assert kept(imported) == wanted(expected)
    assert any("\n" in m.text for m in expected.messages)  # multi-line messages were in it
    found = imported.found
    assert found.messages == len(expected.messages)
    assert found.people == len(expected.speakers)
    assert found.first == expected.messages[0].time
    assert found.last == expected.messages[-1].time
    assert f"{expected.media} media messages" in found.line()
    assert found.line().startswith(f"WhatsApp chat: {len(expected.speakers)} people, ")
    assert imported.documents[0].key == f"whatsapp:chat:{chat_name.casefold()}"
    assert imported.notes == ()


def test_found_line_reads_like_the_issue() -> None:
    data, expected, chat_name = whatsapp_chat(3, locale="android", count=40)
    line = whatsapp.read(f"WhatsApp Chat with {chat_name}.txt", data).found.line()
    first, last = expected.messages[0].time[:10], expected.messages[-1].time[:10]
    assert line.startswith(
        f"WhatsApp chat: 2 people, {len(expected.messages)} messages, {first} – {last}"
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("locale", WHATSAPP_LOCALES)
def test_a_later_export_keeps_the_ids_of_earlier_messages(seed: int, locale: str) -> None:
    early, early_expected, chat_name = whatsapp_chat(seed, locale=locale, count=60, group=True)
    late, _, _ = whatsapp_chat(seed, locale=locale, count=140, group=True)
    name = whatsapp_file_name(chat_name, locale)
    early_ids = [s.id for s in whatsapp.read(name, early).documents[0].segments]
    late_doc = whatsapp.read(name, late).documents[0]
    late_ids = [s.id for s in late_doc.segments]
    assert len(early_ids) == len(early_expected.messages)
    assert late_ids[: len(early_ids)] == early_ids
    assert len(late_ids) > len(early_ids)
    assert len(set(late_ids)) == len(late_ids)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_key_is_the_chat_not_the_file(seed: int) -> None:
    data, _, chat_name = whatsapp_chat(seed, locale="android", count=30)
    keys = {
        whatsapp.read(name, data).documents[0].key
        for name in (
            f"WhatsApp Chat with {chat_name}.txt",
            f"WhatsApp Chat with {chat_name} (1).txt",
            f"Downloads/WhatsApp Chat with {chat_name}.zip/WhatsApp Chat with {chat_name}.txt",
        )
    }
    assert keys == {f"whatsapp:chat:{chat_name.casefold()}"}
    # renamed: the participants are the chat's identity, whatever the name
    renamed = {whatsapp.read(name, data).documents[0].key for name in ("chat.txt", "old.txt")}
    assert len(renamed) == 1 and renamed.pop().startswith("whatsapp:people:")


@pytest.mark.parametrize("seed", SEEDS)
def test_ios_zip_chat_txt_alone_and_zip_have_one_key(seed: int) -> None:
    data, expected, chat_name = whatsapp_chat(seed, locale="ios", count=50, group=True)
    zipped = whatsapp_zip(seed, data, "_chat.txt", media_files=4)
    assert whatsapp.sniff(f"WhatsApp Chat - {chat_name}.zip", zipped)
    from_zip = whatsapp.read(f"WhatsApp Chat - {chat_name}.zip", zipped)
    alone = whatsapp.read("_chat.txt", data)
    assert from_zip.documents[0].key == alone.documents[0].key
    assert from_zip.documents[0].text == alone.documents[0].text
    assert "4 other files in the zip" in from_zip.found.line()
    assert kept(from_zip) == wanted(expected)


def test_android_zip_names_the_chat_by_its_member() -> None:
    data, expected, chat_name = whatsapp_chat(11, locale="us", count=30)
    member = f"WhatsApp Chat with {chat_name}.txt"
    imported = whatsapp.read("export.zip", whatsapp_zip(11, data, member, media_files=1))
    assert imported.documents[0].key == f"whatsapp:chat:{chat_name.casefold()}"
    assert kept(imported) == wanted(expected)


def lines(*rows: str) -> bytes:
    return ("\n".join(rows) + "\n").encode()


def test_day_above_twelve_anywhere_decides_the_order() -> None:
    data = lines(
        "01/02/2024, 10:00 - A: early", "05/03/2024, 10:00 - B: x", "13/03/2024, 09:00 - A: y"
    )
    doc = whatsapp.read("c.txt", data).documents[0]
    assert [s.time for s in doc.segments] == [
        "2024-02-01T10:00:00",
        "2024-03-05T10:00:00",
        "2024-03-13T09:00:00",
    ]
    assert doc.notes == ()
    us = lines("01/02/24, 10:00 AM - A: x", "3/13/24, 9:00 PM - B: y")
    assert [s.time for s in whatsapp.read("c.txt", us).documents[0].segments] == [
        "2024-01-02T10:00:00",
        "2024-03-13T21:00:00",
    ]


def test_without_a_deciding_day_the_order_of_messages_decides_and_is_noted() -> None:
    # day first: 1 Feb, 2 Feb, 1 Mar runs forward; month first (2 Jan, 2 Feb, 3 Jan) runs back
    data = lines("01/02/2024, 10:00 - A: a", "02/02/2024, 10:00 - B: b", "01/03/2024, 10:00 - A: c")
    doc = whatsapp.read("c.txt", data).documents[0]
    assert [s.time[:10] for s in doc.segments] == ["2024-02-01", "2024-02-02", "2024-03-01"]
    assert doc.notes and "read as day/month from the order of the messages" in doc.notes[0]


def test_without_any_sign_the_format_decides_and_is_noted() -> None:
    twelve = lines("03/04/24, 9:04\u202fPM - A: a", "03/04/24, 9:05\u202fPM - B: b")
    doc = whatsapp.read("c.txt", twelve).documents[0]
    assert doc.segments[0].time == "2024-03-04T21:04:00"
    assert "month/day from the date format" in doc.notes[0]
    dots = lines("03.04.24, 21:04 - A: a", "03.04.24, 21:05 - B: b")
    doc = whatsapp.read("c.txt", dots).documents[0]
    assert doc.segments[0].time == "2024-04-03T21:04:00"
    assert "day/month from the date format" in doc.notes[0]


@pytest.mark.parametrize(
    ("line", "time"),
    [
        ("[31/12/2023, 21:04:05] A: x", "2023-12-31T21:04:05"),
        ("\u200e[31/12/2023, 21:04:05] A: x", "2023-12-31T21:04:05"),
        ("31/12/2023, 21:04 - A: x", "2023-12-31T21:04:00"),
        ("12/31/23, 9:04 PM - A: x", "2023-12-31T21:04:00"),
        ("12/31/23, 12:04\u202fAM - A: x", "2023-12-31T00:04:00"),
        ("31.12.23, 21:04 - A: x", "2023-12-31T21:04:00"),
        ("31.12.23 21:04 - A: x", "2023-12-31T21:04:00"),
        ("2023-12-31, 21:04 - A: x", "2023-12-31T21:04:00"),
        ("31/12/2023, 9:04 pm - A: x", "2023-12-31T21:04:00"),
        ("[12/31/23, 9:04:05\u202fPM] A: x", "2023-12-31T21:04:05"),
    ],
)
def test_header_variants(line: str, time: str) -> None:
    data = lines(line, line.replace(": x", ": y"))
    assert whatsapp.sniff("c.txt", data)
    doc = whatsapp.read("c.txt", data).documents[0]
    assert [(s.speaker, s.time) for s in doc.segments] == [("A", time), ("A", time)]


def test_notices_media_and_marks_are_not_anyones_words() -> None:
    data = lines(
        "12/01/2024, 10:00 - Messages and calls are end-to-end encrypted. Tap to learn more.",
        "12/01/2024, 10:01 - Ana added Bo",
        "12/01/2024, 10:02 - \u202a+44 7700 900123\u202c: hi from a number",
        "12/01/2024, 10:03 - ~\u202fKai: not in contacts <This message was edited>",
        "12/01/2024, 10:04 - Ana: <Media omitted>",
        "12/01/2024, 10:05 - Ana: <Medien ausgeschlossen>",
        "12/01/2024, 10:06 - Ana: DOC-20240112-WA0003.pdf (file attached)",
        "12/01/2024, 10:07 - Ana: See: the list",
        "first item",
        "",
        "second item",
    )
    imported = whatsapp.read("c.txt", data)
    assert kept(imported) == [
        ("+44 7700 900123", "hi from a number", "2024-01-12T10:02:00"),
        ("Kai", "not in contacts", "2024-01-12T10:03:00"),
        ("Ana", "See: the list\nfirst item\n\nsecond item", "2024-01-12T10:07:00"),
    ]
    assert imported.found.people == 3
    assert "3 media messages" in imported.found.line()


@pytest.mark.parametrize("name", [n for n, _ in ordinary_files()])
def test_ordinary_files_are_not_claimed(name: str) -> None:
    data = dict(ordinary_files())[name]
    assert not whatsapp.sniff(name, data)


def test_a_zip_without_a_chat_is_not_claimed() -> None:
    assert not whatsapp.sniff("photos.zip", make_zip({"a.txt": b"just notes\n", "b.jpg": b"x"}))


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("WhatsApp Chat - Ana.zip", b"PK\x03\x04broken", "cannot read zip archive"),
        (
            "WhatsApp Chat - Ana.zip",
            make_zip({"x/../../_chat.txt": b"[1/2/23, 1:02:03] A: x"}),
            "no readable WhatsApp chat",
        ),
        ("WhatsApp Chat - Ana.zip", make_zip({"_chat.txt": b"\0" * (30 << 20)}), "unpacks to"),
        ("c.txt", b"12/01/2024, 10:00 - A: <Media omitted>\n" * 2, "no messages"),
    ],
)
def test_bad_input_is_one_parse_error(name: str, data: bytes, reason: str) -> None:
    assert whatsapp.sniff(name, data)
    with pytest.raises(ParseError, match=rf"^{name.replace('.', '[.]')}: .*{reason}"):
        whatsapp.read(name, data)


def test_a_traversal_member_is_a_note_and_the_chat_is_read() -> None:
    data, expected, _ = whatsapp_chat(5, locale="ios", count=20)
    zipped = make_zip({"_chat.txt": data, "../../evil.txt": data, "/abs.jpg": b"x"})
    imported = whatsapp.read("WhatsApp Chat - x.zip", zipped)
    assert kept(imported) == wanted(expected)
    assert len(imported.notes) == 1 and "2 archive member(s) with unsafe paths" in imported.notes[0]


def test_a_truncated_export_keeps_what_is_there() -> None:
    data, expected, _ = whatsapp_chat(9, locale="android", count=50)
    cut = data[: len(data) // 2]
    doc = whatsapp.read("c.txt", cut).documents[0]
    times = [s.time for s in doc.segments]
    assert times == [m.time for m in expected.messages[: len(times)]]
    assert 10 < len(times) < len(expected.messages)


def test_hostile_lines_take_linear_time() -> None:
    line = "1" * 50_000 + "/" + "2" * 50_000 + ", " + "3" * 50_000
    data = lines("12/01/2024, 10:00 - A: x", line, "[" * 100_000, "12/01/2024, 10:01 - A: y")
    start = datetime.now()
    doc = whatsapp.read("c.txt", data).documents[0]
    assert (datetime.now() - start).total_seconds() < 1
    assert len(doc.segments) == 2


def test_a_zip_of_several_chats_is_one_document_each() -> None:
    first, first_expected, first_name = whatsapp_chat(21, locale="android", count=20)
    second, second_expected, second_name = whatsapp_chat(22, locale="dots", count=30, group=True)
    zipped = make_zip(
        {
            f"WhatsApp Chat with {first_name}.txt": first,
            f"WhatsApp Chat with {second_name}.txt": second,
            "IMG-20210302-WA0001.jpg": b"\xff\xd8",
        }
    )
    imported = whatsapp.read("chats.zip", zipped)
    assert [d.key for d in imported.documents] == [
        f"whatsapp:chat:{first_name.casefold()}",
        f"whatsapp:chat:{second_name.casefold()}",
    ]
    assert imported.found.line().startswith(
        f"WhatsApp chats: 2 chats, {len(first_expected.speakers | second_expected.speakers)} people"
    )
    assert "1 other file in the zip" in imported.found.line()


def test_a_line_with_an_impossible_date_stays_in_the_message_before() -> None:
    data = lines(
        "13/01/2024, 10:00 - A: look", "31/02/2024, 10:00 - B: pasted", "14/01/2024, 10:00 - B: ok"
    )
    doc = whatsapp.read("c.txt", data).documents[0]
    assert [s.text for s in doc.segments] == [
        "A: look\n  31/02/2024, 10:00 - B: pasted",
        "B: ok",
    ]
    assert "1 line(s) with an impossible date" in doc.notes[0]
