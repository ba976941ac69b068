"""The owner's web app in a real headless Chromium, its guards over HTTP, and the MCP server.

Alice's daemon serves the page; Bob's is the peer she grants to and discusses with. The browser
logs in through the one-time link that ``secondme-node open`` prints, then works every page the
way the owner would. Screenshots of each page land in ``SECONDME_SCREENSHOTS`` when it is set
(``make screenshots`` writes the README's).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.e2e import harness
from tests.l1_corpus import make_documents

SCREENSHOTS = os.environ.get("SECONDME_SCREENSHOTS")
"""Where to keep a screenshot of each page; set, the nodes also run L1 and train, so that
every page has something to show (minutes more)."""
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400 if SCREENSHOTS else 600)]

CHROMIUM = os.environ.get("SECONDME_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TRAVEL_NOTE = (
    "# Lisbon trip\n"
    "In May I walked up to the Castelo de São Jorge at sunrise; the tram 28 was full, so I took "
    "the steep stairs of Alfama instead. The best pastel de nata was at a small bakery in Belém.\n"
)
PIANO_NOTE = (
    "# Piano practice\n"
    "I practise Chopin's Nocturne in E-flat major every evening for thirty minutes on my "
    "upright Yamaha piano; the left hand arpeggios are still the hard part.\n"
)


def _configure(data_dir: Path, name: str) -> None:
    """L1 off (the page shows what L1 has, not how it is made) and short answers."""
    harness.run_cli(data_dir, "init", "--name", name, "--public", "name")
    harness.edit_config(
        data_dir,
        memory={"l1_enabled": bool(SCREENSHOTS) and name == "Alice"},
        models={"max_answer_tokens": 48, "temperature": 0.0},
        groups={"turn_timeout_s": 60.0, "max_turn_tokens": 40, "temperature": 0.0},
    )


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    root = tmp_path_factory.mktemp("web")
    started: dict[str, harness.NodeProcess] = {}
    discovery = harness.start_discovery(root / "discovery")
    try:
        for key in ("alice", "bob"):
            _configure(root / key, key.title())
            started[key] = harness.start_node(root / key, wait=False)
        for node in started.values():  # started together, ready in turn
            harness.wait_until_ready(node)
        alice, bob = started["alice"], started["bob"]
        for node, other, name in ((alice, bob, "bob"), (bob, alice, "alice")):
            addr = json.loads((other.data_dir / "daemon.json").read_text())["p2p"][0]
            node.cli("peers", "add", addr, "--name", name)
        notes = root / "notes"
        notes.mkdir()
        (notes / "piano.md").write_text(PIANO_NOTE)
        alice.cli("ingest", str(notes / "piano.md"))
        if SCREENSHOTS:  # a memory worth drawing: topics, a profile, an entity graph
            for doc in make_documents(per_topic=1):
                (notes / doc.name).write_text(doc.text)
            alice.cli("ingest", str(notes))
            alice.cli("memory", "status", "--wait", "1200", timeout=1300)
        bob_note = notes / "bob-hike.md"
        bob_note.write_text(
            "# Hiking\nFor a Saturday walk I suggest the Millbrook canal towpath.\n"
        )
        bob.cli("ingest", str(bob_note))
        bob.cli("grant", "alice", "--ability", "group/join", "--expires", "1h")
        started["alice"].extra["discovery"] = discovery.addr
        yield started
    finally:
        for node in started.values():
            if node.process.poll() is None:
                node.terminate()
        discovery.terminate()


@contextmanager
def browser_session(node: harness.NodeProcess) -> Iterator[tuple[httpx.Client, str]]:
    """An HTTP client holding a session cookie from a login link, and its CSRF token."""
    client, csrf = node.browser_login()
    try:
        yield client, csrf
    finally:
        client.close()


# -- guards ------------------------------------------------------------------------------------


def test_the_login_link_is_good_once_and_sets_a_strict_http_only_cookie(nodes):
    alice = nodes["alice"]
    url = alice.login_url()
    assert alice.token not in url
    with httpx.Client(base_url=alice.api_url) as client:
        landing = client.get("/")
        assert landing.status_code == 200 and "secondme-node open" in landing.text
        assert "csrf-token" not in landing.text
        used = client.get(url)
        assert used.status_code == 303
        cookie = used.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert alice.token not in cookie
        app = client.get("/")
        assert 'name="csrf-token"' in app.text
        again = httpx.get(alice.api_url + url.removeprefix(alice.api_url))
        assert again.status_code == 403 and "used already or has expired" in again.text
        assert client.get("/static/app.css").status_code == 200
        for escape in (
            "/static/%2e%2e/pages.py",
            "/static/..%2fpages.py",
            "/static/js/%2e%2e/%2e%2e/pages.py",
        ):
            assert client.get(escape).status_code == 404, escape


def test_a_browser_session_needs_its_csrf_token_and_the_page_a_strict_policy(nodes):
    alice = nodes["alice"]
    with browser_session(alice) as (client, csrf):
        refused = client.get("/api/status")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "cross_site"
        assert client.get("/api/status", headers={"X-CSRF-Token": "wrong"}).status_code == 403
        status = client.get("/api/status", headers={"X-CSRF-Token": csrf})
        assert status.status_code == 200 and status.json()["peer_id"] == alice.peer_id
        page = client.get("/")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["cache-control"] == "no-store"
        logout = client.post("/logout", headers={"X-CSRF-Token": csrf})
        assert logout.json() == {"logged_out": True}
        assert client.get("/api/status", headers={"X-CSRF-Token": csrf}).status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Host": "evil.example"},  # DNS rebinding: a foreign name that resolves to 127.0.0.1
        {"Host": "localhost.evil.example:8080", "Origin": "http://localhost.evil.example:8080"},
    ],
)
def test_foreign_origins_and_host_names_are_refused_even_with_the_token(nodes, headers):
    alice = nodes["alice"]
    with alice.http() as api:
        for method, path in (("GET", "/"), ("GET", "/api/status"), ("POST", "/api/stop")):
            response = api.request(method, path, headers=headers)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["error"]["code"] == "cross_site"
        assert api.get("/api/status").status_code == 200  # still running: /api/stop was refused


def test_another_local_origin_cannot_use_a_session(nodes):
    """Cookies are shared across the ports of 127.0.0.1; Origin tells the pages apart."""
    alice, bob = nodes["alice"], nodes["bob"]
    with browser_session(alice) as (client, csrf):
        foreign = client.post(
            "/api/memory/search",
            json={"query": "piano"},
            headers={"X-CSRF-Token": csrf, "Origin": bob.api_url},
        )
        assert foreign.status_code == 403
        same = client.post(
            "/api/memory/search",
            json={"query": "piano"},
            headers={"X-CSRF-Token": csrf, "Origin": alice.api_url},
        )
        assert same.status_code == 200 and same.json()


# -- MCP ---------------------------------------------------------------------------------------


def test_an_mcp_client_lists_the_tools_and_searches_memory(nodes, tmp_path):
    """Run before the browser tests: Playwright's sync API owns this thread's event loop."""
    asyncio.run(mcp_session(nodes["alice"].data_dir))
    stopped = tmp_path / "stopped"
    harness.run_cli(stopped, "init", "--name", "Nobody")
    asyncio.run(mcp_without_a_daemon(stopped))


async def mcp_without_a_daemon(data_dir: Path) -> None:
    from mcp.client.session import ClientSession

    async with harness.mcp_stdio(data_dir) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        result = await session.call_tool("search_memory", {"query": "anything"})
        assert result.is_error and "secondme-node start" in result.content[0].text


async def mcp_session(data_dir: Path) -> None:
    from mcp.client.session import ClientSession

    async with harness.mcp_stdio(data_dir) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert {"search_memory", "ask_self", "list_topics", "ask_peer"} <= set(tools)
        assert "query" in tools["search_memory"].input_schema["properties"]
        found = await session.call_tool("search_memory", {"query": "Chopin nocturne", "k": 3})
        assert not found.is_error
        text = found.content[0].text
        assert "piano.md" in text and "Nocturne" in text
        refused = await session.call_tool("ask_peer", {"peer": "nobody", "question": "hi"})
        assert refused.is_error and "nobody" in refused.content[0].text


ROUTE_ESCAPES = [
    "../stop?",  # POST /api/peers/../stop?/ask is POST /api/stop: the daemon would stop
    "..",
    "../../api/stop?",
    "a/../../stop?",
    "%2e%2e/stop?",
    "%2E%2E%2Fstop%3F",
    "..%2fstop%3f",
    "x?y",
    "x#y",
    "bob/../../stop?",
    "",
    "bob\n",
]


def test_mcp_ask_peer_cannot_reach_another_route(nodes):
    """A prompt-injected MCP client passes paths for ``peer``: each is refused as no peer name,
    the daemon keeps running, and a real peer name still reaches the peer."""
    alice, bob = nodes["alice"], nodes["bob"]
    answers = asyncio.run(mcp_ask_peer(alice.data_dir, [*ROUTE_ESCAPES, "bob", bob.peer_id]))
    with alice.http() as api:
        assert api.get("/api/status").status_code == 200, alice.stderr_text()[-2000:]
    assert alice.process.poll() is None
    for peer in ROUTE_ESCAPES:
        is_error, text = answers[peer]
        assert is_error and "is not a peer ID or a peer name" in text, (peer, text)
    for peer in ("bob", bob.peer_id):  # Bob gave Alice no chat/ask grant: his node refuses
        is_error, text = answers[peer]
        assert is_error and "not a peer ID" not in text and "grant" in text, (peer, text)


def test_peer_paths_are_refused_by_the_cli_and_the_api(nodes):
    alice = nodes["alice"]
    refused = alice.cli("ask", "../stop?", "hi", check=False)
    assert refused.returncode == 1
    assert "is not a peer ID or a peer name" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    with alice.http() as api:  # a client that quotes but does not check: the API checks too
        for peer in ("x%3Fy", "%2e%2e%2Fstop", "a%5Cb", "%25", "%20bob"):
            answer = api.post(f"/api/peers/{peer}/ask", json={"question": "hi"})
            assert answer.status_code == 400, (peer, answer.text)
            assert "is not a peer ID or a peer name" in answer.json()["error"]["message"]
        assert api.get("/api/status").status_code == 200


async def mcp_ask_peer(data_dir: Path, peers: list[str]) -> dict[str, tuple[bool, str]]:
    """``ask_peer`` for each of ``peers`` in one MCP session: whether it failed, and its text."""
    from mcp.client.session import ClientSession

    answers = {}
    async with harness.mcp_stdio(data_dir) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        for peer in peers:
            result = await session.call_tool("ask_peer", {"peer": peer, "question": "hi"})
            answers[peer] = (result.is_error, result.content[0].text)
    return answers


# -- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("SECONDME_REQUIRE_BROWSER"):
            pytest.fail(f"no Chromium at {CHROMIUM}: `make browser` installs Debian's")
        pytest.skip("no Chromium: `make browser` installs Debian's (or set SECONDME_CHROMIUM)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=90_000)  # the shipped model answers in seconds, slower under load
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(browser, nodes, tmp_path_factory):
    """Alice's web app, logged in through the link `open` prints; every page error is kept."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(60_000)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}")
            if message.type == "error"
            else None
        ),
    )
    tab.on("dialog", lambda dialog: dialog.accept())
    tab.problems = problems  # type: ignore[attr-defined]
    tab.shots = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path_factory.mktemp("shots")  # type: ignore[attr-defined]
    tab.shots.mkdir(parents=True, exist_ok=True)  # type: ignore[attr-defined]
    yield tab
    context.close()


