"""One real daemon, driven through the CLI, the HTTP API and the openai client."""

from __future__ import annotations

import json
import os
import re
import stat

import httpx
import openai
import pytest

from secondme.node.api import access_routes, openai_compat, routes
from tests.e2e.harness import edit_config, run_cli, start_node
from tests.e2e.sample_files import FACTS, write_samples

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("nodes") / "ada"
    run_cli(data_dir, "init", "--name", "Ada", "--description", "an engineer who bakes and runs",
            "--style", "short and warm", "--public", "name")  # fmt: skip
    # Greedy decoding: the answers the tests read are the same on every run of this build.
    edit_config(data_dir, models={"temperature": 0.0})
    proc = start_node(data_dir)
    yield proc
    assert proc.terminate() == 0, proc.stderr_text()


@pytest.fixture(scope="module")
def samples(node, tmp_path_factory):
    folder = tmp_path_factory.mktemp("samples")
    paths = write_samples(folder)
    result = node.cli_json("ingest", str(folder), "--tag", "personal")
    return paths, result


def test_data_dir_files_are_private(node):
    for name in ("identity.key", "api.token", "config.toml", "daemon.json"):
        mode = stat.S_IMODE(os.stat(node.data_dir / name).st_mode)
        assert mode == 0o600, f"{name} has mode {mode:o}"
    assert stat.S_IMODE(os.stat(node.data_dir).st_mode) == 0o700


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of sockets listening on ``port``, read from the kernel's tables."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, port_hex = local.rsplit(":", 1)
                if state == "0A" and int(port_hex, 16) == port:
                    found.add(address)
    return found


def test_api_listens_on_loopback_only(node):
    assert node.api_url.startswith("http://127.0.0.1:")
    port = int(node.api_url.rsplit(":", 1)[1])
    assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_every_route_needs_the_owner_token(node, token):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    every_route = [
        (route.method, re.sub(r"\{[^}]+\}", "x", route.path))
        for table in (routes.routes, openai_compat.routes, access_routes.routes)
        for route in table
    ]
    assert len(every_route) > 20
    for method, path in every_route:
        response = httpx.request(method, node.api_url + path, headers=headers, json={})
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "unauthenticated"
    with node.http() as api:
        assert api.get("/api/status").status_code == 200  # and the node is still up


def test_id_and_status(node):
    info = node.cli_json("id")
    assert info["peer_id"] == node.peer_id and info["peer_id"].startswith("12D3KooW")
    status = node.cli_json("status")
    assert status["peer_id"] == node.peer_id
    assert status["data_dir"] == str(node.data_dir)


def test_every_format_is_ingested_and_found_by_its_fact(node, samples):
    paths, result = samples
    statuses = {r["path"]: r["status"] for r in result["results"]}
    assert set(statuses) == {str(p.resolve()) for p in paths.values()}
    assert set(statuses.values()) == {"added"}, result
    for kind, (_name, fact, question) in FACTS.items():
        hits = node.cli_json("search", question, "--k", "3")
        top_paths = [h["source"]["path"] for h in hits]
        assert str(paths[kind].resolve()) in top_paths, (kind, question, top_paths)
        best = next(h for h in hits if h["source"]["path"] == str(paths[kind].resolve()))
        start, end = best["source"]["span"]
        assert end > start and best["tags"] == ["personal"]
        key = fact.replace(",", " ").split()[-1].strip(".")
        assert key in best["text"], (kind, best["text"])


def test_chat_export_keeps_speakers_and_times(node, samples):
    hits = node.cli_json("search", "saxophone lessons Thursday Marguerite", "--k", "1")
    source = hits[0]["source"]
    assert source["name"] == "chat.jsonl"
    assert "Sam" in source["speakers"]
    assert source["time"][0].startswith("2024-03-01")


