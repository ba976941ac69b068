#!/usr/bin/env python3
"""Several hosts on one Linux machine: network namespaces joined by a private bridge.

Each host is a network namespace with one interface, ``eth0``, whose other end is a port of a
bridge that lives in a namespace of its own (``<prefix>-sw``). No route leads out of the lab:
the hosts reach each other and nothing else. Processes run on a host with ``ip netns exec``;
they share the machine's file system, so a node's data dir is an ordinary folder.

Faults, per host:

- ``link HOST down|up`` takes the host's cable out and puts it back (``eth0`` down/up);
- ``impair HOST --delay-ms 20 --loss-pct 2`` delays and drops what the host sends. With the
  kernel's ``netem`` queueing discipline it is ``tc qdisc ... netem`` on ``eth0``; a kernel
  built without ``sch_netem`` gets a user-space stand-in with the same effect: the host's bridge
  port is moved behind a relay (:func:`relay`) that holds each frame from the host for the delay
  and drops the given share;
- ``clear HOST`` removes either.

``demo`` makes hosts ``disc``, ``a``, ``b`` and ``c`` and starts on them what the container
image starts (``deploy/entrypoint.py``): a discovery server, and the nodes of Alice (who creates
the network ``friends`` and writes an invite), Bob and Carol (who join with it). ``down`` stops
it all and deletes the hosts.

Needs root (or CAP_NET_ADMIN) and ``ip`` (iproute2); ``tc`` for netem. Only the standard
library is used, so the file runs with any Python 3.11 as a script or as a module.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import heapq
import json
import os
import random
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SUBNET = "10.231.0"
"""The lab's /24; host number i (from 0) gets ``SUBNET.(10 + i)``."""
PREFIX = "smlab"


class LabError(RuntimeError):
    """A command the lab needs failed; the message says which and why."""


def _ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    argv = ["ip", *(("-n", netns) if netns else ()), *args]
    done = subprocess.run(argv, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise LabError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def check_privileges() -> None:
    """Fail early, with the reason, where namespaces cannot be made."""
    if shutil.which("ip") is None:
        raise LabError("the lab needs `ip` from iproute2")
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces and veth pairs)")


def has_netem(netns: str) -> bool:
    """Whether this kernel has the netem queueing discipline (some minimal kernels lack it);
    probed on a dummy interface inside ``netns``, so the machine's own network is untouched."""
    if shutil.which("tc") is None:
        return False
    _ip("link", "add", "netemprobe", "type", "dummy", netns=netns, check=False)
    try:
        netem = ["netem", "delay", "1ms"]
        done = subprocess.run(
            ["tc", "-n", netns, "qdisc", "add", "dev", "netemprobe", "root", *netem],
            capture_output=True,
        )
        return done.returncode == 0
    finally:
        _ip("link", "del", "netemprobe", netns=netns, check=False)


