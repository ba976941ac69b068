"""Names the owner gives to things (roles, peers): short, and safe in a URL path and a shell.

What may name a peer in a request path (``ask PEER``, the MCP tool ``ask_peer``,
``/api/peers/{peer}/...``) is checked too: a peer ID (base58 text, which the grammar covers), a
name the owner gave, or a display name a peer chose. Dot segments and the characters that mean
something in a URL (``/``, ``?``, ``#``, ``%``) are refused before anything is looked up or put
in a URL, and the path segment is quoted as well.
"""

from __future__ import annotations

import re

from secondme.node.core.errors import InvalidRequest

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
GRAMMAR = "letters, digits, '.', '_' or '-', starting with a letter or digit, at most 64"
MAX_PEER_REF = 128
_URL_SPECIAL = re.compile(r"[/?#%\\]")


def check_name(kind: str, name: str) -> str:
    """``name`` if it is a valid name; :class:`InvalidRequest` naming the ``kind`` otherwise."""
    if not _NAME.fullmatch(name):
        raise InvalidRequest(f"{kind} name {name!r}: use {GRAMMAR}")
    return name


def check_peer_ref(ref: str) -> str:
    """``ref`` if it can name a peer; :class:`InvalidRequest` otherwise.

    A peer is named by its ID, a name the owner gave it (both fit the grammar above), or the
    display name it chose, which may hold spaces and letters of any script: 1 to 128 bytes of
    printable text, without surrounding spaces, without the characters that mean something in
    a URL (``/ ? # % \\``), and never a dot segment (``.``, ``..``).
    """
    if _NAME.fullmatch(ref) or (
        ref not in (".", "..")
        and 0 < len(ref.encode("utf-8")) <= MAX_PEER_REF
        and ref == ref.strip()
        and ref.isprintable()
        and not _URL_SPECIAL.search(ref)
    ):
        return ref
    raise InvalidRequest(
        f"{ref!r} is not a peer ID or a peer name: use the peer's ID, a name you gave it "
        "(`peers add --name`), or its display name"
    )
