"""The whole story across hosts, faults included.

A discovery server and the nodes of Alice, Bob and Carol run on four hosts, each a network
namespace on a private bridge (``deploy/netns/lab.py``); every command goes through the real
CLI on the node's own host. Alice creates a network and invites Bob and Carol; she grants Bob
``chat/ask`` on her travel notes; Carol is refused; the three hold a group discussion. Then the
faults: Carol's cable is pulled mid-discussion and put back, Bob is SIGKILLed and restarted,
the discovery server restarts, and every host gets 20 ms of delay and 2 % loss. Each node holds
a private note with a canary that must never leave it.

Needs root for the namespaces: without it the module is skipped, unless
``SECONDME_REQUIRE_NETNS=1`` (``make e2e``) makes that a failure. ``SECONDME_LAB_REPEAT=N``
runs the discussion under delay and loss N times on the same hosts (a soak; ``make lab-soak``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from secondme.protocol.identity import Identity
from tests.e2e import harness
from tests.e2e.wire_capture import read_capture

ROOT = Path(__file__).resolve().parents[2]


def _load_lab():
    spec = importlib.util.spec_from_file_location("lab", ROOT / "deploy" / "netns" / "lab.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["lab"] = module
    spec.loader.exec_module(module)
    return module


lab_module = _load_lab()

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

PEOPLE = {
    "a": ("Alice", "travel", "In May I walked the Alfama hills in Lisbon and ate grilled sardines "
          "with my sister Ana.", "OKAPI-LANTERN-3318"),
    "b": ("Bob", "group", "For the trip I suggest the Millbrook canal towpath, because my knee "
          "hurts on steep descents.", "MARMOT-QUILL-6604"),
    "c": ("Carol", "group", "For the trip I suggest the Quarry Hollow trailhead; I can drive "
          "everyone there in my minivan.", "IBIS-TRELLIS-9275"),
}  # fmt: skip
CANARIES = [canary for *_, canary in PEOPLE.values()]
QUESTION = "Where should we go on Saturday?"
RECONNECT_S = 60.0
"""A restored link or a restarted node must be reachable again within this bound."""
DELIVERY_TIMEOUT_S, RETRY_MAX_S = 10.0, 10.0
CONVERGE_S = DELIVERY_TIMEOUT_S + RETRY_MAX_S + 15.0
"""Once a fault heals, every member holds the moderator's transcript within the outbox's bound
(``retry_max_s + delivery_timeout_s``); the rest is for this test's own CLI calls on a loaded
machine."""
REPEAT = int(os.environ.get("SECONDME_LAB_REPEAT", "1"))
SKEWED = str(Path(__file__).with_name("skewed_clock"))


def skewed(offset_s: float) -> dict[str, str]:
    """The environment of a node whose host clock is ``offset_s`` seconds off."""
    return {"PYTHONPATH": SKEWED, "SECONDME_TEST_CLOCK_OFFSET_S": str(offset_s)}


def _lab_problem() -> str | None:
    if sys.platform != "linux":
        return "network namespaces are Linux only"
    if shutil.which("ip") is None:
        return "`ip` (iproute2) is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root"
    return None


@pytest.fixture(scope="module")
def lab():
    problem = _lab_problem()
    if problem:
        if os.environ.get("SECONDME_REQUIRE_NETNS"):
            pytest.fail(problem)
        pytest.skip(problem)
    made = lab_module.Lab(prefix=f"smt{os.getpid() % 100000}")
    made.up(["disc", "a", "b", "c"])
    yield made
    made.down()


def _configure(data_dir: Path, name: str, address: str) -> None:
    listen = f"/ip4/{address}/tcp/4001"
    harness.run_cli(data_dir, "init", "--name", name, "--public", "name", "--listen", listen)
    harness.edit_config(
        data_dir,
        memory={"l1_enabled": False},  # L1 is not what this test is about
        groups={
            "turn_timeout_s": 15.0,
            "max_turn_tokens": 40,
            "temperature": 0.0,
            "delivery_timeout_s": DELIVERY_TIMEOUT_S,
            "retry_first_s": 1.0,
            "retry_max_s": RETRY_MAX_S,
        },
        models={"max_answer_tokens": 48},
    )


@pytest.fixture(scope="module")
def world(lab, tmp_path_factory):
    """Discovery on ``disc``; Alice on ``a`` (every frame she writes is captured), Bob on
    ``b``, Carol on ``c``; each has ingested a shareable note and a private one."""
    root = tmp_path_factory.mktemp("multihost")
    hosts = lab.hosts()
    # Carol's data lives on a small disk of its own, to be filled up later.
    disk = root / "carol-disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128m", "tmpfs", str(disk)], check=True)
    discovery = harness.start_discovery(
        root / "discovery", listen=f"/ip4/{hosts['disc']}/tcp/4001", on=lab.exec_prefix("disc")
    )
    nodes: dict[str, harness.NodeProcess] = {}
    world = {"root": root, "discovery": discovery, "nodes": nodes, "answers": []}
    try:
        for host, (name, _, _, _) in PEOPLE.items():
            data_dir = (disk if host == "c" else root) / host
            _configure(data_dir, name, hosts[host])
            launcher: tuple[str, ...] = (harness.CLI,)
            if host == "a":
                capture = root / "a.frames"
                launcher = (sys.executable, str(Path(__file__).with_name("wire_capture.py")),
                            str(capture))  # fmt: skip
            nodes[host] = harness.start_node(
                data_dir, launcher=launcher, on=lab.exec_prefix(host), wait=False
            )
        for host, (_, tag, fact, canary) in PEOPLE.items():  # started together, ready in turn
            harness.wait_until_ready(nodes[host])
            (root / f"{host}-fact.md").write_text(f"# Plans\n{fact}\n")
            (root / f"{host}-secret.md").write_text(
                f"# Secret\nMy locker code is {canary}; I keep my trip money in that locker.\n"
            )
            nodes[host].cli("ingest", str(root / f"{host}-fact.md"), "--tag", tag)
            nodes[host].cli("ingest", str(root / f"{host}-secret.md"), "--tag", "private")
        yield world
    finally:
        for node in nodes.values():
            if node.process.poll() is None:
                node.process.kill()
                node.process.wait(timeout=30)
        if world["discovery"].process.poll() is None:
            world["discovery"].process.kill()
        subprocess.run(["umount", str(disk)], check=False)


def refused(node: harness.NodeProcess, *args: str) -> dict:
    result = node.cli(*args, "--json", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    return json.loads(result.stdout)["error"]


def transcript(node: harness.NodeProcess) -> dict:
    return node.cli_json("group", "transcript", "trip")


def test_network_forms_through_invites(world):
    alice, bob, carol = (world["nodes"][h] for h in "abc")
    created = alice.cli_json("network", "create", "friends", "--discovery", world["discovery"].addr)
    assert created["owner"] == alice.peer_id
    for joiner in (bob, carol):
        token = alice.cli_json("invite", "--network", "friends", "--uses", "1", "--expires", "1h")
        assert joiner.cli_json("join", token["token"])["network_id"] == created["network_id"]
    # The owner learns of both new members from their greetings, without a refresh, though
    # Carol joined right after Bob (member lists are read again at most every 10 s).
    for joiner in (bob, carol):
        harness.wait_for(lambda j=joiner: _reachable(alice, j), timeout=30)
    everyone = {n.peer_id for n in (alice, bob, carol)}
    for node in (alice, bob, carol):
        members = node.cli_json("network", "members")["members"]
        assert {m["peer_id"] for m in members} == everyone
        assert all(m["online"] for m in members), members
    # Found through discovery, across hosts: the address Bob dials is Alice's on host a.
    assert bob.cli_json("hello", alice.peer_id)["display_name"] == "Alice"


def test_grant_covers_bob_and_carol_is_refused(world):
    alice, bob, carol = (world["nodes"][h] for h in "abc")
    grant = alice.cli_json(
        "grant", bob.peer_id, "--ability", "chat/ask", "--tags", "travel", "--expires", "1h"
    )
    assert grant["delivered_ms"] and grant["state"] == "active"
    answer = bob.cli_json("ask", alice.peer_id, "Where did you walk in May?")
    assert answer["grant_id"] == grant["id"] and answer["sources"] >= 1
    world["answers"].append(answer["answer"])
    error = refused(carol, "ask", alice.peer_id, "Where did you walk in May?")
    assert error["code"] == "peer_refused" and error["remote_code"] == "no_grant", error
    entry = alice.cli_json("audit", "--peer", carol.peer_id)[0]
    assert entry["decision"] == "refused" and entry["shared"] == []


def test_group_discusses_to_the_end(world):
    alice, bob, carol = (world["nodes"][h] for h in "abc")
    created = alice.cli_json(
        "group", "create", "trip", "--members", f"{bob.peer_id},{carol.peer_id}",
        "--topic", "a trip this Saturday", "--tags", "travel",
    )  # fmt: skip
    world["group_id"] = created["group_id"]
    for member in (bob, carol):
        member.cli("group", "accept", "trip", "--tags", "group")
    printed = alice.cli("group", "discuss", "trip", QUESTION, "--rounds", "1")
    assert "ended: round limit" in printed.stdout, printed.stdout
    copies = [transcript(node) for node in (alice, bob, carol)]
    assert len({copy["head"] for copy in copies}) == 1
    kinds = [m["kind"] for m in copies[0]["messages"]]
    assert kinds.count("turn") == 3 and kinds[-2:] == ["summary", "end"]


def _wait_for_kind(node: harness.NodeProcess, kind: str, after: int, timeout: float) -> dict:
    def found():
        return next(
            (m for m in transcript(node)["messages"] if m["seq"] > after and m["kind"] == kind),
            None,
        )

    return harness.wait_for(found, timeout=timeout)


def _reachable(node: harness.NodeProcess, peer: harness.NodeProcess) -> bool:
    return node.cli("hello", peer.peer_id, "--json", check=False).returncode == 0


def test_cut_link_mid_discussion_ends_with_a_reason_and_reconnects(world, lab):
    alice, carol = world["nodes"]["a"], world["nodes"]["c"]
    started = alice.cli_json(
        "group", "discuss", "trip", "What should we bring?", "--rounds", "1", "--detach"
    )
    _wait_for_kind(alice, "question", started["after"], timeout=60)
    lab.link("c", up=False)
    try:
        end = _wait_for_kind(alice, "end", started["after"], timeout=240)
    finally:
        lab.link("c", up=True)
    restored = time.monotonic()
    assert end["reason"].startswith("round limit")
    since = [m for m in transcript(alice)["messages"] if m["seq"] > started["after"]]
    skipped = [m for m in since if m["kind"] == "skip"]
    assert [m["about"] for m in skipped] == [carol.peer_id], since
    assert skipped[0]["reason"].startswith("skipped: ")
    harness.wait_for(lambda: _reachable(alice, carol), timeout=RECONNECT_S)
    world["reconnect_s"] = time.monotonic() - restored
    # What Carol holds is a true prefix of Alice's transcript: nothing lost or forked.
    held = [m["hash"] for m in transcript(carol)["messages"]]
    assert held == [m["hash"] for m in transcript(alice)["messages"]][: len(held)]
    # And the rest reaches her with nobody posting again; meanwhile Alice sees her behind.
    converged(alice, carol, since=restored)


def converged(moderator: harness.NodeProcess, *members: harness.NodeProcess, since: float):
    """Wait until every member's transcript has the moderator's head (nobody posts meanwhile),
    within :data:`CONVERGE_S` of ``since``; then until the moderator counts none behind (its
    acknowledgement comes just after the member keeps the message)."""
    head = transcript(moderator)["head"]

    def same() -> bool:
        return all(transcript(member)["head"] == head for member in members)

    def none_behind() -> bool:
        (group,) = [g for g in moderator.cli_json("group", "list") if g["name"] == "trip"]
        return not any(m.get("behind") for m in group["members"])

    harness.wait_for(same, timeout=max(1.0, since + CONVERGE_S - time.monotonic()))
    assert transcript(moderator)["head"] == head  # nobody posted meanwhile
    harness.wait_for(none_behind, timeout=DELIVERY_TIMEOUT_S)


def test_member_killed_mid_discussion_converges_once_restarted(world, lab):
    alice, bob = world["nodes"]["a"], world["nodes"]["b"]
    started = alice.cli_json("group", "discuss", "trip", "Who drives?", "--rounds", "1", "--detach")
    _wait_for_kind(bob, "question", started["after"], timeout=60)
    bob.kill()
    end = _wait_for_kind(alice, "end", started["after"], timeout=240)
    assert end["reason"].startswith("round limit")
    listed = next(g for g in alice.cli_json("group", "list") if g["name"] == "trip")
    entry = next(m for m in listed["members"] if m["peer_id"] == bob.peer_id)
    assert entry["behind"] >= 1 and entry["delivery"] == "retrying", entry
    printed = alice.cli("group", "list").stdout
    assert "Bob is" in printed and "message(s) behind" in printed, printed
    bob = world["nodes"]["b"] = harness.start_node(bob.data_dir, on=lab.exec_prefix("b"))
    restarted = time.monotonic()
    converged(alice, bob, since=restarted)
    kinds = [m["kind"] for m in transcript(bob)["messages"]]
    assert kinds[-2:] == ["summary", "end"]


def _networks(node: harness.NodeProcess) -> list[dict]:
    """The node's networks, less when it last read them from discovery."""
    return [
        {k: v for k, v in n.items() if k not in ("synced_ms", "sync_error")}
        for n in node.cli_json("network", "list")
    ]


