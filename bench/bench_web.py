"""The web app and the MCP server: what they cost over the owner API they both stand on.

A real daemon with a few notes. Medians over the runs, kinds alternating within each run:

1. Daemon start: ``secondme-node start`` until ``daemon.json`` is written (the node answers),
   beside a bare ``python -c pass``, and a process that loads the shipped embedder as the node
   does (:mod:`secondme.node.models.bert`) beside one that loads it through
   sentence-transformers, as the node did before.
2. One owner API call (``POST /api/memory/search``), with the token (the CLI's path) and with a
   browser session cookie and its CSRF token (the page's path): the guard's cost.
3. The same search through the MCP server (``search_memory`` over stdio, a real client session
   from the SDK) beside the API call it makes.
4. The page: bytes of HTML, CSS and JS the browser loads, and the time a headless Chromium takes
   from navigation to the Chat page's heading, beside the same browser loading a blank
   same-origin static page (``/static/login.html``, no script; skipped without Chromium).

Run: ``python bench/bench_web.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import report
from secondme.node.models import locate
from secondme.node.web.pages import STATIC_DIR
from tests.e2e import harness

QUERY = "Where did I walk at sunrise in Lisbon?"
NOTES = {
    "lisbon.md": "# Lisbon\nIn May I walked up to the castle at sunrise; the tram 28 was full.\n",
    "piano.md": "# Piano\nI practise a Chopin nocturne every evening on my upright piano.\n",
    "work.md": "# Work\nOur team ships the billing service on Tuesdays after the code freeze.\n",
}


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.1f} ms"


def ratio(a: list[float], b: list[float]) -> str:
    return f"{statistics.median(a) / statistics.median(b):.2f}x"


def measure_start(root: Path, runs: int) -> dict[str, list[float]]:
    data_dir = root / "starter"
    harness.run_cli(data_dir, "init", "--name", "Starter")
    times: dict[str, list[float]] = {"node": [], "python": [], "ours": [], "library": []}
    folder = locate.embedder_path("")
    loads = {
        "python": "pass",
        "ours": "from pathlib import Path; from secondme.node.models.embedder import Embedder; "
        f"Embedder(Path({str(folder)!r}))",
        "library": "from sentence_transformers import SentenceTransformer; "
        f"SentenceTransformer({str(folder)!r}, device='cpu', local_files_only=True)",
    }
    for _ in range(runs):
        started = time.perf_counter()
        node = harness.start_node(data_dir)
        times["node"].append(time.perf_counter() - started)
        node.terminate()
        for kind, code in loads.items():
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
            times[kind].append(time.perf_counter() - started)
    return times


async def measure_mcp(node: harness.NodeProcess, runs: int) -> dict[str, list[float]]:
    from mcp.client.session import ClientSession

    times: dict[str, list[float]] = {"mcp": [], "api": []}
    body = {"query": QUERY, "k": 5, "layer": "all"}
    async with (
        harness.mcp_stdio(node.data_dir) as (read, write),
        ClientSession(read, write) as session,
        httpx.AsyncClient(base_url=node.api_url, timeout=60) as api,
    ):
        await session.initialize()
        api.headers["Authorization"] = f"Bearer {node.token}"
        await session.call_tool("search_memory", {"query": QUERY})  # warm both paths
        await api.post("/api/memory/search", json=body)
        for _ in range(runs):
            started = time.perf_counter()
            result = await session.call_tool("search_memory", {"query": QUERY})
            times["mcp"].append(time.perf_counter() - started)
            assert not result.is_error, result
            started = time.perf_counter()
            (await api.post("/api/memory/search", json=body)).raise_for_status()
            times["api"].append(time.perf_counter() - started)
    return times


def measure_page(node: harness.NodeProcess, runs: int) -> dict[str, list[float]] | None:
    chromium = os.environ.get("SECONDME_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        return None
    from playwright.sync_api import sync_playwright

    times: dict[str, list[float]] = {"page": [], "blank": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context()
        page = context.new_page()
        page.goto(node.login_url())
        page.get_by_role("heading", name="Chat", level=1).wait_for()
        for _ in range(runs):
            started = time.perf_counter()
            page.goto(node.api_url + "/#/chat")
            page.reload()
            page.get_by_role("heading", name="Chat", level=1).wait_for()
            page.locator(".sessions li").first.wait_for()  # the first API answers are in
            times["page"].append(time.perf_counter() - started)
            started = time.perf_counter()
            page.goto(node.api_url + "/static/login.html")
            times["blank"].append(time.perf_counter() - started)
        browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        starts = measure_start(root, max(3, args.runs // 5))
        report(
            "daemon start (start until it answers)",
            [
                ("secondme-node start", ms(starts["node"])),
                ("bare python -c pass", ms(starts["python"])),
                ("a process loading the embedder (ours)", ms(starts["ours"])),
                ("the same through sentence-transformers", ms(starts["library"])),
            ],
        )

        data_dir = root / "alice"
        harness.run_cli(data_dir, "init", "--name", "Alice")
        harness.edit_config(data_dir, memory={"l1_enabled": False})
        node = harness.start_node(data_dir)
        try:
            notes = root / "notes"
            notes.mkdir()
            for name, text in NOTES.items():
                (notes / name).write_text(text)
            node.cli("ingest", str(notes))

            body = {"query": QUERY, "k": 5, "layer": "all"}
            token, (cookie, csrf) = node.http(), node.browser_login()
            cookie.headers["X-CSRF-Token"] = csrf
            times: dict[str, list[float]] = {"token": [], "cookie": []}
            for client in (token, cookie):
                client.post("/api/memory/search", json=body).raise_for_status()
            for _ in range(args.runs):
                for kind, client in (("token", token), ("cookie", cookie)):
                    started = time.perf_counter()
                    client.post("/api/memory/search", json=body).raise_for_status()
                    times[kind].append(time.perf_counter() - started)
            report(
                "owner API search, by how the owner is known",
                [
                    ("bearer token (CLI)", ms(times["token"])),
                    ("session cookie + CSRF (page)", ms(times["cookie"])),
                    ("cookie / token", ratio(times["cookie"], times["token"])),
                ],
            )

            mcp = asyncio.run(measure_mcp(node, args.runs))
            report(
                "search_memory through MCP (stdio) beside the API call it makes",
                [
                    ("MCP tool call", ms(mcp["mcp"])),
                    ("owner API call", ms(mcp["api"])),
                    ("MCP / API", ratio(mcp["mcp"], mcp["api"])),
                ],
            )

            static = [p for p in STATIC_DIR.rglob("*") if p.is_file()]
            sizes = {p.suffix: 0 for p in static}
            for path in static:
                sizes[path.suffix] += path.stat().st_size
            rows = [(f"{suffix} files", f"{size / 1024:.1f} KiB") for suffix, size in sizes.items()]
            rows.append(("in all (uncompressed)", f"{sum(sizes.values()) / 1024:.1f} KiB"))
            page = measure_page(node, max(5, args.runs // 2))
            if page:
                rows += [
                    ("load to the Chat page, answered", ms(page["page"])),
                    ("a static page of the app (no script)", ms(page["blank"])),
                ]
            else:
                rows.append(("page load", "skipped: no Chromium"))
            report("the web app", rows)
            print(json.dumps({"node_start_s": statistics.median(starts["node"])}))
        finally:
            node.terminate()


if __name__ == "__main__":
    main()
