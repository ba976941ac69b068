"""A grant's scope as a vector-store filter: the one place where "what may this peer see"
becomes "which points may this query touch"."""

from __future__ import annotations

from secondme.node.memory.l1.store import L1Store
from secondme.node.memory.vectors import ScopeFilter
from secondme.protocol.grants import Scope


def memory_filter(scope: Scope, l1: L1Store) -> ScopeFilter | None:
    """The filter for memory searches under ``scope``, or ``None`` when it allows no memory.

    Tags and layers map to payload conditions. Topics map to the points that belong to them:
    their L0 chunks and their own L1 topic records (not document insights or entities, which
    may draw on text outside the topic). A topic that does not exist allows nothing.
    """
    if not scope.memory:
        return None
    point_ids: tuple[str, ...] | None = None
    if scope.topics:
        allowed: list[str] = []
        for name in scope.topics:
            topic = l1.find_topic(name)
            if topic is None:
                continue
            allowed += topic["chunks"]
            point = l1.point_for("topic", topic["id"])
            if point is not None:
                allowed.append(point.point_id)
        if not allowed:
            return None
        point_ids = tuple(dict.fromkeys(allowed))
    return ScopeFilter(tags_any=scope.tags, layers=scope.layers, point_ids=point_ids)
