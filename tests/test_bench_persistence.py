"""The persistence benchmark runs once on tiny sizes so that it cannot rot."""

from __future__ import annotations

from benches.persistence import run

from tests.core.pgtools import postgres_url


def test_persistence_benchmark_runs() -> None:
    rows, rates = run(n=3, runs=2, workers=(1, 2), messages=8)
    assert [r[0] for r in rows] == ["message", "self-update"]
    assert all(mem > 0 and sql > 0 and pg is None for _, mem, sql, pg in rows)
    assert sorted(rates) == [("SQLite", m, w) for m in ("separate", "shared") for w in (1, 2)]
    assert all(rate > 0 for rate in rates.values())


def test_persistence_benchmark_runs_with_postgres() -> None:
    rows, rates = run(n=3, runs=2, postgres=postgres_url(), workers=(2,), messages=8)
    assert all(pg is not None and pg > 0 for *_, pg in rows)
    assert {store for store, _, _ in rates} == {"SQLite", "PostgreSQL"}
