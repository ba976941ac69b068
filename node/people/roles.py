"""Roles: named personas the owner's Second Me can speak as, each with its own memory reach."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from secondme.node.core.db import Database
from secondme.node.core.errors import InvalidRequest, NotFound
from secondme.node.people.naming import check_name

MEMORY_LAYERS = ("l0", "l1", "l2")


@dataclass(frozen=True, slots=True, kw_only=True)
class Role:
    name: str
    description: str
    system_prompt: str
    layers: tuple[str, ...]
    created_at: float

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "system_prompt": self.system_prompt,
            "layers": list(self.layers),
            "created_at": self.created_at,
        }


def _role(row) -> Role:
    return Role(
        name=row["name"],
        description=row["description"],
        system_prompt=row["system_prompt"],
        layers=tuple(json.loads(row["layers"])),
        created_at=row["created_at"],
    )


class RoleStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def list(self) -> list[Role]:
        return [_role(r) for r in self._db.query("SELECT * FROM roles ORDER BY name")]

    def get(self, name: str) -> Role:
        row = self._db.query_one("SELECT * FROM roles WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"no role named {name!r}; see `secondme-node role list`")
        return _role(row)

    def add(
        self,
        name: str,
        system_prompt: str,
        *,
        description: str = "",
        layers: tuple[str, ...] = ("l0", "l1"),
        replace: bool = False,
    ) -> Role:
        check_name("role", name)
        if not system_prompt.strip():
            raise InvalidRequest("a role needs a system prompt")
        bad = sorted(set(layers) - set(MEMORY_LAYERS))
        if bad:
            raise InvalidRequest(
                f"unknown memory layer(s): {', '.join(bad)} (known: {', '.join(MEMORY_LAYERS)})"
            )
        with self._db.transaction() as conn:
            exists = conn.execute("SELECT 1 FROM roles WHERE name = ?", (name,)).fetchone()
            if exists and not replace:
                raise InvalidRequest(f"a role named {name!r} exists; remove it first")
            conn.execute(
                "INSERT OR REPLACE INTO roles (name, description, system_prompt, layers, "
                "created_at) VALUES (?, ?, ?, ?, ?)",
                (name, description, system_prompt, json.dumps(list(layers)), time.time()),
            )
        return self.get(name)

    def remove(self, name: str) -> None:
        with self._db.transaction() as conn:
            gone = conn.execute("DELETE FROM roles WHERE name = ?", (name,)).rowcount
        if not gone:
            raise NotFound(f"no role named {name!r}")
