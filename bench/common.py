"""Shared pieces of the benchmarks: synthetic prose, timing, and printing figures."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Sequence

SUBJECTS = ["I", "My sister", "The team", "Our neighbour", "Grandpa", "The climbing club"]
VERBS = [
    "visited",
    "repaired",
    "wrote about",
    "cooked",
    "argued over",
    "photographed",
    "planned",
    "sold",
    "remembered",
    "painted",
]
OBJECTS = [
    "the old lighthouse",
    "a sourdough loaf",
    "the quarterly budget",
    "a red bicycle",
    "the Lisbon trip",
    "a jazz record",
    "the garden shed",
    "an oak table",
    "the marathon route",
    "a chess opening",
    "the wedding speech",
    "a tomato salad",
]
PLACES = [
    "in Nantes",
    "near the harbour",
    "at the office",
    "in the mountains",
    "on Sunday",
    "after work",
    "during the storm",
    "with friends",
    "before breakfast",
    "in 2019",
]


def sentence(rng: random.Random) -> str:
    return (
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
        f"{rng.choice(PLACES)}, and it took {rng.randint(2, 90)} minutes."
    )


def document(rng: random.Random, paragraphs: int = 8, sentences: int = 6) -> str:
    return "\n\n".join(" ".join(sentence(rng) for _ in range(sentences)) for _ in range(paragraphs))


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def timed(func: Callable[[], object], repeat: int) -> list[float]:
    """Wall-clock milliseconds of ``repeat`` calls."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def report(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n== {title}")
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