@dataclass(frozen=True)
class Lab:
    """Names and addresses of one lab; every method is idempotent enough to rerun."""

    prefix: str = PREFIX
    subnet: str = SUBNET

    @property
    def switch(self) -> str:
        return f"{self.prefix}-sw"

    @property
    def state_dir(self) -> Path:
        return Path("/run") / self.prefix

    def netns(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def port(self, host: str) -> str:
        """The bridge port of ``host`` (in the switch namespace; 15 characters at most)."""
        return f"p-{host}"[:15]

    def hosts(self) -> dict[str, str]:
        """Host name → address, as written by :meth:`up`."""
        path = self.state_dir / "hosts.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def address(self, host: str) -> str:
        try:
            return self.hosts()[host]
        except KeyError:
            raise LabError(f"no host {host!r} in lab {self.prefix!r}") from None

    def exec_prefix(self, host: str) -> list[str]:
        """The argv prefix that runs a command on ``host``."""
        return ["ip", "netns", "exec", self.netns(host)]

    def up(self, hosts: Sequence[str]) -> dict[str, str]:
        """Make the switch and one namespace per host; returns host → IPv4 address."""
        check_privileges()
        if len(hosts) > 200 or len(set(hosts)) != len(hosts):
            raise LabError("give at most 200 distinct host names")
        self.down()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        _ip("netns", "add", self.switch)
        _ip("link", "add", "br0", "type", "bridge", netns=self.switch)
        _ip("link", "set", "br0", "up", netns=self.switch)
        addresses: dict[str, str] = {}
        for number, host in enumerate(hosts):
            ns, port = self.netns(host), self.port(host)
            address = f"{self.subnet}.{10 + number}"
            _ip("netns", "add", ns)
            _ip("link", "add", "eth0", "type", "veth", "peer", "name", port, netns=ns)
            _ip("link", "set", port, "netns", self.switch, netns=ns)
            _ip("link", "set", port, "master", "br0", "up", netns=self.switch)
            _ip("addr", "add", f"{address}/24", "dev", "eth0", netns=ns)
            _ip("link", "set", "eth0", "up", netns=ns)
            _ip("link", "set", "lo", "up", netns=ns)
            # A relay (see impair) copies frames whole, so each must carry its own checksum.
            _run_in(ns, [sys.executable, __file__, "_csum-off", "eth0"])
            addresses[host] = address
        (self.state_dir / "hosts.json").write_text(json.dumps(addresses, indent=1))
        return addresses

    def down(self) -> None:
        """Stop the relays, kill what still runs on the hosts, and delete every namespace."""
        for pidfile in self.state_dir.glob("relay-*.pid") if self.state_dir.exists() else ():
            _kill_pidfile(pidfile)
        names = [line.split()[0] for line in _ip("netns", "list").splitlines() if line.strip()]
        ours = [ns for ns in names if ns == self.switch or ns.startswith(f"{self.prefix}-")]
        # SIGTERM first, so that daemons stop cleanly; SIGKILL what is left after a while.
        for sig, grace_s in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 0.0)):
            pids = {int(p) for ns in ours for p in _ip("netns", "pids", ns, check=False).split()}
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + grace_s
            while pids and time.monotonic() < deadline:
                pids = {pid for pid in pids if Path(f"/proc/{pid}").exists()}
                time.sleep(0.1)  # waiting for processes to exit, bounded
        for ns in ours:
            _ip("netns", "del", ns, check=False)
        if self.state_dir.exists():
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def link(self, host: str, up: bool) -> None:
        """Plug ``host``'s cable in or pull it out (its ``eth0``)."""
        self.address(host)
        _ip("link", "set", "eth0", "up" if up else "down", netns=self.netns(host))

    def impair(self, host: str, *, delay_ms: float, loss_pct: float) -> str:
        """Delay and drop what ``host`` sends; returns ``"netem"`` or ``"relay"``, the means."""
        self.address(host)
        self.clear(host)
        if has_netem(self.switch):
            subprocess.run(
                [
                    "tc",
                    "-n",
                    self.netns(host),
                    "qdisc",
                    "add",
                    "dev",
                    "eth0",
                    "root",
                    "netem",
                    "delay",
                    f"{delay_ms}ms",
                    "loss",
                    f"{loss_pct}%",
                ],
                check=True,
                capture_output=True,
            )
            return "netem"
        self._start_relay(host, delay_ms, loss_pct)
        return "relay"

    def clear(self, host: str) -> None:
        """Undo :meth:`impair` for ``host``."""
        subprocess.run(
            ["tc", "-n", self.netns(host), "qdisc", "del", "dev", "eth0", "root"],
            capture_output=True,
        )
        pidfile = self.state_dir / f"relay-{host}.pid"
        if pidfile.exists():
            _kill_pidfile(pidfile)
            inner, _ = self._relay_pair(host)
            _ip("link", "del", inner, netns=self.switch, check=False)
            _ip("link", "set", self.port(host), "master", "br0", netns=self.switch)

    def _relay_pair(self, host: str) -> tuple[str, str]:
        return f"r-{host}"[:15], f"q-{host}"[:15]

    def _start_relay(self, host: str, delay_ms: float, loss_pct: float) -> None:
        """Put a relay between the host's port and the bridge:
        port ⇄ relay ⇄ inner ⇄ outer ⇄ br0."""
        inner, outer = self._relay_pair(host)
        port = self.port(host)
        sw = self.switch
        _ip("link", "add", inner, "type", "veth", "peer", "name", outer, netns=sw)
        for name in (inner, outer):
            _sysctl(sw, f"net/ipv6/conf/{name}/disable_ipv6", "1")
        _ip("link", "set", port, "nomaster", netns=sw)
        _ip("link", "set", outer, "master", "br0", "up", netns=sw)
        _ip("link", "set", inner, "up", netns=sw)
        log = (self.state_dir / f"relay-{host}.log").open("ab")
        process = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                sw,
                sys.executable,
                __file__,
                "_relay",
                port,
                inner,
                str(delay_ms),
                str(loss_pct),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        (self.state_dir / f"relay-{host}.pid").write_text(str(process.pid))
        ready = self.state_dir / f"relay-{host}.log"
        deadline = time.monotonic() + 10
        while b"relaying" not in ready.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise LabError(f"the relay for {host} did not start: {ready.read_text()}")
            time.sleep(0.02)  # polling the relay's log for its ready line, bounded


