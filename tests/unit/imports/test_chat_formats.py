"""The three chat importers together: each claims its own exports only, and damaged exports
give documents or one ParseError, never anything else."""

from __future__ import annotations

import random

import pytest

from secondme.node.core.errors import ParseError
from secondme.node.memory.imports import chatgpt, telegram, whatsapp
from tests.imports_fixtures.chats import (
    WHATSAPP_LOCALES,
    chatgpt_conversation,
    dumps,
    telegram_chat,
    telegram_export,
    whatsapp_chat,
    whatsapp_zip,
)
from tests.unit.test_parsers import _mutations, assert_segments_are_exact

READERS = {"whatsapp": whatsapp, "telegram": telegram, "chatgpt": chatgpt}


def exports(seed: int) -> list[tuple[str, str, bytes]]:
    """(format, file name, bytes) of one export of each kind."""
    out = []
    for locale in WHATSAPP_LOCALES:
        data, _, name = whatsapp_chat(seed, locale=locale, count=25, group=True)
        out.append(("whatsapp", f"WhatsApp Chat with {name}.txt", data))
    data, _, name = whatsapp_chat(seed, locale="ios", count=25)
    out.append(("whatsapp", f"WhatsApp Chat - {name}.zip", whatsapp_zip(seed, data, "_chat.txt")))
    chat, _ = telegram_chat(seed, count=25)
    out.append(("telegram", "result.json", dumps(chat)))
    out.append(
        (
            "telegram",
            "result.json",
            dumps(telegram_export([chat, telegram_chat(seed + 1, count=5)[0]])),
        )
    )
    out.append(("chatgpt", "conversations.json", dumps([chatgpt_conversation(seed, turns=4)[0]])))
    return out


@pytest.mark.parametrize("seed", [7, 2024])
def test_each_export_is_claimed_by_its_own_reader_only(seed: int) -> None:
    for kind, name, data in exports(seed):
        claims = {k for k, module in READERS.items() if module.sniff(name, data)}
        assert claims == {kind}, name
        # the content decides, not the name
        claims = {k for k, module in READERS.items() if module.sniff("download", data)}
        assert claims == {kind}, name


@pytest.mark.parametrize("kind", sorted(READERS))
def test_damaged_exports_give_documents_or_a_parse_error(kind: str) -> None:
    rng = random.Random(kind)
    seeds = [data for k, _, data in exports(3) if k == kind]
    module = READERS[kind]
    for data in _mutations(rng, seeds):
        try:
            imported = module.read("damaged", data)
        except ParseError as exc:
            assert exc.message.startswith("damaged: ")
        else:
            assert imported.documents
            for doc in imported.documents:
                assert doc.key and doc.key.startswith(f"{kind}:")
                assert_segments_are_exact(doc)
                assert all(s.id for s in doc.segments)
