"""``secondme-discovery``: run a discovery server.

It prints its multiaddrs (what ``secondme-node network create --discovery`` takes) and serves
until SIGTERM or Ctrl-C, then closes the host and the store cleanly.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

import click

from secondme.discovery.keyfile import KeyFileError, load_or_create
from secondme.discovery.server import DiscoveryServer
from secondme.discovery.service import HOUR_MS, DiscoveryLimits
from secondme.discovery.store import StoreError, open_store
from secondme.protocol.errors import TransportError

log = logging.getLogger("secondme.discovery")

DEFAULT_LISTEN = "/ip4/0.0.0.0/tcp/4001"


def _default_key(db: str) -> Path:
    if db.startswith(("postgresql://", "postgres://")):
        return Path("discovery.key")
    return Path(db).with_suffix(".key")


def _configure_logging(level: str, log_file: Path | None) -> None:
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file))
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("libp2p").setLevel(logging.CRITICAL)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--listen",
    multiple=True,
    default=(DEFAULT_LISTEN,),
    show_default=True,
    help="A multiaddr to listen on (repeatable).",
)
@click.option(
    "--db",
    default="discovery.db",
    show_default=True,
    help="A SQLite file, or a postgresql://user@host/db URL (several servers, one database).",
)
@click.option(
    "--key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The server's identity key (created 0600 if missing). Default: next to --db.",
)
@click.option("--min-ttl", default=1.0, show_default=True, help="Shortest record TTL (hours).")
@click.option("--max-ttl", default=72.0, show_default=True, help="Longest record TTL (hours).")
@click.option(
    "--rate", default=20.0, show_default=True, help="Requests per second per peer (burst 3x)."
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path), help="Also log here.")
def main(
    listen: tuple[str, ...],
    db: str,
    key: Path | None,
    min_ttl: float,
    max_ttl: float,
    rate: float,
    log_level: str,
    log_file: Path | None,
) -> None:
    """Run a Second Me discovery server: it knows who is in which network and where to reach
    them, and nothing else. Nodes join its networks with invite tokens."""
    _configure_logging(log_level, log_file)
    if not 0 < min_ttl <= max_ttl:
        raise click.BadParameter("need 0 < --min-ttl <= --max-ttl", param_hint="--min-ttl")
    limits = DiscoveryLimits(
        min_ttl_ms=int(min_ttl * HOUR_MS),
        max_ttl_ms=int(max_ttl * HOUR_MS),
        requests_per_s=rate,
        burst=max(1, int(rate * 3)),
    )
    try:
        identity, created = load_or_create(key or _default_key(db))
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    if created:
        log.info("created a new server key in %s", key or _default_key(db))
    try:
        asyncio.run(_serve(identity, list(listen), db, limits))
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    except TransportError as exc:
        raise click.ClickException(f"cannot listen on {', '.join(listen)}: {exc.message}") from None


async def _serve(identity, listen: list[str], db: str, limits: DiscoveryLimits) -> None:
    store = await asyncio.to_thread(open_store, db)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = DiscoveryServer(identity, listen, store, limits=limits)
    try:
        addrs = await server.start()
        log.info("store: %s", store.description)
        log.info("peer id %s", server.peer_id)
        for addr in dict.fromkeys(addrs):
            log.info("listening on %s", addr)
            print(addr, flush=True)
        await stop.wait()
        log.info("stopping")
    finally:
        await server.close()
        await asyncio.to_thread(store.close)
        log.info("stopped")


if __name__ == "__main__":  # pragma: no cover
    main()