def test_reingest_unchanged_does_nothing_and_changed_replaces(node, samples, tmp_path):
    paths, _ = samples
    again = node.cli_json("ingest", str(paths["text"]), "--tag", "personal")
    assert again["results"][0]["status"] == "unchanged"
    before = node.cli_json("status")["memory"]
    paths["text"].write_text("I now ride a red Brompton folding bike to the office.\n")
    changed = node.cli_json("ingest", str(paths["text"]), "--tag", "personal")
    assert changed["results"][0]["status"] == "replaced"
    hits = node.cli_json("search", "green Peugeot Nantes 1998", "--k", "10")
    assert all("Peugeot" not in h["text"] for h in hits)
    hits = node.cli_json("search", "red Brompton folding bike", "--k", "1")
    assert hits[0]["source"]["path"] == str(paths["text"].resolve())
    node.cli_json("memory", "status", "--wait", "600")
    after = node.cli_json("status")["memory"]
    assert after["documents"] == before["documents"]
    assert after["vector_points"] == after["chunks"] + after["l1_points"]
    copy = tmp_path / "copy-of-garden.md"
    copy.write_bytes(paths["markdown"].read_bytes())
    dup = node.cli_json("ingest", str(copy))
    assert dup["results"][0]["status"] == "duplicate"


def test_tag_filter_limits_search(node, samples, tmp_path):
    work = tmp_path / "work.md"
    work.write_text("The quarterly roadmap review is on the fourth floor with the quince team.\n")
    node.cli("ingest", str(work), "--tag", "work")
    tagged = node.cli_json("search", "quince", "--tag", "work", "--k", "5")
    assert tagged and all(h["tags"] == ["work"] for h in tagged)
    personal = node.cli_json("search", "quince", "--tag", "personal", "--k", "5")
    assert personal and all("personal" in h["tags"] for h in personal)


def test_bad_files_get_one_line_each_and_the_batch_goes_on(node, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "notes.xyz").write_text("what is this")
    (bad / "broken.pdf").write_bytes(b"%PDF-1.4\n garbage without objects")
    (bad / "junk.txt").write_bytes(bytes(range(256)) * 40)
    (bad / "empty.md").write_text("")
    huge = bad / "huge.txt"
    with huge.open("wb") as f:
        f.truncate(51 * 1024 * 1024)
    good = bad / "good.md"
    good.write_text("My favourite mountain hut is the Cabane de Moiry.\n")
    files = [
        str(p)
        for p in (
            bad / "notes.xyz",
            bad / "broken.pdf",
            bad / "junk.txt",
            bad / "empty.md",
            huge,
            good,
        )
    ]
    result = node.cli("ingest", *files, check=False)
    assert result.returncode == 1
    errors = [
        line
        for line in result.stderr.splitlines() + result.stdout.splitlines()
        if line.startswith("error: ")
    ]
    assert len(errors) == 5, result.stdout + result.stderr
    for name in ("notes.xyz", "broken.pdf", "junk.txt", "empty.md", "huge.txt"):
        assert sum(name in line for line in errors) == 1, (name, errors)
    assert "1 added" in result.stdout
    hits = node.cli_json("search", "favourite mountain hut", "--k", "1")
    assert hits[0]["source"]["name"] == "good.md"
    assert node.process.poll() is None


