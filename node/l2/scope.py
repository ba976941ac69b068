"""What an adapter learned from, and whether a grant covers all of it.

A LoRA adapter is made of the memory it was trained on: whoever it answers can draw out any of
that memory, whatever the retrieval filter says. So an adapter answers a peer (an ``ask``, a
group turn) only when the peer's scope covers the adapter's *whole* training scope; otherwise
the base model answers. The owner's chat may use any adapter.

A :class:`TrainingScope` is recorded with each adapter when its training data is drawn: the
filter the owner asked for (tags, topic ids), the layers its text came from, whether the
owner's private profile fields were in its prompts, and every document it could draw on with
the tags that document had then (so a later change of tags, or forgetting the document, never
widens what the adapter may answer).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from secondme.node.memory.scope import split_label
from secondme.protocol.grants import Scope

OWNER_ONLY = "you only"


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingScope:
    everything: bool
    """Trained on all of memory with the owner's full persona: serves the owner only."""
    tags: tuple[str, ...] = ()
    """The tags training was limited to (a document with any of them), or () for none."""
    topics: tuple[str, ...] = ()
    """The topic ids training was limited to, or () for none (a scope names a topic by a
    label that holds its id: :mod:`secondme.node.memory.scope`)."""
    layers: tuple[str, ...] = ("l0",)
    """The memory layers whose text reached the training data."""
    documents: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Each document training could draw on → its tags at the time."""

    @classmethod
    def limited(
        cls,
        *,
        tags: Sequence[str],
        topics: Sequence[str],
        documents: Mapping[str, Sequence[str]],
        layers: Sequence[str],
    ) -> TrainingScope:
        return cls(
            everything=not tags and not topics,
            tags=tuple(tags),
            topics=tuple(topics),
            layers=tuple(layers),
            documents={doc: tuple(doc_tags) for doc, doc_tags in documents.items()},
        )

    def to_json(self) -> dict[str, Any]:
        if self.everything:
            return {"all": True, "documents": dict(self.documents), "layers": list(self.layers)}
        return {
            "all": False,
            "tags": list(self.tags),
            "topics": list(self.topics),
            "layers": list(self.layers),
            "documents": {doc: list(tags) for doc, tags in self.documents.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainingScope:
        documents = {doc: tuple(tags) for doc, tags in dict(data.get("documents", {})).items()}
        if data.get("all", True):
            return cls(
                everything=True,
                layers=tuple(data.get("layers", ("l0", "l1"))),
                documents=documents,
            )
        return cls(
            everything=False,
            tags=tuple(data.get("tags", ())),
            topics=tuple(data.get("topics", ())),
            layers=tuple(data.get("layers", ("l0",))),
            documents=documents,
        )

    def describe(self) -> str:
        if self.everything:
            return "all of memory and your private profile"
        parts = []
        if self.tags:
            parts.append("tags " + ", ".join(self.tags))
        if self.topics:
            parts.append(f"{len(self.topics)} topic{'s' * (len(self.topics) > 1)}")
        parts.append(f"{len(self.documents)} document{'s' * (len(self.documents) != 1)}")
        return "; ".join(parts)


def why_not_covered(
    grant: Scope, training: TrainingScope, *, present: Collection[str] | None = None
) -> str | None:
    """Why ``grant`` does not cover all that ``training`` drew on, or ``None`` when it does.

    ``present`` are the ids of documents still in memory: an adapter that learned a document
    the owner has since forgotten serves the owner only (until it is trained again).
    """
    if training.everything:
        return "it learned all of memory and the owner's private profile"
    if not grant.memory:
        return "the scope allows no memory"
    missing_layers = set(training.layers) - set(grant.layers)
    if missing_layers:
        return f"it learned from layer {', '.join(sorted(missing_layers))}, outside the scope"
    if grant.topics:
        granted = {split_label(item)[1] for item in grant.topics}
        if not training.topics or not {t.lower() for t in training.topics} <= granted:
            return "it learned from memory outside the scope's topics"
    if grant.tags:
        allowed = set(grant.tags)
        for tags in training.documents.values():
            if not allowed & set(tags):
                return "it learned from a document outside the scope's tags"
    if present is not None and set(training.documents) - set(present):
        return "it learned from a document that has since been forgotten"
    return None
