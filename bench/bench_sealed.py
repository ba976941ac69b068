"""Sealed bundles: seals/s and opens/s for 1 KiB and 64 KiB plaintexts, beside the bare AEAD.

A seal adds to XChaCha20-Poly1305 alone: the Ed25519 -> X25519 conversion of the recipient's
key, an ephemeral key pair and an X25519 exchange, HKDF, canonical msgpack (three encodings)
and an Ed25519 signature over the whole bundle. An open adds the strict msgpack reader, the
canonical re-encoding check, the recipient's key conversion, an X25519 exchange, HKDF and an
Ed25519 verification. The baseline is ``crypto_aead_xchacha20poly1305_ietf_encrypt`` of the same
plaintext with a fixed key and nonce, in this process: the floor no format could go below.

Each run times a batch of calls of each kind, the kinds alternating so that drift in machine
load hits them alike; figures are the medians over the runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nacl
import nacl.bindings

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import report

from secondme.protocol.identity import Identity
from secondme.protocol.sealed import open_sealed, seal

SIZES = {"1 KiB": 1024, "64 KiB": 64 * 1024}
CREATED_MS = 1_700_000_000_000


def per_second(func: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        func()
    return count / (time.perf_counter() - started)


def measure(size: int, runs: int, count: int) -> dict[str, float]:
    """Median calls per second of sealing, opening and the bare AEAD for one plaintext size."""
    sender, recipient = Identity.generate(), Identity.generate()
    plaintext = os.urandom(size)
    bundle = seal(
        sender, recipient.peer_id, plaintext, content_type="bench/blob", created_ms=CREATED_MS
    )
    key, nonce = os.urandom(32), os.urandom(24)
    kinds: dict[str, Callable[[], object]] = {
        "seal": lambda: seal(
            sender,
            recipient.peer_id,
            plaintext,
            content_type="bench/blob",
            created_ms=CREATED_MS,
        ),
        "open": lambda: open_sealed(recipient, bundle, expected_sender=sender.peer_id),
        "aead": lambda: nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            plaintext, None, nonce, key
        ),
    }
    for func in kinds.values():
        per_second(func, max(1, count // 10))
    rates: dict[str, list[float]] = {name: [] for name in kinds}
    for _ in range(runs):
        for name, func in kinds.items():
            rates[name].append(per_second(func, count))
    return {name: statistics.median(samples) for name, samples in rates.items()}


def figure(rate: float) -> str:
    return f"{rate:>10,.0f} /s  ({1e6 / rate:8.1f} µs each)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed batches per kind and size")
    parser.add_argument("--count", type=int, default=300, help="calls in one batch")
    args = parser.parse_args()

    rows: list[tuple[str, str]] = []
    for label, size in SIZES.items():
        rates = measure(size, args.runs, args.count)
        rows += [
            (f"seal {label}", figure(rates["seal"])),
            (f"open {label}", figure(rates["open"])),
            (f"bare AEAD encrypt {label}", figure(rates["aead"])),
            (f"  seal time / AEAD time {label}", f"{rates['aead'] / rates['seal']:.1f}"),
            (f"  open time / AEAD time {label}", f"{rates['aead'] / rates['open']:.1f}"),
        ]
    report(
        f"Sealed bundles, median of {args.runs} runs of {args.count} calls; Python "
        f"{platform.python_version()}, PyNaCl {nacl.__version__}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        rows,
    )


if __name__ == "__main__":
    main()
