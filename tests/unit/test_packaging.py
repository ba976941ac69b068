"""Every package directory is listed in pyproject, so a non-editable install has all of it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_directory_is_listed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = set()
    for package, folder in config["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            found.add(".".join([package, *relative.parts]))
    assert found == set(config["packages"])


def test_every_file_of_the_web_app_is_package_data():
    """A wheel carries the page only through these globs: a new folder needs a new one."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = config["package-data"]["secondme.node.web"]
    static = ROOT / "node" / "web"
    files = [p for p in (static / "static").rglob("*") if p.is_file()]
    assert files
    for path in files:
        relative = path.relative_to(static)
        assert any(relative.match(pattern) for pattern in globs), relative
