"""The mbox importer: one document per email, what the sender wrote, and bad mailboxes."""

from __future__ import annotations

import contextlib
import mailbox
import time
from datetime import datetime

import pytest

from secondme.node.core.errors import ParseError
from secondme.node.memory.imports import mbox
from secondme.node.memory.imports.mail_text import html_to_text, strip_replies
from secondme.node.memory.parsers import ParsedDocument
from tests.imports_fixtures.mail import make_mailbox

SEEDS = (1, 2, 7)


def assert_exact(doc: ParsedDocument) -> None:
    pos = 0
    for segment in doc.segments:
        assert pos <= segment.start < segment.end <= len(doc.text)
        assert doc.text[segment.start : segment.end] == segment.text
        assert not doc.text[pos : segment.start].strip()
        pos = segment.end
    assert not doc.text[pos:].strip()


@pytest.mark.parametrize("seed", SEEDS)
def test_every_email_reads_as_what_its_sender_wrote(seed: int) -> None:
    box = make_mailbox(seed)
    imported = mbox.read("All mail.mbox", box.data)
    assert imported.notes == ()
    assert len(imported.documents) == len(box.emails)
    for doc, want in zip(imported.documents, box.emails, strict=True):
        assert_exact(doc)
        assert doc.kind == "email"
        assert doc.title == want.subject
        assert doc.date == want.date
        if want.key is not None:
            assert doc.key == want.key
        else:
            assert doc.key is not None and doc.key.startswith("email:")
        assert doc.text.startswith(f"From: {want.sender}\n"), want.kind
        assert f"\nSubject: {want.subject}\n" in doc.text
        for word in want.fresh:
            assert word in doc.text, (want.kind, word, doc.text)
        for word in want.gone:
            assert word not in doc.text, (want.kind, word, doc.text)
        assert "-- " not in doc.text.split("\n")
        assert all(s.speaker == want.sender and s.time == want.date for s in doc.segments)
        assert len(doc.segments) > 2  # the header block, then paragraphs
        ids = [s.id for s in doc.segments]
        assert len(set(ids)) == len(ids) and all(i.startswith(doc.key + "#") for i in ids)
        if want.thread:
            assert {s.session for s in doc.segments} == {want.thread}
        assert bool(doc.notes) == want.damaged, (want.kind, doc.notes)


@pytest.mark.parametrize("seed", SEEDS)
def test_found_line_counts_emails_people_span_and_attachments(seed: int) -> None:
    box = make_mailbox(seed)
    found = mbox.read("x.mbox", box.data).found
    times = sorted(datetime.fromisoformat(e.date) for e in box.emails)
    first, last = (t.date().isoformat() for t in (times[0], times[-1]))
    attachments = sum(e.attachments for e in box.emails)
    assert found.line().startswith(
        f"mailbox: {len(box.emails)} emails, {box.people} people, {first} – {last}, "
        f"{attachments} attachments not read"
    )
    damaged = sum(e.damaged for e in box.emails)
    assert f"{damaged} with damaged text" in found.line()


def test_a_newer_export_keeps_every_key_and_message_id() -> None:
    older = mbox.read("a.mbox", make_mailbox(3, count=12).data).documents
    newer = mbox.read("b.mbox", make_mailbox(3, count=18).data).documents
    assert [d.key for d in newer[:12]] == [d.key for d in older]
    assert [[s.id for s in d.segments] for d in newer[:12]] == [
        [s.id for s in d.segments] for d in older
    ]
    assert len({d.key for d in newer}) == 18


def test_a_repeated_message_is_read_once() -> None:
    box = make_mailbox(4, count=5)
    imported = mbox.read("x.mbox", box.data + box.data)
    assert len(imported.documents) == 5
    assert "5 duplicates left out" in imported.found.line()


def test_sniff_claims_mailboxes_by_content_and_leaves_plain_files() -> None:
    data = make_mailbox(5, count=3).data
    assert mbox.sniff("All mail Including Spam and Trash.mbox", data)
    assert mbox.sniff("Inbox", data)  # a Thunderbird folder has no suffix
    for name in ("notes.txt", "mail.md", "x.json", "x.csv", "x.html"):
        assert not mbox.sniff(name, data)
    plain = [
        b"My dog is called Biscuit.\nShe is old.\n\nI live in Ghent.\n",
        b"From here on we walk.\nIt was a long day.\n",
        b"# Title\n\nFrom: me\n",
        b'{"title": "x"}',
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
        b"PK\x03\x04" + bytes(range(256)),
        b"",
    ]
    for content in plain:
        assert not mbox.sniff("Inbox", content)
        assert not mbox.sniff("x.mbox", content)


def test_binary_junk_and_empty_files_are_one_clear_error() -> None:
    for content in (bytes(range(256)) * 40, b"", b"From nobody\n"):
        with pytest.raises(ParseError) as error:
            mbox.read("junk.mbox", content)
        assert str(error.value).startswith("junk.mbox: ")


