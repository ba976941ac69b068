"""The test-only hooks: inert without their variable, exact about which pass they hold."""

from __future__ import annotations

import asyncio
import threading

import pytest

from secondme.node.core import testing_hooks
from secondme.node.core.testing_hooks import HOOKS_ENV, HookFolder, hold, hold_async, record
from tests.e2e.harness import wait_for


@pytest.fixture
def hooks(tmp_path, monkeypatch):
    monkeypatch.setattr(testing_hooks, "_passes", testing_hooks.Counter())
    folder = HookFolder(tmp_path / "hooks")
    monkeypatch.setenv(HOOKS_ENV, str(folder.folder))
    return folder


def test_without_the_variable_nothing_is_held_counted_or_written(hooks, monkeypatch):
    hooks.arm("p", at=1)
    monkeypatch.delenv(HOOKS_ENV)
    hold("p")  # armed, yet it returns: the folder is never looked at
    record("r", {"x": 1})
    assert not hooks.reached("p") and hooks.records("r") == []
    assert testing_hooks._passes["p"] == 0


def test_the_armed_pass_waits_for_its_release(hooks):
    hooks.arm("p", at=2)
    hold("p")  # the first pass goes through
    assert not hooks.reached("p")
    second = threading.Thread(target=hold, args=("p",))
    second.start()
    wait_for(lambda: hooks.reached("p"), timeout=30)
    assert second.is_alive()
    hooks.release("p")
    second.join(timeout=30)
    assert not second.is_alive()
    hold("p")  # the third pass is not armed


async def test_the_async_hold_is_cancellable(hooks):
    hooks.arm("q", at=1)
    waiting = asyncio.create_task(hold_async("q"))
    while not hooks.reached("q"):
        await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


def test_records_are_json_lines(hooks):
    record("r", {"a": [1, 2]})
    record("r", {"b": "x"})
    assert hooks.records("r") == [{"a": [1, 2]}, {"b": "x"}]
