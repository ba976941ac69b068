"""The deployment files: systemd units that systemd itself accepts, and a compose file and
Dockerfile that agree with each other and with the entrypoint they run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
BIN = Path(sys.executable).parent


def _units(tmp_path: Path) -> list[Path]:
    """The units with their install paths pointed at this environment's programs."""
    made = []
    for unit, instance in (
        ("secondme-discovery.service", "secondme-discovery.service"),
        ("secondme-node@.service", "secondme-node@alice.service"),
    ):
        text = (DEPLOY / "systemd" / unit).read_text().replace("/opt/secondme/bin", str(BIN))
        (tmp_path / instance).write_text(text)
        made.append(tmp_path / instance)
    return made


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_units_verify_cleanly(tmp_path):
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *map(str, _units(tmp_path))],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    user = (DEPLOY / "systemd" / "user" / "secondme-node.service").read_text()
    (tmp_path / "user.service").write_text(user.replace("%h/.local/bin", str(BIN)))
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    done = subprocess.run(
        ["systemd-analyze", "verify", "--user", "--man=no", str(tmp_path / "user.service")],
        capture_output=True,
        text=True,
        env={"XDG_RUNTIME_DIR": str(runtime), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_a_broken_unit_is_caught(tmp_path):
    """The check above can fail: a unit naming a program that is not there does."""
    [unit, _] = _units(tmp_path)
    unit.write_text(unit.read_text().replace(str(BIN), "/nonexistent"))
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode != 0 and "/nonexistent" in done.stderr


def test_hardening_is_in_every_system_unit():
    for unit in ("secondme-discovery.service", "secondme-node@.service"):
        settings = dict(
            line.split("=", 1)
            for line in (DEPLOY / "systemd" / unit).read_text().splitlines()
            if "=" in line and not line.startswith("#")
        )
        assert settings["User"] == "secondme" and settings["NoNewPrivileges"] == "yes"
        assert settings["ProtectSystem"] == "strict" and settings["Restart"] == "on-failure"
        assert settings["CapabilityBoundingSet"] == ""


def test_compose_forms_a_network_of_three_through_one_invite():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"discovery", "alice", "bob", "carol"}
    assert services["discovery"]["command"][0] == "discovery"
    owners = [name for name, s in services.items() if "--owner" in s.get("command", [])]
    assert owners == ["alice"]
    uses = services["alice"]["command"][services["alice"]["command"].index("--uses") + 1]
    assert int(uses) == 2  # Bob and Carol join with the one token
    for name in ("alice", "bob", "carol"):
        service = services[name]
        assert service["depends_on"]["discovery"]["condition"] == "service_healthy"
        assert "shared:/shared" in service["volumes"] and f"{name}:/data" in service["volumes"]


def test_dockerfile_runs_the_entrypoint_as_a_non_root_user():
    lines = (DEPLOY / "Dockerfile").read_text().splitlines()
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) == 2  # build, then a runtime without compilers
    runtime = lines[lines.index(stages[1]) :]
    assert any(line.startswith("USER secondme") for line in runtime)
    assert any(line.startswith("HEALTHCHECK") for line in runtime)
    assert any("entrypoint.py" in line and line.startswith("COPY") for line in runtime)
    assert any("torch==2.13.0" in line and "whl/cpu" in line for line in lines)
    assert (DEPLOY / "entrypoint.py").exists()
