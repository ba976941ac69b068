"""What the L1 stores share for SQLite: list and mapping columns are stored as JSON text."""

from __future__ import annotations

import json


def to_json(value: object) -> str:
    """``value`` as JSON text, non-ASCII kept as written (names and sentences stay readable)."""
    return json.dumps(value, ensure_ascii=False)
