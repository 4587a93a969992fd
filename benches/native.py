"""OpenMLS measured natively (criterion, ``benches/native/``) and the binding's overhead.

``python -m benches --native`` runs ``cargo bench`` in ``benches/native`` (a crate of
its own, with its own target directory); without the flag, results of an earlier run
are read when they exist. Criterion writes, for each benchmark,
``target/criterion/<group>/<function>/<parameter>/new/{benchmark,estimates}.json``: the
group is the operation, the function the ciphersuite (``0x0001``), the parameter the
group size.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from benches.harness import GROUP_OPERATIONS, MESSAGE_OPERATIONS, Cell

NATIVE_DIR = Path(__file__).resolve().parent / "native"

#: Binding-overhead targets (issue 6): a ratio for group operations, a time per call
#: for message operations.
GROUP_RATIO_TARGET = 1.10
MESSAGE_OVERHEAD_TARGET = 3e-6


@dataclass(frozen=True)
class NativeResult:
    operation: str
    suite: int
    size: int
    median: float  # seconds
    #: The fastest sample (seconds per iteration), or the median when unknown.
    fastest: float


def run_criterion(native_dir: Path = NATIVE_DIR, extra: list[str] | None = None) -> None:
    """``cargo bench`` in the native crate (one build job: 2-core machines)."""
    env = dict(os.environ)
    env.setdefault("CARGO_BUILD_JOBS", "1")
    cmd = ["cargo", "bench", "--bench", "openmls", "--", *(extra or [])]
    print(f"$ (cd {native_dir} && {' '.join(cmd)})", flush=True)
    subprocess.run(cmd, cwd=native_dir, env=env, check=True)


def load_criterion(criterion_dir: Path) -> list[NativeResult]:
    """The medians of every benchmark criterion recorded under `criterion_dir`."""
    out: list[NativeResult] = []
    if not criterion_dir.is_dir():
        return out
    for meta in sorted(criterion_dir.glob("**/new/benchmark.json")):
        estimates = meta.parent / "estimates.json"
        if not estimates.is_file():
            continue
        try:
            info = json.loads(meta.read_text(encoding="utf-8"))
            median_ns = float(
                json.loads(estimates.read_text(encoding="utf-8"))["median"]["point_estimate"]
            )
            fastest = median_ns
            samples = meta.parent / "sample.json"
            if samples.is_file():
                data = json.loads(samples.read_text(encoding="utf-8"))
                per_iter = [t / i for t, i in zip(data["times"], data["iters"], strict=True) if i]
                fastest = min(per_iter, default=median_ns)
            operation = str(info["group_id"])
            suite = int(str(info["function_id"]), 16)
            value = info.get("value_str")
            size = int(value) if value not in (None, "") else 1
        except (OSError, ValueError, KeyError, TypeError):
            continue
        out.append(NativeResult(operation, suite, size, median_ns * 1e-9, fastest * 1e-9))
    return out


@dataclass(frozen=True)
class Overhead:
    """The binding (Python call) against OpenMLS called from Rust, for one operation.

    Compared on the fastest run of each: the two are measured minutes apart, and on a
    shared machine contention only ever adds time, so the fastest runs are the ones that
    compare (the medians are in the main table)."""

    operation: str
    suite: int
    size: int
    python: float
    native: float

    @property
    def ratio(self) -> float:
        return self.python / self.native

    @property
    def per_call(self) -> float:
        return self.python - self.native

    @property
    def kind(self) -> str:
        return "message" if self.operation in MESSAGE_OPERATIONS else "group"

    @property
    def target(self) -> str:
        if self.kind == "group":
            return f"<= {GROUP_RATIO_TARGET:.2f}x"
        return f"<= {MESSAGE_OVERHEAD_TARGET * 1e6:.0f} us/call"

    @property
    def met(self) -> bool:
        if self.kind == "group":
            return self.ratio <= GROUP_RATIO_TARGET
        return self.per_call <= MESSAGE_OVERHEAD_TARGET


def overheads(cells: list[Cell], native: list[NativeResult]) -> list[Overhead]:
    """Pair this package's Python medians with the native ones."""
    by_key = {(n.operation, n.suite, n.size): n.fastest for n in native}
    out: list[Overhead] = []
    wanted = set(GROUP_OPERATIONS) | set(MESSAGE_OPERATIONS)
    for c in cells:
        if c.library != "rcs-mls" or c.operation not in wanted or not c.samples:
            continue
        n = by_key.get((c.operation, c.suite, c.size))
        if n is not None and n > 0:
            out.append(Overhead(c.operation, c.suite, c.size, min(c.samples), n))
    order = list(GROUP_OPERATIONS) + list(MESSAGE_OPERATIONS)
    out.sort(key=lambda o: (order.index(o.operation), o.size, o.suite))
    return out
