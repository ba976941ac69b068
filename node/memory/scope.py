"""A grant's scope in this memory: the one place where "what may this peer see" becomes "which
points may this query touch".

A :class:`~secondme.protocol.grants.Scope` (a grant's, narrowed by the gate to what the request
asked for; or a group's) becomes one :class:`ScopeFilter` here (:func:`memory_filter`), and the
filter is narrowed here to the layers and tags each search asks for (:func:`narrow_scope`).
Everything downstream (retrieval, recall, the answer to a peer, a peer's profile) is handed the
ready filter and applies it inside the vector search, so nothing outside it is ever retrieved.

Topics in a scope are *labels* bound to this node's topic ids, ``<name>#<topic id>`` (the name
when the label was made, for people; the id, for the filter). Re-clustering may rename a topic
but carries its id over, so a label keeps meaning that topic, and a new topic that takes the
old name is not covered. The owner names topics by name (or id); :func:`bind_topics` turns
them into labels before a grant or a group scope is made. A topic item without ``#`` is a bare
name, matched against the current names (scopes made before topics were bound).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from secondme.node.core.errors import InvalidRequest
from secondme.node.memory.l1.store import L1Store
from secondme.node.memory.vectors import ScopeFilter
from secondme.protocol.grants import MEMORY_LAYERS, Scope

LABEL_MARK = "#"
_MAX_ITEM = 128


def topic_label(name: str, topic_id: str) -> str:
    """The scope item for a topic: its name now (cut to fit) and its id."""
    room = _MAX_ITEM - len(LABEL_MARK) - len(topic_id)
    name = re.sub(r'[\x00-\x1f"\\]', "", name).replace(LABEL_MARK, " ").strip()
    return f"{name[:room].strip()}{LABEL_MARK}{topic_id}".lower()


def split_label(item: str) -> tuple[str, str | None]:
    """(name, topic id) of a scope's topic item; the id is ``None`` for a bare name."""
    name, mark, topic_id = item.rpartition(LABEL_MARK)
    if not mark or not topic_id:
        return item, None
    return name, topic_id


def _topics_by_id_and_name(l1: L1Store) -> tuple[dict[str, dict], dict[str, dict]]:
    """This memory's topics by (lower-cased) id and by (lower-cased) name."""
    topics = l1.topics.list()
    return (
        {t["id"].lower(): t for t in topics},
        {t["name"].strip().lower(): t for t in topics},
    )


def bind_topics(scope: Scope, l1: L1Store) -> Scope:
    """``scope`` with each topic the owner named (by name, id or label) as its label; raises
    :class:`InvalidRequest` for a topic this memory does not have."""
    if not scope.topics:
        return scope
    by_id, by_name = _topics_by_id_and_name(l1)
    labels = []
    for item in scope.topics:
        _, topic_id = split_label(item)
        topic = by_id.get(item) or by_id.get(topic_id or "") or by_name.get(item)
        if topic is None:
            raise InvalidRequest(
                f"no topic named {item!r} in your memory; `memory topics` lists them"
            )
        labels.append(topic_label(topic["name"], topic["id"]))
    try:
        return dataclasses.replace(scope, topics=tuple(labels))
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None


def held_topics(wanted: Scope, held: Scope) -> Scope:
    """``wanted`` with each topic named as in ``held`` (a scope another node bound): a label
    of ``held``, or the name part of exactly one of them, becomes that label; anything else is
    left as it is (and is then outside ``held``)."""
    if not wanted.topics or not held.topics:
        return wanted
    items = []
    for item in wanted.topics:
        same = [label for label in held.topics if item in (label, split_label(label)[0])]
        items.append(same[0] if len(same) == 1 else item)
    return dataclasses.replace(wanted, topics=tuple(items))


def topic_names(scope: Scope, l1: L1Store | None) -> list[str]:
    """The scope's topics for people: with ``l1`` (this node bound them), each label's topic
    as it is named now ("(gone)" when it no longer exists); else the names the labels carry."""
    current = {t["id"].lower(): t["name"] for t in l1.topics.list()} if l1 and scope.topics else {}
    names = []
    for item in scope.topics:
        name, topic_id = split_label(item)
        if topic_id is not None and l1 is not None:
            name = current.get(topic_id, f"{name} (gone)")
        names.append(name)
    return names


def memory_filter(scope: Scope, l1: L1Store) -> ScopeFilter | None:
    """The filter for memory searches under ``scope``, or ``None`` when it allows no memory.

    Tags and layers map to payload conditions. Topics map to the points that belong to them:
    their L0 chunks and their own L1 topic records (not document insights or entities, which
    may draw on text outside the topic). A label matches its topic by id only; a topic that
    does not exist allows nothing.
    """
    if not scope.memory:
        return None
    point_ids: tuple[str, ...] | None = None
    if scope.topics:
        by_id, by_name = _topics_by_id_and_name(l1)
        allowed: list[str] = []
        for item in scope.topics:
            name, topic_id = split_label(item)
            topic = by_id.get(topic_id) if topic_id is not None else by_name.get(name)
            if topic is None:
                continue
            allowed += topic["chunks"]
            point = l1.points.get("topic", topic["id"])
            if point is not None:
                allowed.append(point.point_id)
        if not allowed:
            return None
        point_ids = tuple(dict.fromkeys(allowed))
    return ScopeFilter(tags_any=scope.tags, layers=scope.layers, point_ids=point_ids)


def narrow_scope(
    scope: ScopeFilter | None, *, tags: Sequence[str], layers: Sequence[str]
) -> ScopeFilter | None:
    """The one filter a search runs under: ``scope`` (a grant's filter; ``None``: the owner's
    own search, unrestricted) narrowed to the tags and layers the search asks for; ``None``
    when nothing can match, so that no query is made."""
    if scope is not None:
        layers = [layer for layer in layers if not scope.layers or layer in scope.layers]
        wanted = tuple(t.lower() for t in tags)
        allowed = wanted or scope.tags_any
        if scope.tags_any and wanted:
            allowed = tuple(t for t in wanted if t in scope.tags_any)
        if not layers or (wanted and not allowed):
            return None
        return ScopeFilter(
            tags_any=allowed,
            layers=tuple(layers),
            doc_ids=scope.doc_ids,
            point_ids=scope.point_ids,
        )
    return ScopeFilter(
        tags_any=tuple(t.lower() for t in tags),
        layers=() if set(layers) == set(MEMORY_LAYERS) else tuple(layers),
    )
