"""Topics as clusters of chunk embeddings: k-means with k chosen by silhouette, deterministic.

Pure numpy / scikit-learn. The same chunks always give the same clusters (fixed seeds, input
sorted by chunk id), so re-clustering after an ingest changes only what the new data changes,
and :func:`match_clusters` carries the names of unchanged topics over without asking the model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from secondme.node.memory.l1.text import content_words, term_counts

SEED = 0
MAX_TOPICS = 40
SILHOUETTE_SAMPLE = 2000
"""Silhouette is quadratic in points; k is chosen on a fixed sample of this many."""
DUPLICATE_SIMILARITY = 0.9
"""Clusters whose centroids are this close (cosine) are one topic."""
SAME_TOPIC_JACCARD = 0.5
"""A new cluster continues an old topic when they share this much of their chunks."""


@dataclass(frozen=True, slots=True)
class Cluster:
    members: tuple[int, ...]  # row indices, nearest to the centroid first
    centroid: np.ndarray
    cohesion: float  # mean cosine of members to the centroid, 0..1


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def _candidate_ks(n: int) -> list[int]:
    high = min(n - 1, MAX_TOPICS, max(8, 2 * int(math.sqrt(n))))
    if high < 2:
        return []
    step = max(1, (high - 1) // 15)
    return list(range(2, high + 1, step))


def _kmeans(vectors: np.ndarray, k: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=4, random_state=SEED).fit_predict(vectors)


def choose_k(vectors: np.ndarray) -> int:
    """The number of clusters with the best silhouette (cosine), 1 when there is no structure."""
    from sklearn.metrics import silhouette_score

    n = len(vectors)
    ks = _candidate_ks(n)
    if not ks:
        return 1
    sample = vectors
    if n > SILHOUETTE_SAMPLE:
        picks = np.random.default_rng(SEED).choice(n, SILHOUETTE_SAMPLE, replace=False)
        sample = vectors[np.sort(picks)]
    best_k, best_score = 1, 0.05  # below this a single topic describes the data as well
    for k in ks:
        if k >= len(sample):
            break
        labels = _kmeans(sample, k)
        if len(set(labels.tolist())) < 2:
            continue
        score = float(silhouette_score(sample, labels, metric="cosine"))
        if score > best_score:
            best_k, best_score = k, score
    return best_k


def cluster(vectors: np.ndarray) -> list[Cluster]:
    """Cluster rows of ``vectors`` (callers sort them by id); biggest cluster first."""
    n = len(vectors)
    if n == 0:
        return []
    vectors = _normalise(np.asarray(vectors, dtype=np.float64))
    k = choose_k(vectors)
    labels = np.zeros(n, dtype=int) if k == 1 else _kmeans(vectors, k)
    groups = [np.flatnonzero(labels == label) for label in sorted(set(labels.tolist()))]
    groups = _merge_duplicates(vectors, groups)
    clusters = []
    for members in groups:
        centroid = vectors[members].mean(axis=0)
        centroid /= np.linalg.norm(centroid) or 1.0
        similarity = vectors[members] @ centroid
        order = members[np.lexsort((members, -similarity))]
        clusters.append(
            Cluster(tuple(int(i) for i in order), centroid, float(np.clip(similarity.mean(), 0, 1)))
        )
    clusters.sort(key=lambda c: (-len(c.members), c.members[0]))
    return clusters


def _merge_duplicates(vectors: np.ndarray, groups: list[np.ndarray]) -> list[np.ndarray]:
    merged = True
    while merged and len(groups) > 1:
        merged = False
        centroids = _normalise(np.stack([vectors[g].mean(axis=0) for g in groups]))
        similarity = centroids @ centroids.T
        np.fill_diagonal(similarity, -1.0)
        i, j = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
        if similarity[i, j] >= DUPLICATE_SIMILARITY:
            i, j = sorted((int(i), int(j)))
            groups[i] = np.sort(np.concatenate([groups[i], groups[j]]))
            del groups[j]
            merged = True
    return groups


def match_clusters(
    new: Sequence[frozenset[str]], old: Mapping[str, frozenset[str]]
) -> dict[int, str]:
    """Which new cluster (by index) continues which old topic (by id): best Jaccard first."""
    pairs = []
    for index, members in enumerate(new):
        for topic_id, old_members in old.items():
            union = len(members | old_members)
            score = len(members & old_members) / union if union else 0.0
            if score >= SAME_TOPIC_JACCARD:
                pairs.append((-score, index, topic_id))
    matched: dict[int, str] = {}
    used: set[str] = set()
    for _, index, topic_id in sorted(pairs):
        if index not in matched and topic_id not in used:
            matched[index] = topic_id
            used.add(topic_id)
    return matched


def distinctive_terms(
    cluster_texts: Sequence[Sequence[str]],
    titles: Sequence[Sequence[str]] | None = None,
    top: int = 6,
) -> list[list[str]]:
    """Per cluster, the words found in many of its chunks and few other clusters (a class-based
    TF-IDF that counts chunks, so one repeated phrase does not name a topic). A word of a
    document title counts as if it were in half the chunks of that document: people title
    their notes with what they are about, but titles also carry dates and filler."""
    counts = [term_counts(set(content_words(t)) for t in texts) for texts in cluster_texts]
    for index, cluster_titles in enumerate(titles or ()):
        per_document = len(cluster_texts[index]) / max(1, len(cluster_titles))
        for title in cluster_titles:
            for term in set(content_words(title)):
                counts[index][term] += max(1, round(per_document / 2))
    spread: dict[str, int] = {}
    for c in counts:
        for term in c:
            spread[term] = spread.get(term, 0) + 1
    k = len(counts)
    result = []
    for c in counts:
        total = sum(c.values()) or 1
        scored = sorted(
            c, key=lambda t: (-(c[t] / total) * math.log(1 + k / spread[t]) * (c[t] > 1), t)
        )
        result.append(scored[:top])
    return result
