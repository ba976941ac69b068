"""What every CLI command shares: the data dir option, the client, errors, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from secondme.node.cli.client import NodeClient
from secondme.node.core.config import HOME_ENV, DataDir, default_data_dir
from secondme.node.core.errors import NodeError


class NodeGroup(click.Group):
    """A click group that prints a :class:`NodeError` as one line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NodeError as exc:
            if ctx.meta.get(JSON_OUTPUT):  # a script asked for JSON: the error is JSON too
                print_json(exc.to_json())
                sys.exit(1)
            raise click.ClickException(exc.message) from None


def data_dir_option(func: Callable) -> Callable:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar=HOME_ENV,
        default=None,
        help=f"The node's data dir (default: ${HOME_ENV}, else the user data dir).",
    )(func)


JSON_OUTPUT = "secondme.json_output"


def _remember_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[JSON_OUTPUT] = True
    return value


def json_option(func: Callable) -> Callable:
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        callback=_remember_json,
        help='Print JSON instead of text (errors too, as {"error": {code, message}}).',
    )(func)


def resolve_data_dir(path: Path | None) -> DataDir:
    return DataDir((path or default_data_dir()).expanduser().resolve())


def client(path: Path | None, **kwargs: Any) -> NodeClient:
    return NodeClient.for_data_dir(resolve_data_dir(path), **kwargs)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()
