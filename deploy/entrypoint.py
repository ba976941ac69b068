#!/usr/bin/env python3
"""Start a discovery server or a node, and form a network through an invite, unattended.

The container image runs this as its entrypoint and the network-namespace demo runs it on each
host, so the two start the same way. Hosts share one folder (``--shared``), through which the
discovery server's address and the owner's invite token reach the others:

    entrypoint.py discovery --shared DIR [--ip IP]
        run secondme-discovery on IP:4001; write its address to DIR/discovery.addr
    entrypoint.py node --shared DIR --name Alice --owner [--network friends] [--ip IP]
        init (first run), start the node, create the network at that discovery server,
        write a multi-use invite to DIR/invite.token
    entrypoint.py node --shared DIR --name Bob [--network friends] [--ip IP]
        init, start, wait for the invite and join with it

Every step is skipped when already done, so a restarted container picks up where it was. The
process stays in front of the server (SIGTERM and SIGINT are passed on) and exits with its code.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PORT = 4001
WAIT_S = 300.0
PR_SET_PDEATHSIG = 1


def _tool(name: str) -> str:
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else (shutil.which(name) or name)


def _own_ip() -> str:
    """The address other hosts reach this one at (a container's address on its network)."""
    return socket.gethostbyname(socket.gethostname())


def _write_atomic(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def _wait_for_file(path: Path, what: str) -> str:
    deadline = time.monotonic() + WAIT_S
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"entrypoint: no {what} in {path} after {WAIT_S:.0f} s")
        time.sleep(0.2)  # another host writes it; polling, bounded
    return path.read_text().strip()


def _die_with_parent() -> None:
    """Run in the child before exec: SIGTERM it if this process dies, however it dies, so
    a killed entrypoint leaves no server behind (Linux; elsewhere a no-op)."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _forward_signals(child: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _frame: child.send_signal(number))


def run_discovery(args: argparse.Namespace) -> int:
    state = Path(args.state)
    state.mkdir(parents=True, exist_ok=True)
    ip = args.ip or _own_ip()
    child = subprocess.Popen(
        [_tool("secondme-discovery"), "--listen", f"/ip4/{ip}/tcp/{args.port}",
         "--db", str(state / "discovery.db"), "--key", str(state / "discovery.key")],
        stdout=subprocess.PIPE, text=True, preexec_fn=_die_with_parent,
    )  # fmt: skip
    _forward_signals(child)
    assert child.stdout is not None
    address = child.stdout.readline().strip()
    if not address:
        return child.wait()
    _write_atomic(Path(args.shared) / "discovery.addr", address + "\n")
    print(f"discovery server at {address}", flush=True)
    for line in child.stdout:
        print(line, end="", flush=True)
    return child.wait()


def _cli(data_dir: Path, *args: str) -> dict:
    done = subprocess.run(
        [_tool("secondme-node"), *args, "--data-dir", str(data_dir), "--json"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"entrypoint: secondme-node {' '.join(args)}: {done.stdout}{done.stderr}")
    return json.loads(done.stdout)


def _wait_ready(data_dir: Path, child: subprocess.Popen) -> None:
    record = data_dir / "daemon.json"
    deadline = time.monotonic() + WAIT_S
    while True:
        if child.poll() is not None:
            raise SystemExit(f"entrypoint: the node exited with {child.returncode}")
        if record.exists() and json.loads(record.read_text()).get("pid") == child.pid:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"entrypoint: the node was not ready after {WAIT_S:.0f} s")
        time.sleep(0.2)  # the daemon writes daemon.json once bound; polling, bounded


def run_node(args: argparse.Namespace) -> int:
    data_dir, shared = Path(args.state), Path(args.shared)
    ip = args.ip or _own_ip()
    if not (data_dir / "config.toml").exists():
        subprocess.run(
            [_tool("secondme-node"), "init", "--data-dir", str(data_dir), "--name", args.name,
             "--public", "name", "--listen", f"/ip4/{ip}/tcp/{args.port}"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    child = subprocess.Popen(
        [_tool("secondme-node"), "start", "--data-dir", str(data_dir)], preexec_fn=_die_with_parent
    )
    _forward_signals(child)
    _wait_ready(data_dir, child)
    joined = {n["name"] for n in _cli(data_dir, "network", "list")}
    if args.network in joined:
        how = "a member already"
    elif args.owner:
        discovery = _wait_for_file(shared / "discovery.addr", "discovery address")
        _cli(data_dir, "network", "create", args.network, "--discovery", discovery)
        how = "created"
    else:
        token = _wait_for_file(shared / "invite.token", "invite token")
        _cli(data_dir, "join", token)
        how = "joined with the invite"
    print(f"{args.name}: in network {args.network} ({how})", flush=True)
    if args.owner and not (shared / "invite.token").exists():
        invite = _cli(
            data_dir, "invite", "--network", args.network,
            "--uses", str(args.uses), "--expires", "24h",
        )  # fmt: skip
        _write_atomic(shared / "invite.token", invite["token"] + "\n")
    return child.wait()


def main() -> int:
    parser = argparse.ArgumentParser(prog="entrypoint.py", description=__doc__.split("\n")[0])
    parser.add_argument("role", choices=["discovery", "node"])
    parser.add_argument("--shared", required=True, help="folder shared by every host")
    parser.add_argument("--state", default=os.environ.get("SECONDME_HOME", "/data"),
                        help="data dir (default $SECONDME_HOME or /data)")  # fmt: skip
    parser.add_argument("--ip", help="address to listen on (default: this host's)")
    parser.add_argument("--port", type=int, default=PORT, help=f"TCP port (default {PORT})")
    parser.add_argument("--name", default="Second Me", help="the owner's name (node)")
    parser.add_argument("--owner", action="store_true", help="create the network and invite")
    parser.add_argument("--network", default="friends")
    parser.add_argument("--uses", type=int, default=2, help="how many may join with the invite")
    args = parser.parse_args()
    Path(args.shared).mkdir(parents=True, exist_ok=True)
    return run_discovery(args) if args.role == "discovery" else run_node(args)


if __name__ == "__main__":
    sys.exit(main())
