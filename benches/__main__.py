"""``python -m benches``: time the core MLS operations of rcs-mls and print medians.

Side-by-side runs against the peer libraries are tracked in the benchmarks issue; this
module measures this package alone, per ciphersuite and group size.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from rcs_mls import (
    OPENMLS_VERSION,
    ApplicationMessage,
    Ciphersuite,
    Client,
    Credential,
    Group,
    SignatureKeyPair,
    StagedCommit,
    __version__,
)


@dataclass(frozen=True)
class Result:
    operation: str
    suite: int
    size: int
    median_s: float
    runs: int


def _client(name: str, suite: Ciphersuite) -> Client:
    return Client(Credential.basic(name.encode()), SignatureKeyPair.generate(suite), suite)


def _median(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _group(suite: Ciphersuite, n: int) -> tuple[Group, Group]:
    creator = _client("creator", suite)
    other = _client("other", suite)
    g = creator.create_group()
    kps = [other.generate_key_package()] + [
        _client(f"m{i}", suite).generate_key_package() for i in range(n - 2)
    ]
    result = g.add_members(kps)
    g.merge_pending_commit()
    assert result.welcome is not None
    return g, other.join_group(result.welcome)


def _bench_size(suite: Ciphersuite, n: int, runs: int) -> list[Result]:
    pools = iter(
        [
            [_client(f"m{i}", suite).generate_key_package() for i in range(n - 1)]
            for _ in range(runs)
        ]
    )

    def create_and_add() -> None:
        _client("c", suite).create_group().add_members(next(pools))

    a, b = _group(suite, n)

    def update_and_process() -> None:
        commit = a.self_update().commit
        a.merge_pending_commit()
        staged = b.process_message(commit)
        assert isinstance(staged, StagedCommit)
        b.merge_staged_commit(staged)

    payload = b"x" * 100

    def message() -> None:
        m = b.process_message(a.encrypt(payload))
        assert isinstance(m, ApplicationMessage)

    return [
        Result("create + add N in one commit", suite, n, _median(create_and_add, runs), runs),
        Result("self-update + process", suite, n, _median(update_and_process, runs), runs),
        Result("100-byte encrypt + decrypt", suite, n, _median(message, runs * 10), runs * 10),
    ]


def run(sizes: Sequence[int], runs: int, suites: Sequence[Ciphersuite]) -> list[Result]:
    results: list[Result] = []
    for suite in suites:
        client = _client("kp", suite)
        kp_time = _median(client.generate_key_package, runs)
        results.append(Result("key package generation", suite, 1, kp_time, runs))
        for n in sizes:
            results.extend(_bench_size(suite, n, runs))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benches", description=__doc__)
    parser.add_argument("--sizes", default="10,100", help="group sizes, comma separated")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    suites = [Ciphersuite(1), Ciphersuite(2)]
    print(
        f"rcs-mls {__version__} (OpenMLS {OPENMLS_VERSION}), "
        f"Python {platform.python_version()}, {platform.machine()}"
    )
    results = run(sizes, args.runs, suites)
    print(f"{'operation':<32} {'suite':>6} {'N':>6} {'median':>12}")
    for r in results:
        print(f"{r.operation:<32} 0x{r.suite:04x} {r.size:>6} {r.median_s * 1e3:>9.3f} ms")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump([asdict(r) for r in results], f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
