"""Run the real ``secondme-node`` CLI with every SMP frame it writes also appended to a file.

The leak test starts a daemon through this launcher so that it can read, in plaintext, every
byte the node put on the wire (frames are captured before Noise encrypts them). Usage:
``python wire_capture.py CAPTURE_FILE secondme-node-args...``. Each record in the file is a
4-byte big-endian length and the frame's payload.
"""

from __future__ import annotations

import sys
import threading


def main() -> None:
    capture_path, args = sys.argv[1], sys.argv[2:]
    from secondme.protocol import framing
    from secondme.protocol.transport import streamio, trio_host

    lock = threading.Lock()

    def recording_encode_frame(payload: bytes, **kwargs) -> bytes:
        with lock, open(capture_path, "ab") as capture:
            capture.write(len(payload).to_bytes(4, "big") + bytes(payload))
        return framing.encode_frame(payload, **kwargs)

    # Responses (streamio) and requests (trio_host) are the two places frames are written.
    streamio.encode_frame = recording_encode_frame
    trio_host.encode_frame = recording_encode_frame
    from secondme.node.cli.main import cli

    sys.argv = ["secondme-node", *args]
    cli()


def read_capture(path) -> list[bytes]:
    data = path.read_bytes() if path.exists() else b""
    frames, pos = [], 0
    while pos < len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        frames.append(data[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return frames


if __name__ == "__main__":
    main()