def test_chat_streams_grounded_answer_and_keeps_history(node, samples):
    with (
        node.http() as api,
        api.stream(
            "POST", "/api/chat", json={"message": "What is my sourdough starter called?"}
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [
            line[len("event: ") :] for line in response.iter_lines() if line.startswith("event: ")
        ]
    assert events[0] == "sources" and events[-1] == "done"
    assert events.count("token") >= 1 and "grounding" in events  # checked sentences, then why
    first = node.cli_json("chat", "What is my cat called?")
    assert first["answer"].strip()
    assert any(s["source"]["name"] == "letter.docx" for s in first["sources"] if s["layer"] == "l0")
    session = first["session_id"]
    node.cli_json("chat", "And how many legs does it have?", "--session", session)
    with node.http() as api:
        messages = api.get(f"/api/chat/sessions/{session}").json()
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[0]["content"] == "What is my cat called?"


def test_openai_client_works_against_the_node(node, samples):
    client = openai.OpenAI(base_url=node.api_url + "/v1", api_key=node.token)
    assert "secondme" in [m.id for m in client.models.list()]
    reply = client.chat.completions.create(
        model="secondme",
        messages=[{"role": "user", "content": "Who planted the quince tree?"}],
        max_tokens=40,
    )
    assert reply.choices[0].message.content.strip()
    assert reply.usage.completion_tokens > 0
    pieces = [
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(
            model="secondme",
            messages=[{"role": "user", "content": "Say hello."}],
            max_tokens=20,
            stream=True,
        )
    ]
    assert len([p for p in pieces if p]) > 1
    bad = openai.OpenAI(base_url=node.api_url + "/v1", api_key="nope")
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_profile_and_roles(node):
    node.cli("me", "set", "--values", "honesty, curiosity", "--public", "values")
    profile = node.cli_json("me", "show")
    assert profile["fields"]["name"] == "Ada"
    assert profile["fields"]["values"] == "honesty, curiosity"
    assert profile["public"] == ["name", "values"]
    node.cli("role", "add", "pirate", "--prompt", "Talk like a pirate.", "--description", "fun")
    assert [r["name"] for r in node.cli_json("role", "list")] == ["pirate"]
    answer = node.cli_json("chat", "Hello there", "--role", "pirate")
    assert answer["answer"].strip()
    missing = node.cli("chat", "hi", "--role", "ghost", check=False)
    assert missing.returncode != 0 and "no role named 'ghost'" in missing.stderr
    node.cli("role", "rm", "pirate")
    assert node.cli_json("role", "list") == []


def test_chat_yesterday_is_resolved_against_the_time_it_was_sent(node, tmp_path):
    folder = tmp_path / "ana"
    folder.mkdir()
    turns = [
        {"speaker": "Ana", "text": "How are you holding up?", "time": "2026-05-14T17:55:00"},
        {"speaker": "me", "text": "I went to a support group yesterday.",
         "time": "2026-05-14T18:00:00"},
        {"speaker": "Ana", "text": "That took courage.", "time": "2026-05-14T18:02:00"},
    ]  # fmt: skip
    chat = folder / "chat-with-ana.jsonl"
    chat.write_text("\n".join(json.dumps(t) for t in turns))
    note = folder / "undated-note.txt"
    note.write_text("The quince jam needs more lemon than the recipe says.")
    os.utime(note, (1767225600, 1767225600))  # 2026-01-01, the note's only time
    odd = folder / "odd-times.jsonl"
    odd.write_text(json.dumps({"speaker": "Bo", "text": "Hi there.", "time": "whenever"}))
    results = {r["path"]: r for r in node.cli_json("ingest", str(folder))["results"]}
    assert results[str(odd.resolve())]["status"] == "added"  # kept, and the owner is told
    assert "cannot be read (turn 1)" in results[str(odd.resolve())]["message"]
    hits = node.cli_json("search", "support group", "--k", "3")
    hit = next(h for h in hits if h["source"]["name"] == "chat-with-ana.jsonl")
    source = hit["source"]
    assert source["when"] == "2026-05-14" and source["time_source"] == "message"
    assert source["turns"] == [1, 3]
    assert [(d["text"], d["date"]) for d in source["dates"]] == [("yesterday", "2026-05-13")]
    shown = node.cli("search", "support group", "--k", "1").stdout
    assert "turns 1–3" in shown and "(2026-05-14)" in shown
    hits = node.cli_json("search", "quince jam lemon", "--k", "1")
    assert hits[0]["source"]["time_source"] == "file"
    assert hits[0]["source"]["when"] == "2026-01-01"
    with node.http() as api:
        response = api.post(
            "/api/memory/ingest", params={"path": "/x/a.txt", "mtime": "soon"}, content=b"x"
        )
        assert response.status_code == 400 and "'mtime'" in response.json()["error"]["message"]
    assert node.process.poll() is None


def test_malformed_requests_get_clear_json_errors(node):
    with node.http() as api:
        response = api.post("/api/memory/search", content=b"{not json")
        assert response.status_code == 400
        assert "not valid JSON" in response.json()["error"]["message"]
        response = api.post("/api/memory/search", json={"query": "x", "k": "many"})
        assert response.status_code == 400 and "'k'" in response.json()["error"]["message"]
        response = api.post("/v1/chat/completions", json={"messages": []})
        assert response.status_code == 400
        assert api.get("/api/roles/nobody").status_code == 404
    assert node.process.poll() is None


def test_a_second_daemon_on_the_same_data_dir_is_refused(node):
    second = node.cli("start", "--api-port", "0", check=False, timeout=120)
    assert second.returncode != 0
    assert "already running" in second.stderr
    assert json.loads((node.data_dir / "daemon.json").read_text())["pid"] == node.process.pid


def test_chat_without_a_message_reads_turns_until_exit(node, samples):
    result = node.cli(
        "chat", input_text="Who planted the quince tree?\nAnd when?\n/exit\nnever sent\n"
    )
    with node.http() as api:
        sessions = api.get("/api/chat/sessions").json()
    newest = sessions[0]
    assert newest["messages"] == 4  # two turns kept in one session; nothing after /exit
    assert result.stdout.strip()


def test_reindex_moves_vectors_to_qdrant_and_back(node, samples):
    node.cli_json("memory", "status", "--wait", "600")  # L1 done: its points stay put
    moved = node.cli_json("memory", "reindex", "--backend", "qdrant")
    status = node.cli_json("status")["memory"]
    assert moved["backend"] == "qdrant" == status["vector_backend"]
    assert status["l1_points"] > 0  # L1 records move with the chunks
    assert moved["points"] == status["chunks"] + status["l1_points"] == status["vector_points"]
    assert 'vector_backend = "qdrant"' in (node.data_dir / "config.toml").read_text()
    hits = node.cli_json("search", "sourdough starter Gerald", "--k", "1")
    assert hits[0]["source"]["name"] == "blog.html"
    back = node.cli_json("memory", "reindex", "--backend", "edge")
    assert back["points"] == status["vector_points"]
    assert node.cli_json("search", "--layer", "l1", "sourdough")  # L1 searchable after the move
    hits = node.cli_json("search", "sourdough starter Gerald", "--k", "1")
    assert hits[0]["source"]["name"] == "blog.html"


def test_chat_answers_from_dated_memories_or_says_it_does_not_remember(node, tmp_path):
    turns = [
        ("Tom", "Pretty good week. I went to a support group yesterday, it helped a lot."),
        ("Ada", "I'm glad. I finally repotted the lemon tree."),
        ("Tom", "I still work at the Riverside bakery, the mornings are brutal."),
    ]
    chat = tmp_path / "chat-with-tom.jsonl"
    chat.write_text(
        "\n".join(
            json.dumps({"speaker": who, "text": text, "time": f"2026-05-14T18:0{i}:00+01:00"})
            for i, (who, text) in enumerate(turns)
        )
    )
    node.cli("ingest", str(chat))
    # A "when" question: the answer names the date "yesterday" meant, from the memory it cites.
    when = node.cli_json("chat", "When did Tom go to the support group?")
    assert "2026-05-13" in when["answer"], when
    assert not when["grounding"]["abstained"] and when["grounding"]["used"], when
    # It rests on the chat: its turns (L0), or the fact (L1) read from them, named by source.
    used = [when["sources"][n - 1] for n in when["grounding"]["used"]]
    where = [s["source"]["name"] if s["layer"] == "l0" else s.get("from", "") for s in used]
    assert any("chat-with-tom.jsonl" in w for w in where), when
    printed = node.cli("chat", "When did Tom go to the support group?", "--sources")
    assert "2026-05-13" in printed.stdout
    assert "Sources:" in printed.stderr and "chat-with-tom.jsonl" in printed.stderr
    # Nothing in memory says it: no answer is made up, the closest memory is shown instead.
    band = node.cli_json("chat", "What is Tom's favourite band?")
    assert band["answer"].startswith("I don't remember"), band
    assert band["grounding"]["abstained"] and band["grounding"]["used"] == []
    # The closest memory is quoted with its source and date: the owner's own words first.
    assert "“Tom: " in band["answer"] and "2026-05-14" in band["answer"], band
    assert "chat-with-tom.jsonl" in band["answer"], band
    unknown = node.cli("chat", "Who is Kofi Mensah?", "--sources")
    assert unknown.stdout.startswith("I don't remember")
    assert "no memory mentions kofi mensah" in unknown.stderr