def test_a_truncated_mailbox_keeps_what_it_holds() -> None:
    box = make_mailbox(6, count=10)
    cut = box.data[: len(box.data) * 2 // 3]
    imported = mbox.read("cut.mbox", cut)
    assert 5 <= len(imported.documents) <= 7
    for doc, want in zip(imported.documents[:-1], box.emails, strict=False):
        assert doc.key == want.key or want.key is None
    cut_in_headers = box.data[: box.data.index(b"\nSubject:", len(box.data) // 2)]
    assert mbox.read("cut.mbox", cut_in_headers).documents


def test_garbage_headers_are_a_note_and_the_rest_goes_on() -> None:
    good = make_mailbox(8, count=4).data
    garbage = (
        b"From junk@example.com Mon Jan  6 10:00:00 2020\n"
        b"X-Junk: \xff\xfe\x00\x01\n\x00\x02\x03 not a header at all\n\n\xff\xd8\xff\xe0 body\n\n"
    )
    hostile_headers = (
        b"From junk@example.com Mon Jan  6 10:00:00 2020\n"
        b'From: =?x-bogus?q?=ZZ=?= <<<@@>>>, ,,,\nTo: "unclosed\nDate: Thursday the 40th\n'
        b"Subject: =?utf-8?b?####?=\nMessage-ID: <>\nContent-Type: multipart/mixed\n\nno parts\n\n"
    )
    imported = mbox.read("mixed.mbox", hostile_headers + good[:100] + b"\n" + garbage + good)
    assert len(imported.documents) >= 4
    assert any("email 3: no readable headers" in n for n in imported.notes), imported.notes
    assert all(n.startswith("mixed.mbox: email ") for n in imported.notes)


def test_hostile_input_is_read_in_bounded_time() -> None:
    hostile = [
        b"From a b 1\nX: y\n" + b"\nFrom " * 200_000,
        b"From a b 1\nX: y\n\n" + b"> " * 500_000 + b"x:\n" * 10_000,
        b"From a b 1\nSubject: " + b"=?utf-8?q?" * 100_000 + b"\n\n" + b"-" * 200_000,
    ]
    for data in hostile:
        began = time.monotonic()
        with contextlib.suppress(ParseError):
            mbox.read("h.mbox", data)
        assert time.monotonic() - began < 5


@pytest.mark.parametrize(
    ("text", "kept", "cut"),
    [
        # Inline replies: the answers stay, the quoted questions and their attribution go.
        (
            "On 3 Jan 2019, Ana wrote:\n> when?\nTuesday.\n> where?\nPorto.",
            ["Tuesday.", "Porto."],
            ["when?", "where?", "Ana wrote"],
        ),
        # A wrapped attribution in another language, before a block of quotes.
        (
            "Klingt gut.\n\nAm 03.01.2019 um 10:00 schrieb Jürgen Weiß <\nj@example.com>:\n> alt",
            ["Klingt gut."],
            ["schrieb", "j@example.com", "alt"],
        ),
        # A line ending with a colon that introduces no quote is what the sender wrote.
        ("Shopping list:\neggs\nmilk", ["Shopping list:", "eggs"], []),
        # Outlook's separator line of underscores and its header block.
        (
            "Fine by me.\n\n________________________________\nFrom: Tom\nSent: Monday\nOld text",
            ["Fine by me."],
            ["From: Tom", "Old text"],
        ),
        # The RFC 3676 signature.
        ("See you.\n-- \nAna\n+351 000", ["See you."], ["+351"]),
        # Dashes inside the text are not a separator.
        ("a --- b\n-----\nstill mine", ["a --- b", "still mine"], []),
    ],
)
def test_quotes_and_signatures_are_cut_by_structure(text: str, kept: list, cut: list) -> None:
    result = strip_replies(text)
    for piece in kept:
        assert piece in result
    for piece in cut:
        assert piece not in result


@pytest.mark.parametrize("seed", SEEDS)
def test_the_cut_agrees_with_the_standard_library_mailbox(seed: int, tmp_path) -> None:
    box = make_mailbox(seed)
    path = tmp_path / "box.mbox"
    path.write_bytes(box.data)
    folder = mailbox.mbox(path, create=False)
    try:
        theirs = [m.get("Message-ID", "").strip("<>") or None for m in folder]
    finally:
        folder.close()
    ours = [doc.key for doc in mbox.read("box.mbox", box.data).documents]
    assert len(ours) == len(theirs)
    assert [f"email:{m}" for m in theirs if m] == [k for k in ours if "sha256" not in k]


def test_html_quotes_and_outlook_blocks_are_cut_like_plain_ones() -> None:
    gmail = (
        '<div dir="ltr">See you <b>Friday</b>!</div><div class="gmail_quote"><div>On Tue, Mar 5,'
        " 2024 at 9:12 AM Ana &lt;ana@x.com&gt; wrote:<br></div><blockquote>Are we on?</blockquote>"
    )
    outlook = (
        "<p>Approved.</p><hr><div><b>From:</b> Tom<br><b>Sent:</b> Monday<br><b>Subject:</b> B"
        "</div><p>Please approve</p>"
    )
    assert strip_replies(html_to_text(gmail)) == "See you Friday!"
    assert strip_replies(html_to_text(outlook)) == "Approved."