def shoot(page, name: str) -> None:
    page.screenshot(path=str(page.shots / f"{name}.png"), full_page=True)


def visit(page, name: str) -> None:
    """Go to a page of the app by its link in the navigation, as the owner would."""
    from playwright.sync_api import expect

    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()


def no_problems(page) -> None:
    """No script error and no Content-Security-Policy violation on the page so far."""
    assert page.problems == [], page.problems


def test_browser_logs_in_with_the_one_time_link(page, nodes):
    from playwright.sync_api import expect

    alice = nodes["alice"]
    url = alice.login_url()
    page.goto(url)
    expect(page).to_have_url(alice.api_url + "/#/chat")
    expect(page.get_by_role("heading", name="Chat", level=1)).to_be_visible()
    expect(page.get_by_text("Alice").first).to_be_visible()
    cookies = page.context.cookies(alice.api_url)
    assert [c["httpOnly"] for c in cookies] == [True]
    assert alice.token not in page.content()
    no_problems(page)


def test_browser_uploads_a_dropped_file_and_lists_it(page, nodes):
    from playwright.sync_api import expect

    visit(page, "Memory")
    dropped = page.evaluate_handle(
        """(text) => {
            const data = new DataTransfer();
            data.items.add(new File([text], 'lisbon.md', { type: 'text/markdown' }));
            return data;
        }""",
        TRAVEL_NOTE,
    )
    page.dispatch_event(".dropzone", "drop", {"dataTransfer": dropped})
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_label("Upload of lisbon.md")).to_have_attribute("value", "1")
    documents = page.get_by_role("table", name="Documents in memory")
    expect(documents.get_by_role("row").filter(has_text="Lisbon trip")).to_be_visible()
    expect(documents.get_by_role("row").filter(has_text="Piano practice")).to_be_visible()
    listed = {d["name"] for d in nodes["alice"].cli_json("memory", "documents")}
    assert "lisbon.md" in listed
    page.get_by_label("Search memory").fill("tram in Alfama")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".hits li").first).to_contain_text("Lisbon")
    shoot(page, "memory")
    no_problems(page)


