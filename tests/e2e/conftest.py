"""Daemons started by a test are always stopped, even when the test fails halfway."""

from __future__ import annotations

import pytest

from tests.e2e import harness


@pytest.fixture
def start_node():
    started: list[harness.NodeProcess] = []

    def start(*args, **kwargs) -> harness.NodeProcess:
        node = harness.start_node(*args, **kwargs)
        started.append(node)
        return node

    yield start
    for node in started:
        if node.process.poll() is None:
            node.process.kill()
            node.process.wait(timeout=30)