def test_sigkilled_node_restarts_with_everything(world, lab):
    alice, bob = world["nodes"]["a"], world["nodes"]["b"]
    before = {
        "grants": bob.cli_json("grants")["received"],
        "networks": _networks(bob),
        "transcript": transcript(bob),
    }
    bob.kill()
    # Bob's host clock now runs a minute fast: within the allowed skew, so all still works.
    bob = world["nodes"]["b"] = harness.start_node(
        bob.data_dir, on=lab.exec_prefix("b"), env=skewed(60)
    )
    assert bob.cli_json("grants")["received"] == before["grants"]
    assert _networks(bob) == before["networks"]
    assert transcript(bob) == before["transcript"]
    answer = _answer_once_reconnected(bob, alice, "What did you eat in Lisbon?")
    world["answers"].append(answer["answer"])


def _answer_once_reconnected(
    node: harness.NodeProcess, peer: harness.NodeProcess, question: str
) -> dict:
    """``node`` asks ``peer`` until an answer comes (the restarted node reconnects first); the
    last refusal is in the failure if none comes within ``RECONNECT_S``."""
    failures: list[str] = []

    def answered() -> dict | None:
        result = node.cli("ask", peer.peer_id, question, "--json", check=False)
        if result.returncode == 0:
            return json.loads(result.stdout)
        failures.append(result.stdout + result.stderr)
        return None

    try:
        return harness.wait_for(answered, timeout=RECONNECT_S)
    except AssertionError:
        raise AssertionError(f"no answer in {RECONNECT_S} s: {failures[-1:]}") from None


