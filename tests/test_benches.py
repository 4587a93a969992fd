"""The benchmark code runs once on tiny sizes so that it cannot rot."""

from __future__ import annotations

import json
from pathlib import Path

from benches.__main__ import main


def test_benchmark_runs_on_tiny_sizes(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert main(["--sizes", "3", "--runs", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert {r["operation"] for r in rows} >= {"key package generation", "self-update + process"}
    assert all(r["median_s"] > 0 for r in rows)