def test_browser_shows_what_a_dropped_chat_export_held(page, nodes):
    """A WhatsApp export dropped on the Memory page: the line says what it found, with the
    owner's name in chats sent along, and the document knows who the owner is in it."""
    from playwright.sync_api import expect

    from tests.imports_fixtures import chats

    chat, expected, name = chats.whatsapp_chat(5, locale="android", count=12)
    me = sorted(expected.speakers)[0]
    visit(page, "Memory")
    dropped = page.evaluate_handle(
        """([bytes, name]) => {
            const data = new DataTransfer();
            data.items.add(new File([new Uint8Array(bytes)], name, { type: 'text/plain' }));
            return data;
        }""",
        [list(chat), f"WhatsApp Chat with {name}.txt"],
    )
    page.dispatch_event(".dropzone", "drop", {"dataTransfer": dropped})
    page.get_by_label("Your name in chats").fill(me)
    page.get_by_role("button", name="Upload").click()
    people = len(expected.speakers)
    line = f"WhatsApp chat: {people} people, {len(expected.messages)} messages"
    expect(page.locator(".uploads li").filter(has_text=name)).to_contain_text(line)
    doc = next(
        d
        for d in nodes["alice"].cli_json("memory", "documents")
        if d["name"] == f"WhatsApp Chat with {name}.txt"
    )
    assert doc["me"] == me and doc["source"].startswith("whatsapp:")
    no_problems(page)


