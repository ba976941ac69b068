"""Topic clustering: finds the planted groups, is deterministic, carries topics over."""

from __future__ import annotations

import numpy as np

from secondme.node.memory.l1.clustering import cluster, distinctive_terms, match_clusters


def planted(groups: int = 4, per_group: int = 6, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(groups, 64))
    return np.concatenate([c + 0.3 * rng.normal(size=(per_group, 64)) for c in centres])


def test_finds_the_planted_groups():
    clusters = cluster(planted())
    assert sorted(sorted(c.members) for c in clusters) == [
        list(range(g * 6, g * 6 + 6)) for g in range(4)
    ]
    assert all(0.5 < c.cohesion <= 1.0 for c in clusters)


def test_same_data_same_clusters():
    first = cluster(planted())
    second = cluster(planted())
    assert [c.members for c in first] == [c.members for c in second]


def test_members_are_ordered_nearest_the_centroid_first():
    vectors = planted(groups=2)
    for c in cluster(vectors):
        normed = (
            vectors[list(c.members)] / np.linalg.norm(vectors[list(c.members)], axis=1)[:, None]
        )
        similarity = normed @ c.centroid
        assert list(similarity) == sorted(similarity, reverse=True)


def test_near_duplicate_groups_merge():
    rng = np.random.default_rng(3)
    centre = rng.normal(size=64)
    twins = np.concatenate([centre + 0.01 * rng.normal(size=(5, 64)) for _ in range(2)])
    assert len(cluster(twins)) == 1


def test_tiny_and_empty_inputs():
    assert cluster(np.zeros((0, 8))) == []
    assert len(cluster(np.ones((2, 8)))) == 1


def test_match_clusters_keeps_topic_ids_by_overlap():
    old = {"hiking": frozenset("abcd"), "cooking": frozenset("efgh")}
    new = [frozenset("efghi"), frozenset("abc"), frozenset("xyz")]
    assert match_clusters(new, old) == {0: "cooking", 1: "hiking"}


def test_distinctive_terms_prefer_words_of_one_cluster_and_titles():
    texts = [
        ["I hiked the trail.", "The trail was steep.", "I love the trail today."],
        ["I cooked bacalhau.", "Bacalhau needs soaking.", "I love bacalhau."],
    ]
    terms = distinctive_terms(texts, [["Hiking log"], ["Kitchen notebook"]])
    assert terms[0][0] == "trail"  # in every chunk
    assert "hiking" in terms[0][:3]  # only in the title, still distinctive
    assert "bacalhau" in terms[1][:2]
    assert "love" not in terms[0][:3]
