"""Every exception a package defines is drawn in its tree, and every error code means one thing.

A code is what an error frame, the owner API and the CLI show; a script (or another node) acts
on it, so the same string must never name two different failures. Where two classes share a
code, one is a kind of the other (``AuthorizerBusy`` is a ``Busy``).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import defaultdict
from types import ModuleType

import pytest

import secondme.discovery
import secondme.protocol
from secondme.discovery import errors as discovery_errors
from secondme.node.core import errors as node_errors
from secondme.protocol import errors as protocol_errors
from secondme.protocol.messages import ErrorCode
from secondme.protocol.transport import errors as transport_errors


def _modules(package: ModuleType) -> list[ModuleType]:
    names = [info.name for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
    return [package, *(importlib.import_module(name) for name in names)]


def _exceptions(modules: list[ModuleType]) -> list[type[BaseException]]:
    return [
        cls
        for module in modules
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__ == module.__name__
    ]


PROTOCOL = _exceptions(_modules(secondme.protocol))
DISCOVERY = _exceptions(_modules(secondme.discovery))
NODE = _exceptions([node_errors])


@pytest.mark.parametrize("cls", PROTOCOL, ids=lambda cls: cls.__name__)
def test_every_protocol_exception_is_drawn(cls: type[BaseException]) -> None:
    drawn = (protocol_errors.__doc__ or "") + (transport_errors.__doc__ or "")
    assert cls.__name__ in drawn


@pytest.mark.parametrize("cls", DISCOVERY, ids=lambda cls: cls.__name__)
def test_every_discovery_exception_is_in_its_tree(cls: type[BaseException]) -> None:
    assert issubclass(cls, discovery_errors.DiscoveryError)
    assert cls.__name__ in (discovery_errors.__doc__ or "")


def _codes(classes: list[type[BaseException]]) -> dict[str, list[type[BaseException]]]:
    """code -> the classes that set it themselves (an inherited code is the parent's)."""
    found: dict[str, list[type[BaseException]]] = defaultdict(list)
    for cls in classes:
        code = vars(cls).get("code")
        if isinstance(code, str):
            found[code].append(cls)
    return found


@pytest.mark.parametrize(
    "family", [PROTOCOL, DISCOVERY, NODE], ids=["protocol", "discovery", "node"]
)
def test_classes_that_share_a_code_are_one_kind(family: list[type[BaseException]]) -> None:
    for code, classes in _codes(family).items():
        assert any(all(issubclass(c, root) for c in classes) for root in classes), (
            code,
            classes,
        )


def test_local_codes_are_never_wire_codes() -> None:
    """The owner API's and the discovery tools' codes never reuse a code of the wire, where a
    peer's refusal shows (as ``remote_code``) beside them."""
    wire = {code.value for code in ErrorCode} | set(_codes(PROTOCOL))
    local = set(_codes(NODE)) | set(_codes(DISCOVERY))
    assert local & wire == set()