def test_discovery_restart_keeps_the_network(world, lab):
    discovery = world["discovery"]
    assert discovery.terminate() == 0
    listen = discovery.addr.rsplit("/p2p/", 1)[0]
    restarted = harness.start_discovery(
        world["root"] / "discovery", listen=listen, on=lab.exec_prefix("disc")
    )
    world["discovery"] = restarted
    assert restarted.addr == discovery.addr
    carol = world["nodes"]["c"]
    report = carol.cli_json("network", "refresh")
    assert report["registered"] == 1 and not report["failed"], report
    members = world["nodes"]["b"].cli_json("network", "members")
    assert members["stale"] is None and len(members["members"]) == 3


@pytest.mark.timeout(600 + 300 * REPEAT)
def test_delay_and_loss(world, lab):
    alice, bob, carol = (world["nodes"][h] for h in "abc")
    for run in range(REPEAT):
        for host in "abc":
            lab.impair(host, delay_ms=20, loss_pct=2)
        try:
            if run == 0:
                answer = bob.cli_json("ask", alice.peer_id, "Who did you eat sardines with?")
                world["answers"].append(answer["answer"])
            printed = alice.cli("group", "discuss", "trip", QUESTION, "--rounds", "1")
            assert "ended: " in printed.stdout, printed.stdout
        finally:
            for host in "abc":
                lab.clear(host)
        healed = time.monotonic()
        converged(alice, bob, carol, since=healed)
        copies = [transcript(node) for node in (alice, bob, carol)]
        assert len({copy["head"] for copy in copies}) == 1, f"run {run + 1} of {REPEAT}"
        assert len({len(copy["messages"]) for copy in copies}) == 1
        if REPEAT > 1:
            print(f"run {run + 1}/{REPEAT}: converged {time.monotonic() - healed:.1f} s after")


