"""Exports of other apps and photos through a real daemon and the CLI: each recognised by its
content and summed up in one line, found again by search with its speaker, time or place, a newer
export adding only its new messages, the owner's own words read as the owner's, and bad input
one line each while the rest goes on."""

from __future__ import annotations

import zipfile
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest

from tests.e2e import harness
from tests.imports_fixtures import chats, mail, notes, photos, voice

pytestmark = pytest.mark.slow

OWNER = "Ingrid Solberg"
"""The profile's name: no speaker of the generated chats has it."""
WAIT_SECONDS = 25
"""Recordings longer than this are transcribed in the background
(``memory.transcribe_wait_seconds``)."""


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    root = tmp_path_factory.mktemp("imports")
    harness.init_greedy(root / "node", "--name", OWNER)
    # L1 by its rules alone (facts, entities): what these tests read of it, without the
    # model's titles and entity types, which other tests cover and which would take minutes.
    harness.edit_config(
        root / "node",
        memory={
            "transcribe_wait_seconds": WAIT_SECONDS,
            "l1_summaries_per_topic": 0,
            "l1_model_entities": 0,
        },
    )
    node = harness.start_node(root / "node")
    try:
        yield node
    finally:
        node.terminate()


@pytest.fixture
def files(tmp_path) -> Path:
    return tmp_path


def documents(node) -> list[dict]:
    return node.cli_json("memory", "documents")


def search(node, query: str, k: int = 5) -> list[dict]:
    return node.cli_json("search", query, "--k", str(k))


def ingest(node, *args: str, check: bool = True):
    return node.cli("ingest", *args, check=check, timeout=600)


@pytest.mark.parametrize("seed,locale", [(11, "android"), (12, "ios_us")])
def test_a_whatsapp_zip_and_then_a_newer_export_of_the_same_chat(node, files, seed, locale):
    full, expected, name = chats.whatsapp_chat(seed, locale=locale, count=40)
    early, early_expected, _ = chats.whatsapp_chat(seed, locale=locale, count=25)
    assert full.startswith(early)  # the same chat, exported again later
    member = chats.whatsapp_file_name(name, locale)
    first = files / f"WhatsApp Chat with {name}.zip"
    first.write_bytes(chats.whatsapp_zip(seed, early, member))

    out = ingest(node, str(first), "--tag", f"wa{seed}").stdout
    speakers = len({m.speaker for m in early_expected.messages})
    count = len(early_expected.messages)
    assert f"WhatsApp chat: {speakers} people, {count} messages" in out, out
    assert f"({count} new)" in out
    ours = [d for d in documents(node) if f"wa{seed}" in d["tags"]]
    assert len(ours) == 1 and ours[0]["source"].startswith("whatsapp:")
    chunks_before = ours[0]["chunks"]

    later = files / f"WhatsApp Chat with {name} (1).zip"
    later.write_bytes(chats.whatsapp_zip(seed + 1, full, member))
    out = ingest(node, str(later), "--tag", f"wa{seed}").stdout
    added = len(expected.messages) - count
    assert f"({added} new)" in out, out
    assert "1 updated" in out
    ours = [d for d in documents(node) if f"wa{seed}" in d["tags"]]
    assert len(ours) == 1 and ours[0]["chunks"] > chunks_before

    out = ingest(node, str(later), "--tag", f"wa{seed}").stdout
    assert "all in memory already" in out or "1 unchanged" in out, out

    # A message only the newer export holds is found, with who said it and when.
    newest = max(expected.messages[count:], key=lambda m: len(m.text))
    hits = search(node, newest.text.replace("\n", " "), k=5)
    hit = next(h for h in hits if newest.text.split("\n")[0] in h["text"])
    assert newest.speaker in hit["source"]["speakers"]
    start, end = (t[:16] for t in hit["source"]["time"])  # to the minute, as WhatsApp says
    assert start <= newest.time[:16] <= end
    # ... and it is there once: each message is in one chunk, or two where a chunk repeats
    # the last turn of the one before.
    line = f"{newest.speaker}: {newest.text.splitlines()[0]}"
    every = [h for h in search(node, newest.text.replace("\n", " "), k=20) if line in h["text"]]
    assert 1 <= len(every) <= 2


