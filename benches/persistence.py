"""``python -m benches.persistence``: what SQLite persistence costs against memory.

Per operation, in a group of 100 (ciphersuite 0x0002): a 100-byte message encrypted
by one member and decrypted by another, and a self-update commit processed by another
member. Each state change is one SQLite transaction (WAL, synchronous=NORMAL). Target:
persistence at most 2x in-memory for messages.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benches import warn_if_debug_build
from rcs_mls import (
    ApplicationMessage,
    Ciphersuite,
    Client,
    Credential,
    Group,
    SignatureKeyPair,
    StagedCommit,
)

SUITE = Ciphersuite.MLS_128_DHKEMP256_AES128GCM_SHA256_P256


def _client(name: str, directory: Path | None) -> Client:
    cred, keys = Credential.basic(name.encode()), SignatureKeyPair.generate(SUITE)
    if directory is None:
        return Client(cred, keys, SUITE)
    return Client.open(directory / f"{name}.db", cred, keys, SUITE)


def _pair(n: int, directory: Path | None) -> tuple[Group, Group]:
    alice, bob = _client("alice", directory), _client("bob", directory)
    others = [
        Client(Credential.basic(f"m{i}".encode()), SignatureKeyPair.generate(SUITE), SUITE)
        for i in range(n - 2)
    ]
    group = alice.create_group()
    kps = [bob.generate_key_package()] + [c.generate_key_package() for c in others]
    result = group.add_members(kps)
    group.merge_pending_commit()
    assert result.welcome is not None
    return group, bob.join_group(result.welcome)


def _median_us(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def measure(n: int, runs: int, directory: Path | None) -> dict[str, float]:
    a, b = _pair(n, directory)
    payload = b"x" * 100

    def message() -> None:
        assert isinstance(b.process_message(a.encrypt(payload)), ApplicationMessage)

    def update() -> None:
        commit = a.self_update().commit
        a.merge_pending_commit()
        staged = b.process_message(commit)
        assert isinstance(staged, StagedCommit)
        b.merge_staged_commit(staged)

    return {"message": _median_us(message, runs * 10), "self-update": _median_us(update, runs)}


def run(n: int = 100, runs: int = 20) -> list[tuple[str, float, float, float]]:
    memory = measure(n, runs, None)
    with tempfile.TemporaryDirectory() as d:
        sqlite = measure(n, runs, Path(d))
    rows = [(op, memory[op], sqlite[op], sqlite[op] / memory[op]) for op in memory]
    print(f"persistence cost, group of {n}, ciphersuite 0x{int(SUITE):04x}, median of runs")
    print(f"{'operation':<28} {'memory':>12} {'SQLite':>12} {'ratio':>7}")
    for op, mem, sql, ratio in rows:
        name = "100-byte encrypt + decrypt" if op == "message" else "self-update + process"
        print(f"{name:<28} {mem:>9.0f} µs {sql:>9.0f} µs {ratio:>6.2f}x")
    msg_ratio = next(r for op, _, _, r in rows if op == "message")
    verdict = "met" if msg_ratio <= 2 else "missed"
    print(f"target: messages at most 2x in memory: {verdict} ({msg_ratio:.2f}x)")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benches.persistence", description=__doc__)
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    warn_if_debug_build()
    run(args.members, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