def test_browser_chat_streams_an_answer_with_its_sources(page):
    from playwright.sync_api import expect

    visit(page, "Chat")
    log = page.get_by_role("log", name="Conversation")
    # Count the separate writes into the answer: a streamed answer arrives in many.
    page.evaluate(
        """() => {
            window.answerWrites = 0;
            const log = document.querySelector('[role=log]');
            new MutationObserver((records) => {
                for (const r of records) {
                    if (r.target.closest && r.target.closest('.msg.assistant .text')) {
                        window.answerWrites += 1;
                    }
                }
            }).observe(log, { childList: true, subtree: true, characterData: true });
        }"""
    )
    page.get_by_label("Message").fill("Where did I walk at sunrise in Lisbon?")
    page.get_by_role("button", name="Send").click()
    answer = log.locator(".msg.assistant").last
    expect(answer).not_to_have_attribute("aria-busy", "true")
    expect(answer.locator(".sources li").first).to_be_visible()
    assert "Lisbon trip" in answer.locator(".sources").inner_text()
    assert answer.locator(".text").inner_text().strip()
    assert page.evaluate("window.answerWrites") >= 1  # a sentence at a time, once checked
    # Each memory shows its date; once the answer is checked, the ones it used are marked, or
    # the node says that no memory supports an answer.
    assert re.search(r"\d{4}-\d{2}", answer.locator(".sources li").first.inner_text())
    heading = answer.locator(".sources h3")
    expect(heading).not_to_have_text("Memories it looked at")
    if heading.inner_text() == "Not in memory":
        assert answer.locator(".text").inner_text().startswith("I don't remember")
    else:
        assert heading.inner_text().startswith("Sources (the answer used [")
        expect(answer.locator(".sources li.used").first).to_be_visible()
    expect(page.locator(".sessions button").first).to_be_visible()
    answer.evaluate("(element) => element.scrollIntoView({ block: 'start' })")
    shoot(page, "chat")
    no_problems(page)


def test_browser_creates_and_revokes_a_grant(page, nodes):
    from playwright.sync_api import expect

    alice, bob = nodes["alice"], nodes["bob"]
    visit(page, "Grants")
    page.get_by_label("Peer").select_option(bob.peer_id)
    page.get_by_label("Tags").fill("travel")
    page.get_by_role("button", name="Create grant").click()
    given = page.get_by_role("table", name="Grants you gave")
    row = given.get_by_role("row").filter(has_text="chat/ask")
    expect(row.get_by_role("button", name="Revoke")).to_be_visible()
    [grant] = [g for g in alice.cli_json("grants")["given"] if g["peer_id"] == bob.peer_id]
    assert grant["state"] == "active" and grant["abilities"] == ["chat/ask"]
    shoot(page, "grants")
    row.get_by_role("button", name="Revoke").click()
    expect(row).to_contain_text("revoked")
    [grant] = [g for g in alice.cli_json("grants")["given"] if g["peer_id"] == bob.peer_id]
    assert grant["state"] == "revoked"
    no_problems(page)


