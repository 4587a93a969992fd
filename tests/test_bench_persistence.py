"""The persistence benchmark runs once on tiny sizes so that it cannot rot."""

from __future__ import annotations

from benches.persistence import run


def test_persistence_benchmark_runs() -> None:
    rows = run(n=3, runs=2)
    assert [r[0] for r in rows] == ["message", "self-update"]
    assert all(mem > 0 and sql > 0 and ratio > 0 for _, mem, sql, ratio in rows)
