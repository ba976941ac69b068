"""The Obsidian note importer: tags, links, dates, and plain markdown left alone."""

from __future__ import annotations

import time

import pytest

from secondme.node.core.errors import ParseError
from secondme.node.memory.imports import notes
from secondme.node.memory.parsers import parse_document, parse_markdown
from tests.imports_fixtures.notes import make_vault
from tests.unit.imports.test_mbox import assert_exact

SEEDS = (1, 2, 5)


@pytest.mark.parametrize("seed", SEEDS)
def test_each_note_reads_with_its_tags_links_and_date(seed: int) -> None:
    for note in make_vault(seed):
        assert notes.sniff(note.path, note.data) == note.obsidian, note.path
        if not note.obsidian:
            continue
        imported = notes.read(note.path, note.data)
        (doc,) = imported.documents
        assert_exact(doc)
        assert doc.key == f"note:{note.path}"
        assert doc.title == note.path.rsplit("/", 1)[-1].removesuffix(".md")
        assert set(doc.tags) == note.tags
        assert set(doc.links) == note.links
        assert doc.date == note.day
        for shown in note.shown:
            assert shown in doc.text, (shown, doc.text)
        for hidden in note.hidden:
            assert hidden not in doc.text
        assert "[[" not in doc.text.replace("[[Not a link]]", "").replace("[[Code link]]", "")
        tags, links = len(note.tags), len(note.links)
        line = imported.found.line()
        assert line.startswith(
            f"Obsidian note: {note.day}, {tags} tag{'s' * (tags != 1)}, "
            f"{links} link{'s' * (links != 1)}"
        )
        assert ("also called" in line) == ("aliases:" in note.hidden)


@pytest.mark.parametrize("seed", SEEDS)
def test_plain_markdown_is_left_to_the_plain_parser(seed: int) -> None:
    plain = [n for n in make_vault(seed) if not n.obsidian]
    assert plain
    for note in plain:
        assert not notes.sniff(note.path, note.data)
        assert parse_document(note.path, note.data).date is not None  # the old reader, as before


def test_ordinary_files_are_not_claimed() -> None:
    ordinary = {
        "notes.txt": b"My dog is called Biscuit #dog [[x]].\n",
        "readme.md": b"# Title\n\nSome *markdown* text with a [link](https://x.org/#frag).\n",
        "list.markdown": b"## Shopping\n\n- eggs\n- milk #2\n",
        "front.md": b"---\ntitle: A post\ndate: 2024-01-02\n---\n# A post\n\nText.\n",
        "code.md": b"```\n#include <stdio.h>\n[[not]]\n```\n",
        "x.json": b'{"tags": ["a"]}',
        "x.csv": b"a,b\n#x,[[y]]\n",
        "junk.md": bytes(range(256)) * 4,
    }
    for name, data in ordinary.items():
        assert not notes.sniff(name, data), name


def test_parse_markdown_is_what_parse_document_reads_markdown_with() -> None:
    data = b"---\ndate: 2024-01-02\n---\n# Title\n\nOne.\n\n## Two\ntext\n"
    assert parse_markdown("a.md", data) == parse_document("a.md", data)


def test_daily_note_names_and_front_matter_dates() -> None:
    cases = {
        "2024-03-05.md": "2024-03-05",
        "Journal/2024-03-05 Tuesday.md": "2024-03-05",
        "2024-03-05-notes.md": "2024-03-05",
        "2024-13-05.md": None,
        "20240305.md": None,
        "Meeting 2024-03-05.md": None,
    }
    for name, day in cases.items():
        assert notes.read(name, b"Did things with [[Ana]].").documents[0].date == day, name
    front = b"---\ndate: 2020-02-02\ncreated: 2019-01-01\n---\n[[x]]"
    assert notes.read("2024-03-05.md", front).documents[0].date == "2020-02-02"


def test_links_and_embeds() -> None:
    text = (
        b"[[Folder/Ana Silva.md|Ana]] [[#Local heading]] ![[scan.pdf]] ![[Ideas]] "
        b"[[Trip#^block1]] [[ ]] [[unclosed and [[Real]]"
    )
    doc = notes.read("n.md", text).documents[0]
    assert doc.links == ("Ana Silva", "Ideas", "Trip", "Real")
    assert doc.text.startswith("Ana Local heading scan.pdf Ideas Trip > block1 [[ ]] [[unclosed")


def test_tags_forms() -> None:
    text = b"#top line\n# Heading\n(#not) a#b #1984 #a/b/ #Caf\xc3\xa9 end#x `#code`\n"
    doc = notes.read("n.md", text).documents[0]
    assert doc.tags == ("top", "a/b", "café")
    meta = b"---\ntags: one, Two\ntag: [ignored]\n---\nbody"
    assert notes.read("n.md", meta).documents[0].tags == ("one", "two")


def test_bad_notes_are_read_or_one_clear_error() -> None:
    with pytest.raises(ParseError) as error:
        notes.read("junk.md", bytes(range(256)) * 40)
    assert str(error.value).startswith("junk.md: ")
    with pytest.raises(ParseError):
        notes.read("empty.md", b"  \n")
    broken = notes.read("b.md", b"---\ntags: [unclosed\n  : : :\n---\nText with [[Link]].\n")
    assert broken.documents[0].links == ("Link",)
    assert broken.notes == ("b.md: front matter is not valid YAML; left out",)
    unclosed = notes.read("u.md", b"---\ntags: [a]\nno end\n\n[[L]]")
    assert unclosed.documents[0].links == ("L",)
    laughs = b"---\na: &a [x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\n"
    laughs += b"c: &c [*b,*b,*b,*b,*b,*b,*b,*b]\ntags: [*c, *c]\n---\n[[L]]"
    assert notes.read("l.md", laughs).documents[0].tags == ()


def test_hostile_notes_are_read_in_bounded_time() -> None:
    hostile = [
        b"[[" * 200_000,
        b"![[" + b"a" * 400_000 + b"]]",
        b"#" * 400_000,
        b"`" * 100_000 + b"x" + b"``" * 49_999,
        b" ".join(b"`" * n for n in range(1, 900)),
        b"---\n" + b"tags: a\n" * 50_000,
        b"```\n" + b"[[x]]\n" * 100_000,
    ]
    for data in hostile:
        began = time.monotonic()
        notes.sniff("h.md", data)
        notes.read("h.md", data)
        assert time.monotonic() - began < 5


def test_markdown_links_to_notes_are_links_but_do_not_make_a_note() -> None:
    readme = b"# Project\n\nSee [setup](docs/setup.md) and [site](https://x.org/a.md).\n"
    assert not notes.sniff("README.md", readme)
    text = b"Met [Ana](People/Ana%20Silva.md#Work), [web](https://x.org/b.md), [x](<My note.md>)."
    text += b'\n#met [y](Other.md "a title") [z](/abs.md)\n'

    doc = notes.read("n.md", text).documents[0]
    assert doc.links == ("Ana Silva", "My note", "Other")
    assert "[Ana](People/Ana%20Silva.md#Work)" in doc.text
