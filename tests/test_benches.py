"""The benchmark code runs once on tiny sizes so that it cannot rot (this package only;
the peers and matplotlib are optional). The real benchmark is ``python -m benches``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from benches.__main__ import main
from benches.harness import CREATE_ADD, DECRYPT_SMALL, JOIN, SCALE_UPDATE, Cell
from benches.native import load_criterion, overheads


def test_benchmark_runs_on_tiny_sizes(tmp_path: Path) -> None:
    charts = importlib.util.find_spec("matplotlib") is not None
    argv = ["--quick", "--libraries", "rcs-mls", "--out", str(tmp_path)]
    argv += ["--criterion-dir", str(tmp_path / "none")]
    assert main(argv if charts else [*argv, "--no-charts"]) == 0
    data = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    rows = data["results"]
    assert {r["label"] for r in rows} == {"rcs-mls 0x0001", "rcs-mls 0x0002"}
    assert {r["operation"] for r in rows} >= {CREATE_ADD, JOIN, DECRYPT_SMALL, SCALE_UPDATE}
    assert all(r["status"] == "ok" and r["median"] > 0 for r in rows)
    assert data["machine"]["cores"] >= 1
    assert "| operation | N |" in (tmp_path / "results.md").read_text(encoding="utf-8")
    if charts:
        assert (tmp_path / "ratios.png").stat().st_size > 0


def test_reads_criterion_results(tmp_path: Path) -> None:
    bench = tmp_path / "join" / "0x0002" / "100" / "new"
    bench.mkdir(parents=True)
    (bench / "benchmark.json").write_text(
        json.dumps({"group_id": "join", "function_id": "0x0002", "value_str": "100"})
    )
    (bench / "estimates.json").write_text(json.dumps({"median": {"point_estimate": 2.0e6}}))
    native = load_criterion(tmp_path)
    assert [(n.operation, n.suite, n.size, n.median) for n in native] == [("join", 2, 100, 0.002)]
    cell = Cell("join", 100, "rcs-mls", 2, "ok", median=0.0022, runs=2, samples=[0.0022, 0.0021])
    [o] = overheads([cell], native)
    assert round(o.ratio, 2) == 1.05 and o.met
