"""Starting, stopping, crashing and sharing a machine: real daemons, real files."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from secondme.node.core.testing_hooks import HookFolder
from tests.e2e.harness import NodeProcess, run_cli, wait_for
from tests.e2e.sample_files import FILLER

pytestmark = pytest.mark.slow


def test_init_then_id_without_a_daemon(tmp_path):
    data_dir = tmp_path / "n"
    run_cli(data_dir, "init", "--name", "Bo")
    again = run_cli(data_dir, "init", check=False)
    assert again.returncode != 0 and "already holds a node" in again.stderr
    peer = run_cli(data_dir, "id").stdout.strip()
    assert peer.startswith("12D3KooW")
    not_running = run_cli(data_dir, "status", check=False)
    assert not_running.returncode != 0
    assert "no secondme-node daemon is running" in not_running.stderr


def test_passphrase_protected_key(tmp_path, start_node):
    data_dir = tmp_path / "n"
    secret = tmp_path / "pass"
    secret.write_text("s3cret phrase\n")
    run_cli(data_dir, "init", "--passphrase-file", str(secret))
    assert "sealed" in (data_dir / "identity.key").read_text()
    locked = run_cli(data_dir, "id", check=False)
    assert locked.returncode != 0 and "passphrase" in locked.stderr
    peer = run_cli(data_dir, "id", "--passphrase-file", str(secret)).stdout.strip()
    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n")
    failed = run_cli(data_dir, "start", "--passphrase-file", str(wrong), check=False)
    assert failed.returncode != 0 and "wrong passphrase" in failed.stderr
    node = start_node(data_dir, "--passphrase-file", str(secret))
    try:
        assert node.peer_id == peer
    finally:
        node.terminate()


def test_stop_two_nodes_and_port_in_use(tmp_path, start_node):
    first = start_node(tmp_path / "a", "--name", "A")
    second = start_node(tmp_path / "b", "--name", "B")
    try:
        assert first.peer_id != second.peer_id
        note = tmp_path / "only-a.md"
        note.write_text("Node A alone knows that the lighthouse key is under the blue stone.\n")
        first.cli("ingest", str(note))
        assert first.cli_json("search", "lighthouse key blue stone")
        assert second.cli_json("search", "lighthouse key blue stone") == []
        port = first.api_url.rsplit(":", 1)[1]
        clash = run_cli(tmp_path / "c", "start", "--api-port", port, check=False, timeout=180)
        assert clash.returncode != 0
        assert f"API port {port}" in clash.stderr and "in use" in clash.stderr
        p2p_addr = json.loads((first.data_dir / "daemon.json").read_text())["p2p"][0]
        taken = p2p_addr.split("/p2p/")[0]
        clash = run_cli(
            tmp_path / "d", "start", "--api-port", "0", "--listen", taken, check=False, timeout=180
        )
        assert clash.returncode != 0
        assert f"cannot listen on {taken} (p2p.listen / --listen)" in clash.stderr
        assert not (tmp_path / "d" / "daemon.json").exists()
    finally:
        stopped = first.cli("stop")
        assert "stopped" in stopped.stdout
        assert first.process.wait(timeout=60) == 0
        assert not (first.data_dir / "daemon.json").exists()
        second.terminate()


def test_missing_model_and_newer_schema_are_refused_clearly(tmp_path):
    data_dir = tmp_path / "m"
    run_cli(data_dir, "init", "--chat-model", str(tmp_path / "nowhere.gguf"))
    result = run_cli(data_dir, "start", check=False, timeout=120)
    assert result.returncode != 0
    assert "models.chat_model: no GGUF file at" in result.stderr
    assert "nowhere.gguf" in result.stderr

    data_dir = tmp_path / "s"
    run_cli(data_dir, "init")
    conn = sqlite3.connect(data_dir / "node.db")
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 0)")
    conn.commit()
    conn.close()
    result = run_cli(data_dir, "start", check=False, timeout=120)
    assert result.returncode != 0 and "newer secondme-node" in result.stderr


def test_sigkill_during_ingest_loses_no_committed_document(tmp_path, start_node):
    data_dir = tmp_path / "k"
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(60):
        (folder / f"note-{n:03}.md").write_text(
            f"# Note {n}\n\nFact number {n}: the locker code is {1000 + n}.\n\n" + FILLER * 30
        )
    # The sixth file's points are in the vector store and its document not yet committed: the
    # daemon waits there, and dies there.
    hooks = HookFolder(tmp_path / "hooks")
    hooks.arm("ingest.commit", at=6)
    node = start_node(data_dir, env=hooks.env)
    ingest = threading.Thread(
        target=run_cli, args=(data_dir, "ingest", str(folder)), kwargs={"check": False}
    )
    ingest.start()
    wait_for(lambda: hooks.reached("ingest.commit") or not ingest.is_alive(), timeout=300)
    assert hooks.reached("ingest.commit"), "the ingest ended before reaching the sixth commit"
    node.kill()
    ingest.join(timeout=120)

    restarted: NodeProcess = start_node(data_dir)
    try:
        docs = restarted.cli_json("memory", "documents")
        restarted.cli_json("memory", "status", "--wait", "600")  # L1 adds its own points
        status = restarted.cli_json("status")["memory"]
        assert len(docs) == 5
        # No half-written document: every point is a committed chunk or L1 record.
        assert status["vector_points"] == status["chunks"] + status["l1_points"]
        conn = sqlite3.connect(data_dir / "node.db")
        for doc in docs:
            stored = conn.execute(
                "SELECT COUNT(*) FROM chunks WHERE doc_id = ?", (doc["id"],)
            ).fetchone()[0]
            assert stored == doc["chunks"] > 0
        n = int(docs[0]["path"].rsplit("-", 1)[1][:3])
        hits = restarted.cli_json("search", f"locker code {1000 + n}", "--k", "3")
        assert any(f"note-{n:03}.md" in h["source"]["path"] for h in hits)
        finished = restarted.cli_json("ingest", str(folder))
        statuses = [r["status"] for r in finished["results"]]
        assert statuses.count("unchanged") == len(docs)
        assert statuses.count("added") == 60 - len(docs)
    finally:
        restarted.terminate()
