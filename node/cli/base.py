"""What every CLI command shares: the data dir option, the client, errors, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from secondme.node.client import NodeClient
from secondme.node.config import HOME_ENV, DataDir, default_data_dir
from secondme.node.errors import NodeError


class NodeGroup(click.Group):
    """A click group that prints a :class:`NodeError` as one line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NodeError as exc:
            raise click.ClickException(exc.message) from None


def data_dir_option(func: Callable) -> Callable:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar=HOME_ENV,
        default=None,
        help=f"The node's data dir (default: ${HOME_ENV}, else the user data dir).",
    )(func)


def json_option(func: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(func)


def resolve_data_dir(path: Path | None) -> DataDir:
    return DataDir((path or default_data_dir()).expanduser().resolve())


def client(path: Path | None, **kwargs: Any) -> NodeClient:
    return NodeClient.for_data_dir(resolve_data_dir(path), **kwargs)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()
