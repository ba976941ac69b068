"""Names the owner gives to things (roles, peers): short, and safe in a URL path and a shell."""

from __future__ import annotations

import re

from secondme.node.errors import InvalidRequest

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_name(kind: str, name: str) -> str:
    """``name`` if it is a valid name; :class:`InvalidRequest` naming the ``kind`` otherwise."""
    if not _NAME.match(name):
        raise InvalidRequest(
            f"{kind} name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)"
        )
    return name
