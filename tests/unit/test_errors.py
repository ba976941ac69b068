"""The node's error tree: every exception class the node defines is in it, and the tree drawn in
``core/errors.py`` is the tree the classes make."""

from __future__ import annotations

import ast
import builtins
import inspect
import re
from pathlib import Path

from secondme.node.cli.client import ApiError
from secondme.node.cli.train import JobFailed
from secondme.node.core import errors
from secondme.node.core.errors import NodeError

NODE = Path(errors.__file__).resolve().parents[1]
BUILTIN_EXCEPTIONS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}
OUTSIDE_THE_TREE = {
    ("core/errors.py", "NodeError"): "Exception",  # the root
    ("memory/vectors/base.py", "StoreClosed"): "RuntimeError",  # misuse: a bug in the caller
}


def test_no_node_exception_derives_from_a_builtin_but_the_root_and_bugs() -> None:
    found = {}
    for path in NODE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                for base in node.bases:
                    if isinstance(base, ast.Name) and base.id in BUILTIN_EXCEPTIONS:
                        found[(str(path.relative_to(NODE)), node.name)] = base.id
    assert found == OUTSIDE_THE_TREE


def drawn_tree() -> dict[str, str]:
    """Class name → parent name, as the docstring of ``core/errors.py`` draws them."""
    parents: dict[str, str] = {}
    stack = ["NodeError"]
    for line in errors.__doc__.splitlines():
        match = re.match(r"^(\s*(?:│\s*)*)[├└]── (\w+)", line)
        if match is None:
            continue
        depth = len(match.group(1)) // 4  # 4 spaces of docstring indent, then 4 per level
        del stack[depth:]
        parents[match.group(2)] = stack[-1]
        stack.append(match.group(2))
    return parents


def test_the_drawn_tree_is_the_class_tree() -> None:
    classes = [
        cls
        for cls in vars(errors).values()
        if inspect.isclass(cls) and issubclass(cls, NodeError) and cls is not NodeError
    ]
    actual = {cls.__name__: cls.__bases__[0].__name__ for cls in [*classes, ApiError, JobFailed]}
    assert drawn_tree() == actual


def test_every_error_has_its_own_code() -> None:
    classes = [c for c in vars(errors).values() if inspect.isclass(c) and issubclass(c, NodeError)]
    codes = [c.code for c in classes]
    assert len(codes) == len(set(codes))