def test_browser_runs_and_watches_a_group_discussion(page, nodes):
    from playwright.sync_api import expect

    bob = nodes["bob"]
    visit(page, "Groups")
    page.get_by_label("Group name").fill("weekend")
    page.get_by_label("Group topic").fill("a walk on Saturday")
    page.get_by_role("checkbox", name="bob").check()
    page.get_by_role("button", name="Create group").click()
    expect(page.get_by_role("button", name="Start discussion")).to_be_visible()
    transcript = page.get_by_role("log", name="Discussion transcript")
    page.evaluate(
        """() => {
            window.arrivals = 0;
            new MutationObserver((records) => {
                window.arrivals += records.filter((r) => r.addedNodes.length).length;
            }).observe(document.querySelector('.transcript-list'), { childList: true });
        }"""
    )
    page.get_by_label("Question").fill("Where should we walk on Saturday?")
    page.get_by_label("Rounds").fill("1")
    page.get_by_role("button", name="Start discussion").click()
    expect(transcript.locator("li").filter(has_text="Bob").first).to_be_visible()
    expect(page.get_by_role("heading", name="Summary")).to_be_visible(timeout=240_000)
    assert page.evaluate("window.arrivals") >= 3  # question, turns, end: one at a time, live
    [group] = bob.cli_json("group", "list")
    assert group["status"] == "active" and group["name"] == "weekend"
    shoot(page, "groups")
    no_problems(page)


def test_browser_network_page_makes_an_invite_with_a_qr_code(page, nodes):
    from playwright.sync_api import expect

    alice = nodes["alice"]
    visit(page, "Network")
    page.get_by_label("Network name").fill("friends")
    page.get_by_label("Discovery servers").fill(alice.extra["discovery"])
    page.get_by_role("button", name="Create network").click()
    expect(page.get_by_role("table", name="Networks")).to_contain_text("friends")
    page.get_by_role("button", name="Create invite").click()
    token = page.get_by_label("Token to share")
    expect(token).not_to_have_value("")
    qr = page.get_by_role("img", name="QR code of the invite token to friends")
    expect(qr).to_be_visible()
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=qr.element_handle()
    )  # the SVG the node drew has loaded
    invites = alice.cli_json("invite", "list")
    assert len(invites) == 1
    shoot(page, "network")
    no_problems(page)


def test_browser_training_page_shows_the_models(page, nodes):
    from playwright.sync_api import expect

    if SCREENSHOTS:  # a finished job: stages, the loss curve, an adapter
        nodes["alice"].cli("train", "--steps", "8", "--samples", "8", timeout=1800)
    visit(page, "Training")
    expect(page.get_by_role("button", name="Start training")).to_be_visible()
    expect(page.get_by_text("SmolLM2").first).to_be_visible()
    shoot(page, "training")
    no_problems(page)


def test_browser_a_page_of_another_origin_cannot_act_for_the_owner(page, nodes):
    """Bob's page (another port of 127.0.0.1: the same site, so the cookie goes along) posts a
    file into Alice's memory; her node refuses it for its Origin."""
    alice, bob = nodes["alice"], nodes["bob"]
    before = {d["name"] for d in alice.cli_json("memory", "documents")}
    other = page.context.new_page()
    with other.expect_response(lambda r: r.url.endswith("/")):
        other.goto(bob.api_url + "/")
    other.evaluate(
        """(target) => fetch(target + '/api/memory/ingest?path=planted.md', {
            method: 'POST', mode: 'no-cors', credentials: 'include', body: 'planted by a page',
        }).catch(() => null)""",
        alice.api_url,
    )
    with httpx.Client(base_url=alice.api_url) as client:
        refused = client.post(
            "/api/memory/ingest?path=planted.md",
            content=b"planted",
            headers={
                "Origin": bob.api_url,
                "Cookie": "; ".join(
                    f"{c['name']}={c['value']}" for c in page.context.cookies(alice.api_url)
                ),
            },
        )
    assert refused.status_code == 403
    other.close()
    after = {d["name"] for d in alice.cli_json("memory", "documents")}
    assert after == before and "planted.md" not in after
