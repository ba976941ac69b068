"""Every test runs with SECONDME_HOME in a temporary dir, so no test touches a real node."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    home = tmp_path / "secondme-home"
    monkeypatch.setenv("SECONDME_HOME", str(home))
    monkeypatch.delenv("SECONDME_PASSPHRASE", raising=False)
    return home
