"""The rooms of ``node/`` and the direction of their imports, checked from the source.

A room may import rooms of a lower rank only; rooms of one rank do not import each other. The
ranks are the picture in the README's layout section: a change that makes a low room reach up
(or two doors lean on each other) fails here, with the import that did it.
"""

from __future__ import annotations

import ast
from pathlib import Path

NODE = Path(__file__).resolve().parents[2] / "node"

RANKS = {
    "core": 0,
    "people": 1,
    "models": 1,
    "http": 1,
    "memory": 2,
    "p2p": 2,
    "chat": 3,
    "access": 4,
    "network": 5,
    "groups": 5,
    "l2": 5,
    "api": 6,
    "web": 6,
    "daemon": 7,
    "cli": 8,
}
"""``cli`` is the entry point: ``start`` and ``init`` run the daemon in this process; every other
command, and the MCP server, talk to the owner API over HTTP."""


def imports_between_rooms() -> list[tuple[str, str, str]]:
    """(importing room, imported room, file) for every import of another room of ``node/``."""
    found = []
    for path in sorted(NODE.rglob("*.py")):
        parts = path.relative_to(NODE).parts
        room = parts[0] if len(parts) > 1 else ""
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith("secondme.node."):
                    target = name.split(".")[2]
                    if target != room:
                        found.append((room, target, str(path.relative_to(NODE))))
    return found


def test_node_has_no_loose_modules_every_module_lives_in_a_room() -> None:
    loose = sorted(p.name for p in NODE.glob("*.py") if p.name != "__init__.py")
    assert loose == []


def test_every_room_has_a_rank() -> None:
    rooms = {p.name for p in NODE.iterdir() if (p / "__init__.py").exists()}
    assert rooms == set(RANKS)


def test_rooms_import_only_lower_rooms() -> None:
    upward = [
        f"{file}: {room} (rank {RANKS[room]}) imports {target} (rank {RANKS[target]})"
        for room, target, file in imports_between_rooms()
        if RANKS[target] >= RANKS[room]
    ]
    assert upward == []
