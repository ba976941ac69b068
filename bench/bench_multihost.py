"""Many hosts: join time, ask latency across hosts with and without 20 ms of delay, and the
time of a group round, for networks of 3 and 8 nodes.

Every node is a real ``secondme-node`` daemon on its own host (a network namespace on a
private bridge, ``deploy/netns/lab.py``), with a discovery server on a fifth host. Timings are
taken inside the asking node's host, through its owner API, so that starting a CLI process is
not counted. Baselines from the same run: an SMP ``hello`` between the same two hosts (a round
trip through the protocol with no model), and the 20 ms figures beside the undelayed ones.

- join: from ``join TOKEN`` until the joiner has greeted a member over SMP (token redeemed at
  discovery, records read, a connection made);
- ask: a member asks the owner a question its grant covers (``models.max_answer_tokens`` 24);
- reconnect: a member's cable is pulled and put back; time from putting it back until the
  owner's next ``hello`` to it succeeds (the CLI's own start-up included);
- group round: the owner moderates a one-round discussion of every node (``max_turn_tokens`` 24).

    sudo .venv/bin/python bench/bench_multihost.py [--nodes 3 8] [--asks 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "deploy" / "netns"))

import lab as lab_module  # noqa: E402

from bench.common import report  # noqa: E402
from tests.e2e import harness  # noqa: E402

CLIENT = r"""
import json, sys, time, httpx
api, token, peer, question, repeat = sys.argv[1:6]
timings = {"hello": [], "ask": []}
with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"}, timeout=300) as c:
    for round_ in range(int(repeat) + 1):  # the first round warms up and is not counted
        for kind, body in (("hello", None), ("ask", {"question": question})):
            started = time.perf_counter()
            r = c.post(f"/api/peers/{peer}/{kind}", json=body or {})
            r.raise_for_status()
            if round_:
                timings[kind].append((time.perf_counter() - started) * 1000)
print(json.dumps(timings))
"""


def configure(data_dir: Path, name: str, address: str) -> None:
    listen = f"/ip4/{address}/tcp/4001"
    harness.run_cli(data_dir, "init", "--name", name, "--public", "name", "--listen", listen)
    harness.edit_config(
        data_dir,
        memory={"l1_enabled": False},
        models={"max_answer_tokens": 24, "threads": 1},  # several daemons share the cores
        groups={"max_turn_tokens": 24, "temperature": 0.0, "turn_timeout_s": 120.0},
    )


def measure_asks(lab, asker: harness.NodeProcess, host: str, owner_id: str, repeat: int) -> dict:
    done = subprocess.run(
        [*lab.exec_prefix(host), sys.executable, "-c", CLIENT, asker.api_url, asker.token,
         owner_id, "Where did you walk in May?", str(repeat)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def run(count: int, asks: int, root: Path) -> dict[str, float]:
    lab = lab_module.Lab(prefix="smbench")
    names = [f"n{i}" for i in range(count)]
    hosts = lab.up(["disc", *names])
    nodes: dict[str, harness.NodeProcess] = {}
    discovery = harness.start_discovery(
        root / "discovery", listen=f"/ip4/{hosts['disc']}/tcp/4001", on=lab.exec_prefix("disc")
    )
    try:
        for name in names:
            configure(root / name, name.upper(), hosts[name])
        pending = {
            name: harness.start_node(root / name, on=lab.exec_prefix(name), wait=False)
            for name in names
        }
        for name in names:  # started together, then each waited for
            process = pending[name].process
            nodes[name] = harness.wait_until_ready(pending[name])
            assert nodes[name].process is process
        owner, members = nodes[names[0]], [nodes[n] for n in names[1:]]
        (root / "lisbon.md").write_text("# Lisbon\nIn May I walked the Alfama hills in Lisbon.\n")
        owner.cli("ingest", str(root / "lisbon.md"), "--tag", "travel")
        owner.cli("network", "create", "bench", "--discovery", discovery.addr)
        token = owner.cli_json("invite", "--network", "bench", "--uses", str(count))["token"]
        joins = []
        for member in members:
            started = time.perf_counter()
            member.cli("join", token)
            harness.wait_for(
                lambda m=member: m.cli("hello", owner.peer_id, check=False).returncode == 0,
                timeout=120,
            )
            joins.append((time.perf_counter() - started) * 1000)
        for member in members:  # the owner learns of each from its greeting (10 s at most)
            harness.wait_for(
                lambda m=member: owner.cli("hello", m.peer_id, check=False).returncode == 0,
                timeout=60,
            )
        asker = members[0]
        owner.cli("grant", asker.peer_id, "--ability", "chat/ask", "--tags", "travel")
        plain = measure_asks(lab, asker, names[1], owner.peer_id, asks)
        for name in names:
            lab.impair(name, delay_ms=20, loss_pct=0)
        try:
            delayed = measure_asks(lab, asker, names[1], owner.peer_id, asks)
        finally:
            for name in names:
                lab.clear(name)
        # A cable out and back in: from plugging it in to the next successful hello.
        cut = names[-1]
        lab.link(cut, up=False)
        assert owner.cli("hello", nodes[cut].peer_id, check=False).returncode != 0
        lab.link(cut, up=True)
        started = time.perf_counter()
        harness.wait_for(
            lambda: owner.cli("hello", nodes[cut].peer_id, check=False).returncode == 0,
            timeout=120,
        )
        reconnect_ms = (time.perf_counter() - started) * 1000
        ids = ",".join(m.peer_id for m in members)
        owner.cli("group", "create", "bench", "--members", ids, "--tags", "travel")
        for member in members:
            member.cli("group", "accept", "bench", "--profile-only")
        started = time.perf_counter()
        owner.cli("group", "discuss", "bench", "Where should we meet next?", "--rounds", "1")
        round_ms = (time.perf_counter() - started) * 1000
        return {
            "join": statistics.median(joins),
            "hello": statistics.median(plain["hello"]),
            "ask": statistics.median(plain["ask"]),
            "hello_20": statistics.median(delayed["hello"]),
            "ask_20": statistics.median(delayed["ask"]),
            "round": round_ms,
            "reconnect": reconnect_ms,
        }
    finally:
        for node in nodes.values():
            node.terminate()
        discovery.terminate()
        lab.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[3, 8])
    parser.add_argument("--asks", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench_multihost needs root (network namespaces)")
    for count in args.nodes:
        with tempfile.TemporaryDirectory(prefix="smbench-") as tmp:
            figures = run(count, args.asks, Path(tmp))
        report(
            f"{count} nodes on {count} hosts (+ discovery), medians",
            [
                ("join: token to first member greeted", f"{figures['join']:.0f} ms"),
                ("hello (SMP round trip, baseline)", f"{figures['hello']:.1f} ms"),
                ("ask (24 tokens)", f"{figures['ask']:.0f} ms"),
                ("ask / hello", f"{figures['ask'] / figures['hello']:.1f}x"),
                ("hello, +20 ms per host", f"{figures['hello_20']:.1f} ms"),
                ("ask, +20 ms per host", f"{figures['ask_20']:.0f} ms"),
                ("ask +20 ms / ask", f"{figures['ask_20'] / figures['ask']:.2f}x"),
                ("reconnect: cable back in to hello", f"{figures['reconnect']:.0f} ms"),
                (f"group round ({count} turns)", f"{figures['round'] / 1000:.1f} s"),
                ("per turn", f"{figures['round'] / count / 1000:.2f} s"),
            ],
        )


if __name__ == "__main__":
    main()
