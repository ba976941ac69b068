"""Files that are not exports: what the plain parsers read, which no importer may claim."""

from __future__ import annotations

import json

from tests.unit.test_parsers import CHAT_LINES, HTML, MARKDOWN, handmade_pdf, make_docx


def ordinary_files() -> list[tuple[str, bytes]]:
    """(name, bytes) of ordinary txt, md, html, csv, json, jsonl, pdf and docx files, including
    the node's own chat ``.jsonl`` and a generic JSON list."""
    chat_lines = "\n".join(json.dumps(line) for line in CHAT_LINES).encode()
    return [
        ("notes.txt", b"My dog is called Biscuit.\nShe is old.\n\nI live in Ghent.\n"),
        ("diary.txt", b"31 December 2023\nWe went to the beach: cold but nice.\n"),
        ("dated.txt", b"31/12/2023, 21:04 - went out\n01/01/2024, 10:00 - slept in\n"),
        ("log.txt", b"2023-12-31 21:04:05,123 - root - INFO - started\n" * 3),
        ("plan.md", MARKDOWN.encode()),
        ("page.html", HTML.encode()),
        ("table.csv", b"date,who,what\n31/12/2023,Ann,party\n01/01/2024,Bob,rest\n"),
        ("profile.json", json.dumps({"title": "Profile", "messages": ["hi"], "id": 3}).encode()),
        ("list.json", json.dumps([{"a": 1, "create_time": 2}, {"b": [1, 2]}]).encode()),
        ("turns.json", json.dumps(CHAT_LINES[:2]).encode()),
        ("chat.jsonl", chat_lines),
        ("paper.pdf", handmade_pdf(["some text", "more text"])),
        ("letter.docx", make_docx("Letter")),
    ]
