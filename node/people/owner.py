"""Who the node speaks for: the owner's name, self-description, style and values.

Every prompt is built from these fields. Each field is private until the owner marks it public;
only public fields will ever be shown to other nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

from secondme.node.core.db import Database
from secondme.node.core.errors import InvalidRequest

OWNER_FIELDS: dict[str, str] = {
    "name": "the name your Second Me answers as",
    "description": "a short self-description, in your words",
    "style": "how you communicate (tone, length, habits)",
    "values": "what matters to you",
}


@dataclass(frozen=True, slots=True)
class OwnerProfile:
    fields: dict[str, str]
    public: frozenset[str]

    @property
    def name(self) -> str:
        return self.fields.get("name", "") or "the owner"

    def to_json(self) -> dict:
        return {
            "fields": {k: self.fields.get(k, "") for k in OWNER_FIELDS},
            "public": sorted(self.public),
        }

    def public_fields(self) -> dict[str, str]:
        return {k: v for k, v in self.fields.items() if k in self.public and v}

    def public_only(self) -> OwnerProfile:
        """The profile as peers may see it: its public fields, nothing else."""
        return OwnerProfile(fields=self.public_fields(), public=self.public)


class OwnerStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self) -> OwnerProfile:
        rows = self._db.query("SELECT field, value, public FROM owner_profile")
        return OwnerProfile(
            fields={r["field"]: r["value"] for r in rows},
            public=frozenset(r["field"] for r in rows if r["public"]),
        )

    def update(self, values: dict[str, str], public: dict[str, bool] | None = None) -> OwnerProfile:
        public = public or {}
        unknown = sorted((set(values) | set(public)) - set(OWNER_FIELDS))
        if unknown:
            raise InvalidRequest(
                f"unknown profile field(s): {', '.join(unknown)} (known: {', '.join(OWNER_FIELDS)})"
            )
        current = self.get()
        with self._db.transaction() as conn:
            for name in set(values) | set(public):
                conn.execute(
                    "INSERT INTO owner_profile (field, value, public) VALUES (?, ?, ?) "
                    "ON CONFLICT(field) DO UPDATE SET value = excluded.value, "
                    "public = excluded.public",
                    (
                        name,
                        values.get(name, current.fields.get(name, "")),
                        int(public.get(name, name in current.public)),
                    ),
                )
        return self.get()