ENTRYPOINT = Path(__file__).resolve().parents[1] / "entrypoint.py"
DEMO = {"disc": (), "a": ("--name", "Alice", "--owner"), "b": ("--name", "Bob"),
        "c": ("--name", "Carol")}  # fmt: skip


def demo(lab: Lab, root: Path, python: str) -> dict[str, str]:
    """Discovery and three nodes that form a network through an invite; host → data dir."""
    addresses = lab.up(list(DEMO))
    shared = root / "shared"
    shutil.rmtree(shared, ignore_errors=True)
    shared.mkdir(parents=True)
    dirs = {}
    for host, extra in DEMO.items():
        role = "discovery" if host == "disc" else "node"
        state = root / host
        dirs[host] = str(state)
        log = (root / f"{host}.log").open("ab")
        subprocess.Popen(
            [*lab.exec_prefix(host), python, str(ENTRYPOINT), role, "--shared", str(shared),
             "--state", str(state), "--ip", addresses[host], *extra],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 600
    for host in ("a", "b", "c"):
        log = root / f"{host}.log"
        while b"in network" not in (log.read_bytes() if log.exists() else b""):
            if time.monotonic() > deadline:
                raise LabError(f"{host} did not join in time; see {log}")
            time.sleep(0.2)  # waiting for the node's own report, bounded
    return dirs


def _kill_pidfile(pidfile: Path) -> None:
    with contextlib.suppress(ProcessLookupError, ValueError, FileNotFoundError):
        pid = int(pidfile.read_text())
        os.killpg(pid, signal.SIGTERM)
    pidfile.unlink(missing_ok=True)


def _sysctl(netns: str, key: str, value: str) -> None:
    _run_in(netns, ["sh", "-c", f"echo {value} > /proc/sys/{key}"])


def _run_in(netns: str, argv: list[str]) -> None:
    done = subprocess.run(["ip", "netns", "exec", netns, *argv], capture_output=True, text=True)
    if done.returncode != 0:
        raise LabError(f"{' '.join(argv)} in {netns}: {done.stderr.strip()}")


SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x17


def checksum_offload_off(ifname: str) -> None:
    """``ethtool -K IF tx off`` by ioctl, as the machine may have no ethtool."""
    value = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, 0))
    request = struct.pack("16sP", ifname.encode(), ctypes.addressof(value))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        fcntl.ioctl(sock, SIOCETHTOOL, request)


ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def _packet_socket(ifname: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((ifname, 0))
    sock.setblocking(False)
    return sock


def relay(host_port: str, inner: str, delay_ms: float, loss_pct: float) -> None:
    """Copy Ethernet frames between the host's bridge port and the bridge.

    Frames the host sends wait ``delay_ms`` and are dropped with probability ``loss_pct``/100,
    as ``netem`` on the host's ``eth0`` would do; frames to the host pass at once. Runs until
    SIGTERM."""
    from_host, to_host = _packet_socket(host_port), _packet_socket(inner)
    delay_s, loss = delay_ms / 1000, loss_pct / 100
    pending: list[tuple[float, int, bytes]] = []
    sequence = 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("relaying", flush=True)
    while True:
        timeout = max(0.0, pending[0][0] - time.monotonic()) if pending else None
        readable, _, _ = select.select([from_host, to_host], [], [], timeout)
        for sock in readable:
            while True:
                try:
                    frame, address = sock.recvfrom(65536)
                except BlockingIOError:
                    break
                if address[2] == PACKET_OUTGOING:
                    continue
                if sock is to_host:
                    with contextlib.suppress(OSError):
                        from_host.send(frame)
                elif random.random() >= loss:
                    sequence += 1
                    heapq.heappush(pending, (time.monotonic() + delay_s, sequence, frame))
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            with contextlib.suppress(OSError):
                to_host.send(heapq.heappop(pending)[2])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lab.py", description="Hosts as network namespaces on a private bridge."
    )
    parser.add_argument("--prefix", default=PREFIX, help="namespace name prefix (default smlab)")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="make the hosts (replaces a lab of the same prefix)")
    up.add_argument("hosts", nargs="+", help="host names, e.g. disc a b c")
    commands.add_parser("down", help="stop everything on the hosts and delete them")
    demo_cmd = commands.add_parser("demo", help="discovery + 3 nodes in a network (see above)")
    demo_cmd.add_argument("--root", default="/tmp/secondme-lab", help="data dirs and logs")
    demo_cmd.add_argument(
        "--python", default=sys.executable, help="the Python that has secondme-node installed"
    )
    commands.add_parser("hosts", help="print host → address as JSON")
    link = commands.add_parser("link", help="pull out (down) or plug in (up) a host's cable")
    link.add_argument("host")
    link.add_argument("state", choices=["up", "down"])
    impair = commands.add_parser("impair", help="delay and drop what a host sends")
    impair.add_argument("host")
    impair.add_argument("--delay-ms", type=float, default=20.0)
    impair.add_argument("--loss-pct", type=float, default=2.0)
    clear = commands.add_parser("clear", help="undo impair")
    clear.add_argument("host")
    relay_cmd = commands.add_parser("_relay")
    relay_cmd.add_argument("port")
    relay_cmd.add_argument("inner")
    relay_cmd.add_argument("delay_ms", type=float)
    relay_cmd.add_argument("loss_pct", type=float)
    csum = commands.add_parser("_csum-off")
    csum.add_argument("ifname")
    args = parser.parse_args(argv)
    lab = Lab(prefix=args.prefix)
    try:
        if args.command == "up":
            print(json.dumps(lab.up(args.hosts), indent=1))
        elif args.command == "down":
            lab.down()
        elif args.command == "demo":
            root = Path(args.root)
            for host, data_dir in demo(lab, root, args.python).items():
                where = " ".join(lab.exec_prefix(host))
                print(f"{host}: {where} ... --data-dir {data_dir}  (log {root / host}.log)")
        elif args.command == "hosts":
            print(json.dumps(lab.hosts(), indent=1))
        elif args.command == "link":
            lab.link(args.host, args.state == "up")
        elif args.command == "impair":
            means = lab.impair(args.host, delay_ms=args.delay_ms, loss_pct=args.loss_pct)
            print(f"{args.host}: +{args.delay_ms} ms, {args.loss_pct}% loss ({means})")
        elif args.command == "clear":
            lab.clear(args.host)
        elif args.command == "_relay":
            relay(args.port, args.inner, args.delay_ms, args.loss_pct)
        elif args.command == "_csum-off":
            checksum_offload_off(args.ifname)
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
