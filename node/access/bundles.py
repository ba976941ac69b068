"""Context bundles, both ends: the sealed box a node sends a peer for ``context``, and the checks
a bundle passes before this node keeps one it received.

A bundle is a sealed box (:mod:`secondme.protocol.sealed`: signed by the sender, encrypted to
the recipient) of content type :data:`CONTEXT_CONTENT_TYPE`, holding ``{"query", "grant_id",
"items"}``; each item is ``{"ref", "layer", "title", "text"}``, its ``ref`` naming the memory as
the audit log does, its text cut to a snippet.
"""

from __future__ import annotations

from collections.abc import Sequence

from secondme.node.memory.retrieval import L1Hit, SearchHit, memory_ref
from secondme.protocol.access import MAX_CONTEXT_ITEMS
from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.sealed import BundleError, open_sealed, seal
from secondme.protocol.wire import pack_canonical, unpack_strict

CONTEXT_CONTENT_TYPE = "secondme/context-1"
_SNIPPET_CHARS = 1200
_ITEM_KEYS = ("ref", "layer", "title", "text")


class UnexpectedContentType(BundleError):
    """A bundle that opens fine but holds something other than the context asked for."""

    code = "unexpected_content_type"


def context_items(hits: Sequence[SearchHit | L1Hit]) -> list[dict]:
    """The bundle items for ``hits``: reference, layer, title and a snippet of each."""
    return [
        {
            "ref": memory_ref(hit),
            "layer": hit.layer,
            "title": (hit.title if isinstance(hit, L1Hit) else hit.title or hit.name) or "",
            "text": hit.text[:_SNIPPET_CHARS],
        }
        for hit in hits
    ]


def seal_context(
    identity: Identity,
    recipient: PeerId,
    *,
    query: str,
    grant_id: str,
    items: Sequence[dict],
    created_ms: int,
) -> bytes:
    """The bundle answering ``query`` under ``grant_id``, sealed from ``identity`` to
    ``recipient``."""
    plaintext = pack_canonical({"query": query, "grant_id": grant_id, "items": list(items)})
    return seal(
        identity, recipient, plaintext, content_type=CONTEXT_CONTENT_TYPE, created_ms=created_ms
    )


def open_context(identity: Identity, bundle: bytes, *, sender: PeerId) -> tuple[list[dict], int]:
    """The items of a bundle ``sender`` sealed to ``identity``, and when it was made.

    Raises :class:`~secondme.protocol.sealed.BundleError` (its code says why: another
    recipient's, another sender's, a bad signature, :class:`UnexpectedContentType`),
    :class:`~secondme.protocol.errors.SmpError` or ``ValueError`` (a malformed bundle).
    """
    opened = open_sealed(identity, bundle, expected_sender=sender)
    if opened.content_type != CONTEXT_CONTENT_TYPE:
        raise UnexpectedContentType(
            f"a bundle of type {opened.content_type!r}, not {CONTEXT_CONTENT_TYPE!r}"
        )
    return read_items(unpack_strict(opened.plaintext)), opened.created_ms


def read_items(value: object) -> list[dict]:
    """The items of a bundle's plaintext, each with exactly the four text fields; raises
    ``ValueError`` for anything else."""
    if not isinstance(value, dict) or not isinstance(value.get("items"), list):
        raise ValueError("the bundle does not hold a list of items")
    if len(value["items"]) > MAX_CONTEXT_ITEMS:
        raise ValueError(f"the bundle holds more than {MAX_CONTEXT_ITEMS} items")
    items = []
    for item in value["items"]:
        if not isinstance(item, dict) or not all(
            isinstance(item.get(key), str) for key in _ITEM_KEYS
        ):
            raise ValueError("a bundle item lacks ref, layer, title or text")
        items.append({key: item[key] for key in _ITEM_KEYS})
    return items
