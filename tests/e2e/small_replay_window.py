"""Run the real ``secondme-node`` CLI with a replay window of N nonces instead of 65,536.

A flood that fills the default window takes about 65,000 requests, minutes of Python libp2p on
a test machine; with this launcher the same code, every other limit at its default, is filled
by a test in seconds. Usage: ``python small_replay_window.py N secondme-node-args...``.
"""

from __future__ import annotations

import sys


def main() -> None:
    size, args = int(sys.argv[1]), sys.argv[2:]
    from secondme.protocol.replay import ReplayWindow

    # The node builds its window with the defaults; only the size changes.
    defaults = ReplayWindow.__init__.__kwdefaults__
    assert defaults is not None and "max_total" in defaults
    defaults["max_total"] = size
    from secondme.node.cli.main import cli

    sys.argv = ["secondme-node", *args]
    cli()


if __name__ == "__main__":
    main()
