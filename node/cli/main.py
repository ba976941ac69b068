"""``secondme-node``: the command line. A thin client of the owner API, except init/start."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from secondme import node as node_package
from secondme.node.cli import access as access_commands
from secondme.node.cli import chat as chat_commands
from secondme.node.cli import groups as group_commands
from secondme.node.cli import membership as membership_commands
from secondme.node.cli import memory as memory_commands
from secondme.node.cli import network as network_commands
from secondme.node.cli import people as people_commands
from secondme.node.cli import train as train_commands
from secondme.node.cli import web as web_commands
from secondme.node.cli.base import (
    NodeGroup,
    client,
    data_dir_option,
    json_option,
    print_json,
    resolve_data_dir,
)
from secondme.node.core.config import (
    VECTOR_BACKENDS,
    ApiSettings,
    DataDir,
    MemorySettings,
    ModelSettings,
    NodeConfig,
    P2PSettings,
    load_config,
)
from secondme.node.core.keystore import is_sealed, load_identity, read_passphrase
from secondme.node.people.owner import OWNER_FIELDS


@click.group(cls=NodeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(node_package.__version__, prog_name="secondme-node")
def cli() -> None:
    """Your Second Me: a personal AI that learns you from your own files and runs on your
    machine.

    Start with `secondme-node start` (it sets the node up on first run), then `ingest` your
    notes and `chat`. Every command takes --data-dir (or SECONDME_HOME), so several nodes can
    share one machine.
    """


def _owner_options(func):
    for name, help_text in reversed(OWNER_FIELDS.items()):
        func = click.option(f"--{name}", "owner_" + name, help=f"Your profile: {help_text}.")(func)
    return click.option(
        "--public",
        multiple=True,
        type=click.Choice(list(OWNER_FIELDS)),
        help="A profile field other nodes may see (repeatable). All are private by default.",
    )(func)


def _setup_options(func):
    func = click.option(
        "--passphrase-file",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help="Encrypt (or unlock) the identity key with the passphrase on this file's first "
        "line; SECONDME_PASSPHRASE works too.",
    )(func)
    func = click.option(
        "--chat-model",
        type=click.Path(dir_okay=False, path_type=Path),
        help="A local GGUF chat model (default: the shipped SmolLM2-135M-Instruct).",
    )(func)
    func = click.option(
        "--embedder",
        type=click.Path(file_okay=False, path_type=Path),
        help="A local sentence-transformers folder (default: the shipped all-MiniLM-L6-v2).",
    )(func)
    func = click.option(
        "--vector-backend",
        type=click.Choice(VECTOR_BACKENDS),
        help="Where vectors live: 'edge' (in-process, default) or 'qdrant' (a Qdrant server).",
    )(func)
    return click.option("--qdrant-url", help="The Qdrant server for --vector-backend qdrant.")(func)


def _network_options(func):
    func = click.option(
        "--api-port",
        type=click.IntRange(0, 65535),
        help="Port of the owner API on 127.0.0.1 (0 = any free port).",
    )(func)
    return click.option(
        "--listen",
        multiple=True,
        metavar="MULTIADDR",
        help="libp2p listen address, e.g. /ip4/127.0.0.1/tcp/4001 (repeatable).",
    )(func)


def _prompt_owner(fields: dict[str, str | None]) -> dict[str, str]:
    """Ask for missing profile fields, but only when a person is at the terminal."""
    if not sys.stdin.isatty():
        return {k: v for k, v in fields.items() if v}
    click.echo("Tell your Second Me who you are (Enter skips; `me set` changes it later).")
    return {
        name: value
        if value is not None
        else click.prompt(f"  {OWNER_FIELDS[name]}", default="", show_default=False)
        for name, value in fields.items()
    }


def _initialise(data_dir: DataDir, options: dict) -> None:
    from secondme.node.daemon.setup import init_node

    memory = MemorySettings()
    if options.get("vector_backend"):
        memory = MemorySettings(
            vector_backend=options["vector_backend"], qdrant_url=options.get("qdrant_url") or ""
        )
    config = NodeConfig(
        api=ApiSettings(port=options.get("api_port") or 0),
        p2p=P2PSettings(listen=tuple(options.get("listen") or P2PSettings().listen)),
        models=ModelSettings(
            chat_model=str(options.get("chat_model") or ""),
            embedder=str(options.get("embedder") or ""),
        ),
        memory=memory,
    )
    owner = _prompt_owner({name: options.get("owner_" + name) for name in OWNER_FIELDS})
    passphrase = read_passphrase(options.get("passphrase_file"))
    result = init_node(
        data_dir,
        config,
        passphrase=passphrase,
        owner_fields=owner,
        public_fields=tuple(options.get("public") or ()),
    )
    click.echo(f"Initialised node {result.identity.peer_id} in {data_dir.root}", err=True)


@cli.command()
@data_dir_option
@_owner_options
@_setup_options
@_network_options
def init(data_dir: Path | None, **options) -> None:
    """Create a node: identity key, owner token, config and profile."""
    _initialise(resolve_data_dir(data_dir), options)


@cli.command()
@data_dir_option
@_owner_options
@_setup_options
@_network_options
def start(data_dir: Path | None, **options) -> None:
    """Run the node in the foreground (initialising it on first run). Ctrl-C stops it."""
    from secondme.node.daemon.run import configure_logging, run_daemon

    where = resolve_data_dir(data_dir)
    if not where.is_initialised():
        _initialise(where, options)
    config = load_config(where.config)
    if options.get("api_port") is not None:
        config = config.with_changes("api", port=options["api_port"])
    if options.get("listen"):
        config = config.with_changes("p2p", listen=tuple(options["listen"]))
    passphrase = read_passphrase(options.get("passphrase_file"))
    if is_sealed(where.identity_key) and passphrase is None and sys.stdin.isatty():
        passphrase = click.prompt("Passphrase for the identity key", hide_input=True)
    configure_logging(where)
    asyncio.run(run_daemon(where, config, passphrase))


@cli.command()
@data_dir_option
def stop(data_dir: Path | None) -> None:
    """Stop the running daemon of this data dir (waits until it has shut down)."""
    import time

    from secondme.node.core.datadir_lock import DataDirLock

    where = resolve_data_dir(data_dir)
    with client(data_dir) as api:
        pid = api.get("/api/status")["pid"]
        api.post("/api/stop")
    lock = DataDirLock(where)
    deadline = time.monotonic() + 60
    while lock.is_held():
        if time.monotonic() > deadline:
            raise click.ClickException(f"the daemon (pid {pid}) did not stop within 60 s")
        time.sleep(0.05)
    click.echo(f"stopped the daemon of {where.root}")


@cli.command()
@data_dir_option
@json_option
def status(data_dir: Path | None, as_json: bool) -> None:
    """Show what the running node is doing."""
    with client(data_dir) as api:
        info = api.get("/api/status")
    if as_json:
        print_json(info)
        return
    memory = info["memory"]
    click.echo(f"peer      {info['peer_id']}")
    click.echo(f"data dir  {info['data_dir']}  (pid {info['pid']}, up {info['uptime_s']} s)")
    click.echo(f"model     {info['chat_model']}  (queue {info['generation_queue']})")
    l2 = info["l2"]
    training = l2["training"]
    click.echo(
        f"L2        adapter {l2['adapter'] or 'none (base model)'}"
        + (f"; training job {training['job']} at {training['stage']}" if training else "")
    )
    click.echo(f"p2p       {', '.join(info['p2p']['listen'])}  ({info['p2p']['peers']} peers)")
    click.echo(
        f"memory    {memory['documents']} documents, {memory['chunks']} chunks, "
        f"{memory['vector_points']} vectors in {memory['vector_backend']}"
    )
    l1 = memory["l1"]
    click.echo(
        f"L1        {l1['insights']} insights, {l1['topics']} topics, {l1['entities']} entities "
        "(`memory status` for the work in progress)"
    )
    access = info["access"]
    click.echo(
        f"access    {access['grants_given_active']} grants given, "
        f"{access['grants_received_active']} received (active); peers without a grant: "
        f"{access['default_policy']}; {access['audit_entries']} audited requests"
    )


@cli.command("id")
@data_dir_option
@json_option
@click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Unlock a passphrase-protected key when no daemon is running.",
)
def show_id(data_dir: Path | None, as_json: bool, passphrase_file: Path | None) -> None:
    """Print this node's peer ID and, while the daemon runs, the multiaddrs it listens on."""
    where = resolve_data_dir(data_dir)
    from secondme.node.core.errors import NotRunning

    try:
        with client(data_dir) as api:
            info = api.get("/api/id")
    except NotRunning:
        identity = load_identity(where.identity_key, read_passphrase(passphrase_file))
        info = {
            "peer_id": str(identity.peer_id),
            "public_key": identity.public_key.hex(),
            "listen": list(load_config(where.config).p2p.listen),
            "api": None,
        }
    if as_json:
        print_json(info)
        return
    click.echo(info["peer_id"])
    if info["api"]:  # a running daemon: its real libp2p addresses
        for address in info["listen"]:
            click.echo(address)


for command in (
    chat_commands.chat,
    memory_commands.ingest,
    memory_commands.search,
    memory_commands.memory,
    network_commands.peers,
    network_commands.ping,
    network_commands.hello,
    people_commands.me,
    people_commands.role,
    *access_commands.COMMANDS,
    *membership_commands.COMMANDS,
    group_commands.group,
    *train_commands.COMMANDS,
    *web_commands.COMMANDS,
):
    cli.add_command(command)


def main() -> None:
    cli()