def test_a_telegram_export_folder_is_one_document_per_chat(node, files):
    one, _ = chats.telegram_chat(21, count=15)
    two, expected_two = chats.telegram_chat(22, count=12, group=True)
    folder = files / "ChatExport_2024-11-30"
    (folder / "photos").mkdir(parents=True)
    (folder / "photos" / "photo_1.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    (folder / "result.json").write_bytes(chats.dumps(chats.telegram_export([one, two])))
    out = ingest(node, str(folder), "--tag", "tg").stdout
    assert "Telegram export folder (reading result.json)" in out
    assert "Telegram export: 2 chats" in out, out
    ours = [d for d in documents(node) if "tg" in d["tags"]]
    assert sorted(d["source"] for d in ours) == sorted(f"telegram:{c['id']}" for c in (one, two))
    # The whole-account export names its owner: their messages are the owner's own words.
    assert {d["me"] for d in ours} == {"Me"}
    said = max(expected_two.messages, key=lambda m: len(m.text))
    hits = search(node, said.text, k=5)
    assert any(said.speaker in h["source"]["speakers"] for h in hits)


def test_chatgpt_conversations_follow_the_path_taken(node, files):
    conversations, expected = zip(
        *(chats.chatgpt_conversation(seed, turns=5) for seed in (31, 32)), strict=True
    )
    path = files / "conversations.json"
    path.write_bytes(chats.dumps(list(conversations)))
    out = ingest(node, str(path), "--tag", "gpt").stdout
    assert "ChatGPT" in out and "2 conversations" in out, out
    ours = [d for d in documents(node) if "gpt" in d["tags"]]
    assert len(ours) == 2 and {d["me"] for d in ours} == {"User"}
    said = max(expected[0].messages, key=lambda m: len(m.text))
    hits = search(node, said.text, k=5)
    assert any(said.text.split("\n")[0] in h["text"] for h in hits)


def test_a_mailbox_is_one_document_per_email_without_quotes(node, files):
    box = mail.make_mailbox(41, count=8)
    path = files / "All mail Including Spam and Trash.mbox"
    path.write_bytes(box.data)
    out = ingest(node, str(path), "--tag", "mail").stdout
    readable = [e for e in box.emails if e.key is not None]
    assert "mailbox:" in out, out
    ours = [d for d in documents(node) if "mail" in d["tags"]]
    assert len(ours) == len({e.key for e in readable})
    email = next(e for e in readable if e.fresh and e.gone)
    hits = search(node, email.fresh[0], k=5)
    assert any(email.fresh[0] in h["text"] for h in hits)
    # Quoted replies are the other side's words: not stored as this email's.
    texts = " ".join(h["text"] for h in search(node, email.gone[0], k=20))
    assert email.gone[0] not in texts


def test_an_obsidian_vault_gives_tags_and_daily_dates(node, files):
    vault = files / "vault"
    (vault / ".obsidian").mkdir(parents=True)
    made = notes.make_vault(51)
    for note in made:
        (vault / note.path).parent.mkdir(parents=True, exist_ok=True)
        (vault / note.path).write_bytes(note.data)
    out = ingest(node, str(vault)).stdout
    assert f"Obsidian vault, {len(made)} notes" in out, out
    listed = {d["path"]: d for d in documents(node) if d["path"].startswith(str(vault))}
    assert len(listed) == len(made)
    for note in made:
        doc = listed[str((vault / note.path).resolve())]
        if not note.obsidian:  # plain Markdown: read as before
            assert doc["source"] is None and doc["kind"] == "markdown"
            continue
        assert doc["source"].startswith("note:")
        assert note.tags <= set(doc["tags"])  # #tags and front matter tags become tags
        assert note.links <= set(doc["links"])
        if note.day:
            assert (doc["date"] or "").startswith(note.day)


def test_a_photo_is_found_by_its_words_and_its_place(node, files):
    shot = photos.shot(61)
    path = files / "IMG_2041.jpg"
    path.write_bytes(photos.jpeg(shot))
    out = ingest(node, str(path)).stdout
    assert "photo: taken" in out and shot.city.name in out, out
    word = max(shot.words, key=len)
    hits = search(node, word, k=3)
    assert hits[0]["source"]["name"] == "IMG_2041.jpg"
    hits = search(node, f"photo near {shot.city.name}", k=3)
    assert hits[0]["source"]["name"] == "IMG_2041.jpg"
    assert hits[0]["source"]["when"].startswith(shot.taken.date().isoformat())
    # The same photo again is not read again.
    assert "1 unchanged" in ingest(node, str(path)).stdout


def test_bad_exports_get_one_line_each_and_the_rest_goes_on(node, files):
    before = {d["id"]: d["chunks"] for d in documents(node)}
    sneaky = BytesIO()
    with zipfile.ZipFile(sneaky, "w") as archive:
        archive.writestr("../../.bashrc", "echo owned")
    (files / "sneaky.zip").write_bytes(sneaky.getvalue())
    (files / "broken.mbox").write_bytes(b"\x00\x01garbage that is no mailbox\xff" * 20)
    (files / "cut.jpg").write_bytes(photos.jpeg(photos.shot(62))[:1500])
    good_chat, _, name = chats.whatsapp_chat(71, locale="dots", count=8)
    (files / f"WhatsApp Chat with {name}.txt").write_bytes(good_chat)
    result = ingest(node, str(files), check=False)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3, result.stderr
    assert any("sneaky.zip" in e for e in errors)
    assert any("broken.mbox" in e for e in errors)
    assert any("cut.jpg" in e for e in errors)
    assert "1 added" in result.stdout
    after = {d["id"]: d["chunks"] for d in documents(node)}
    assert {k: v for k, v in after.items() if k in before} == before  # nothing else touched
    assert len(after) == len(before) + 1


def test_the_owners_own_words_in_a_chat_are_the_owners(node, files):
    """``--me`` names the owner in a chat whose names are not the profile's: what they say of
    themselves is a fact about the owner, what the other says stays the other's."""
    chat, expected, name = chats.whatsapp_chat(81, locale="android", count=6)
    me, other = sorted(expected.speakers)[:2]
    last = datetime.fromisoformat(expected.messages[-1].time)
    lines = [
        f"{chats.whatsapp_stamp(last + timedelta(minutes=5), 'android')}{me}: "
        "Big news: I moved to Tromsø in March.",
        f"{chats.whatsapp_stamp(last + timedelta(minutes=9), 'android')}{other}: "
        "I moved to Valparaíso last year.",
    ]
    path = files / f"WhatsApp Chat with {name}.txt"
    path.write_bytes(chat + ("\n".join(lines) + "\n").encode())
    ingest(node, str(path), "--me", me, "--tag", "own")
    node.cli("memory", "status", "--wait", "600", timeout=700)
    facts = node.cli_json("memory", "facts", "--all")["facts"]
    mine = {f["object"] for f in facts if f["predicate"] == "lives_in" and f["owner"]}
    assert "Tromsø" in mine and "Valparaíso" not in mine
    theirs = {f["object"] for f in facts if f["predicate"] == "lives_in" and not f["owner"]}
    assert "Valparaíso" in theirs
    doc = next(d for d in documents(node) if "own" in d["tags"])
    assert doc["me"] == me


def _heard(words: list[str], text: str) -> float:
    said = text.lower()
    return sum(w in said for w in words) / len(words)


@pytest.mark.skipif(not voice.espeak_available(), reason="espeak-ng makes the voice notes")
def test_a_voice_note_is_found_by_its_words_at_the_second_it_was_said(node, files):
    made = voice.recording(91, sentences=2, pause=3.0)
    assert made.duration < WAIT_SECONDS
    path = files / "memo.m4a"
    path.write_bytes(voice.convert(made.wav, "m4a"))
    out = ingest(node, str(path), "--tag", "voice").stdout
    assert "memo.m4a: voice note:" in out and "words" in out, out
    second = made.sentences[1]
    hits = search(node, second, k=3)
    hit = next(h for h in hits if h["source"]["name"] == "memo.m4a")
    assert _heard(voice.content_words(second), hit["text"]) >= 0.6, hit["text"]
    # The citation points at the second where it was said: the line of the second sentence.
    lines = [line for line in hit["text"].splitlines() if line.startswith("[")]
    best = max(lines, key=lambda line: _heard(voice.content_words(second), line))
    minutes, seconds = best[1 : best.index("]")].split(":")
    assert abs(int(minutes) * 60 + int(seconds) - made.starts[1]) <= 1.5, (best, made.starts)
    assert hit["source"]["at"] is not None and hit["source"]["at"] <= made.starts[1] + 1.5
    shown = node.cli("search", second, "--k", "1").stdout
    assert "memo.m4a" in shown and " at 0:" in shown


@pytest.mark.skipif(not voice.espeak_available(), reason="espeak-ng makes the voice notes")
def test_a_long_recording_is_transcribed_in_the_background(node, files):
    made = voice.recording(92, sentences=5, pause=4.0)
    assert made.duration > WAIT_SECONDS
    path = files / "lecture.ogg"
    path.write_bytes(voice.convert(made.wav, "ogg"))
    result = ingest(node, str(path), "--tag", "long")
    assert "transcribing in the background" in result.stdout and "1 queued" in result.stdout
    status = node.cli_json("memory", "status", "--wait", "600")
    assert status["memory"]["transcriptions"] == []
    doc = next(d for d in documents(node) if "long" in d["tags"])
    assert doc["kind"] == "voice" and doc["chunks"] >= 1
    last = made.sentences[-1]
    hits = search(node, last, k=3)
    assert any(h["source"]["name"] == "lecture.ogg" for h in hits)
    # Sent again, it is in memory already: not queued, not transcribed twice.
    assert "1 unchanged" in ingest(node, str(path), "--tag", "long").stdout