def test_clock_skew_beyond_the_window_is_refused_clearly(world, lab):
    alice, bob = world["nodes"]["a"], world["nodes"]["b"]
    assert bob.terminate() == 0
    bob = world["nodes"]["b"] = harness.start_node(
        bob.data_dir, on=lab.exec_prefix("b"), env=skewed(600)
    )
    error = refused(bob, "ask", alice.peer_id, "Where did you walk in May?")
    assert error["remote_code"] == "stale", error
    assert "ahead of" in error["message"] and "clock" in error["message"], error
    entry = alice.cli_json("audit", "--peer", bob.peer_id)[0]
    assert entry["decision"] == "refused" and entry["code"] == "stale"


def test_unreachable_discovery_and_ports_in_use(world, lab):
    alice = world["nodes"]["a"]
    # No host has this address, and no server this identity (a known identity would be
    # dialled over the connection already open to it, whatever the address says).
    stranger = Identity.generate().peer_id
    nowhere = f"/ip4/{lab_module.SUBNET}.99/tcp/4001/p2p/{stranger}"
    started = time.monotonic()
    error = refused(alice, "network", "create", "elsewhere", "--discovery", nowhere)
    assert time.monotonic() - started < 60
    assert "discovery" in error["message"] and nowhere.split("/p2p/")[0] in error["message"]
    assert [n["name"] for n in alice.cli_json("network", "list")] == ["friends"]
    taken = world["discovery"].addr.rsplit("/p2p/", 1)[0]
    clash = subprocess.run(
        [*lab.exec_prefix("disc"), harness.DISCOVERY, "--listen", taken,
         "--db", str(world["root"] / "second.db"), "--key", str(world["root"] / "second.key")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert clash.returncode != 0 and "in use" in clash.stderr, clash.stderr


def test_full_disk_refuses_writes_and_loses_nothing(world):
    carol = world["nodes"]["c"]
    documents = carol.cli("memory", "documents").stdout
    ballast = carol.data_dir.parent / "ballast"
    with ballast.open("wb") as out:  # fill the disk to the last byte
        try:
            while True:
                out.write(b"\0" * (1 << 20))
                out.flush()
        except OSError:
            pass
    note = world["root"] / "c-later.md"
    note.write_text("# Later\nOn Sunday I want to bake bread with rye flour.\n")
    try:
        result = carol.cli("ingest", str(note), "--json", check=False)
        assert result.returncode == 1
        [failed] = json.loads(result.stdout)["results"]
        assert failed["status"] == "failed" and "disk" in failed["message"], failed
        assert carol.process.poll() is None  # still running
        assert carol.cli("memory", "documents").stdout == documents  # nothing lost
        hits = carol.cli_json("search", "minivan trailhead")
        assert hits and "Quarry" in json.dumps(hits)
    finally:
        ballast.unlink()
    assert carol.cli_json("ingest", str(note))["results"][0]["status"] == "added"


def test_no_canary_leaves_its_node(world):
    nodes = world["nodes"]
    seen = json.dumps(world["answers"])
    seen += "".join(json.dumps(transcript(node)) for node in nodes.values())
    stored = b"".join(
        path.read_bytes() for path in (world["root"] / "discovery").iterdir() if path.is_file()
    )
    wire = b"".join(read_capture(world["root"] / "a.frames"))
    assert wire and stored
    for canary in CANARIES:
        assert canary not in seen
        assert canary.encode() not in stored
    assert PEOPLE["a"][3].encode() not in wire


def test_every_process_shuts_down(world, lab):
    for node in world["nodes"].values():
        assert node.terminate() == 0, node.stderr_text()[-2000:]
    assert world["discovery"].terminate() == 0
    for host in ("disc", "a", "b", "c"):
        pids = subprocess.run(
            ["ip", "netns", "pids", lab.netns(host)], capture_output=True, text=True
        ).stdout.split()
        assert pids == [], (host, pids)
