"""``python -m benches.persistence``: what persistence costs, in SQLite and PostgreSQL.

Per operation, in a group of 100 (ciphersuite 0x0002): a 100-byte message encrypted
by one member and decrypted by another, and a self-update commit processed by another
member, with the two members' state in memory, in SQLite files (WAL,
synchronous=NORMAL) and in PostgreSQL (server defaults: every commit is fsynced).
Each state change is one transaction. Target: SQLite persistence at most 2x in-memory
for messages.

Then throughput: 1, 2 and 4 worker processes acting for the same client send 100-byte
messages into the same groups (every operation one transaction under the client's lock,
each worker reloading a group another worker moved), and, for comparison, the same
number of workers each acting for a client of its own.

PostgreSQL is measured when ``--postgres URL`` is given (or RCS_MLS_TEST_POSTGRES is
set); each run uses fresh schemas, dropped at the end.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from multiprocessing.synchronize import Barrier
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
POSTGRES_ENV = "RCS_MLS_TEST_POSTGRES"

# Where the members' stores live: None (memory), a directory (SQLite), or a
# PostgreSQL URL plus a schema prefix.
Stores = None | Path | tuple[str, str]


def _location(stores: Stores, name: str) -> str | Path | None:
    if stores is None:
        return None
    if isinstance(stores, Path):
        return stores / f"{name}.db"
    url, prefix = stores
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}schema={prefix}_{name}"


def _client(name: str, stores: Stores) -> Client:
    cred, keys = Credential.basic(name.encode()), SignatureKeyPair.generate(SUITE)
    location = _location(stores, name)
    if location is None:
        return Client(cred, keys, SUITE)
    return Client.open(location, cred, keys, SUITE)


def _group(alice: Client, n: int, receivers: Sequence[Client], gid: bytes) -> list[Group]:
    """A group of `n` made by alice with `receivers` in it (and in-memory others)."""
    others = [
        Client(Credential.basic(f"m{i}".encode()), SignatureKeyPair.generate(SUITE), SUITE)
        for i in range(n - 1 - len(receivers))
    ]
    group = alice.create_group(group_id=gid)
    kps = [c.generate_key_package() for c in [*receivers, *others]]
    result = group.add_members(kps)
    group.merge_pending_commit()
    assert result.welcome is not None
    return [group] + [r.join_group(result.welcome) for r in receivers]


def _median_us(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def measure(n: int, runs: int, stores: Stores) -> dict[str, float]:
    alice, bob = _client("alice", stores), _client("bob", stores)
    a, b = _group(alice, n, [bob], b"bench")
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


def _worker(location: str, groups: list[bytes], count: int, barrier: Barrier) -> None:
    client = Client.open(location)
    loaded = [client.load_group(g) for g in groups]
    payload = b"x" * 100
    barrier.wait()
    for i in range(count):
        loaded[i % len(loaded)].encrypt(payload)


def throughput(stores: Stores, workers: int, messages: int, n: int, shared: bool) -> float:
    """Messages per second sent by `workers` processes: all acting for one client
    (`shared`) into the same two groups, or each for a client of its own."""
    names = ["sender"] if shared else [f"sender{w}" for w in range(workers)]
    groups = [b"tp-1", b"tp-2"]
    for name in names:
        client = _client(name, stores)
        for gid in groups:
            _group(client, n, [], gid)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers + 1)
    per_worker = messages // workers
    procs = [
        ctx.Process(
            target=_worker,
            args=(str(_location(stores, names[w % len(names)])), groups, per_worker, barrier),
        )
        for w in range(workers)
    ]
    for p in procs:
        p.start()
    barrier.wait(timeout=300)
    start = time.perf_counter()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - start
    if any(p.exitcode != 0 for p in procs):
        raise RuntimeError("a benchmark worker failed")
    return per_worker * workers / elapsed


def _drop_schemas(url: str, prefix: str) -> None:
    from urllib.parse import unquote, urlsplit

    import pg8000.native  # type: ignore[import-untyped]

    parts = urlsplit(url)
    conn = pg8000.native.Connection(
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password) if parts.password else None,
        host=parts.hostname or "localhost",
        port=parts.port or 5432,
        database=unquote(parts.path.lstrip("/")) or None,
    )
    try:
        for (name,) in conn.run(
            "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, :p)", p=prefix
        ):
            conn.run(f'DROP SCHEMA "{name}" CASCADE')
    finally:
        conn.close()


Row = tuple[str, float, float, float | None]


def run(
    n: int = 100,
    runs: int = 20,
    postgres: str | None = None,
    workers: Sequence[int] = (1, 2, 4),
    messages: int = 400,
) -> tuple[list[Row], dict[tuple[str, str, int], float]]:
    """Print and return the per-operation rows ``(operation, memory µs, SQLite µs,
    PostgreSQL µs or None)`` and the throughputs ``{(store, "shared"|"separate",
    workers): messages per second}``."""
    prefix = f"bench_{uuid.uuid4().hex[:12]}"
    rates: dict[tuple[str, str, int], float] = {}
    try:
        memory = measure(n, runs, None)
        with tempfile.TemporaryDirectory() as d:
            ops = Path(d) / "ops"
            ops.mkdir()
            sqlite = measure(n, runs, ops)
            for w in workers:
                for mode in ("shared", "separate"):
                    sub = Path(d) / f"tp-{mode}-{w}"
                    sub.mkdir()
                    rates["SQLite", mode, w] = throughput(sub, w, messages, n, mode == "shared")
        pgsql = measure(n, runs, (postgres, f"{prefix}_ops")) if postgres else None
        if postgres:
            for w in workers:
                for mode in ("shared", "separate"):
                    stores = (postgres, f"{prefix}_{mode}{w}")
                    rates["PostgreSQL", mode, w] = throughput(
                        stores, w, messages, n, mode == "shared"
                    )
    finally:
        if postgres:
            _drop_schemas(postgres, prefix)
    rows: list[Row] = [(op, memory[op], sqlite[op], pgsql[op] if pgsql else None) for op in memory]
    print(f"persistence cost, group of {n}, ciphersuite 0x{int(SUITE):04x}, median of runs")
    print(f"{'operation':<28} {'memory':>12} {'SQLite':>12} {'PostgreSQL':>12}")
    for op, mem, sql, pgv in rows:
        name = "100-byte encrypt + decrypt" if op == "message" else "self-update + process"
        pg_text = f"{pgv:>9.0f} µs" if pgv is not None else f"{'-':>12}"
        print(f"{name:<28} {mem:>9.0f} µs {sql:>9.0f} µs {pg_text}")
    msg_ratio = rows[0][2] / rows[0][1]
    verdict = "met" if msg_ratio <= 2 else "missed"
    print(f"target: SQLite messages at most 2x in memory: {verdict} ({msg_ratio:.2f}x)")
    print(f"\nmessages per second, 100-byte messages into groups of {n}, {messages} per row")
    print(f"{'store':<12} {'workers':>7} {'one client':>12} {'own clients':>12}")
    for store in ("SQLite", "PostgreSQL"):
        for w in workers:
            if (store, "shared", w) in rates:
                shared, separate = rates[store, "shared", w], rates[store, "separate", w]
                print(f"{store:<12} {w:>7} {shared:>12.0f} {separate:>12.0f}")
    if not postgres:
        print(f"(PostgreSQL not measured: pass --postgres URL or set {POSTGRES_ENV})")
    return rows, rates


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benches.persistence", description=__doc__)
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--messages", type=int, default=400, help="per throughput row")
    parser.add_argument("--postgres", default=os.environ.get(POSTGRES_ENV), help="a PostgreSQL URL")
    args = parser.parse_args(argv)
    warn_if_debug_build()
    run(args.members, args.runs, args.postgres, messages=args.messages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
