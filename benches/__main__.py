"""``python -m benches``: rcs-mls against the other Python MLS libraries, side by side.

Measures, in one run and with the same sequence of calls for every library: key package
generation; creating a group and adding N members in one commit (N = 10, 100, 1000)
and a new member joining from the Welcome; a self-update commit in a group of 100 and
another member processing it; removing one member of 100 and processing that; 100-byte
messages (per message) and a 1 MiB message; the sizes of the Welcome and the commits;
and how adding one member and a self-update grow with the group (10 to 5000 members).

Libraries: this package on suites 0x0001 and 0x0002, ``rfc9420`` (pure Python, both
suites), ``agentvault-mls-rs-uniffi`` (AWS mls-rs, 0x0001) and ``pure-mls`` (Python
3.12+). Peers are optional (``pip install ".[bench]"``); one that is missing is reported
as such. With ``--native`` it also runs the criterion benchmarks of OpenMLS itself
(``benches/native``) and reports the binding's overhead; results of an earlier native
run are read when present. The RCS layer's own benchmark (``benches/rcs.py``: file
encryption, whole-stack message rate) runs last when its modules are installed.

Writes ``bench-results/results.json``, ``results.md`` and the charts
``ratios.png`` and ``scaling.png`` (with matplotlib).
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benches import harness, native, report, warn_if_debug_build
from benches.adapters import ALL_LIBRARIES, Unavailable, _version, adapters

QUICK = harness.Settings(
    add_sizes=(3,), group_size=4, scaling_sizes=(3, 5), runs=1, batch=2, budget=30.0
)


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(s) for s in text.split(",") if s.strip())


def machine() -> dict[str, str | int | None]:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "system": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }


def _openmls_version() -> str:
    try:
        return str(importlib.import_module("rcs_mls").OPENMLS_VERSION)
    except (ImportError, AttributeError):
        return "?"


def run_rcs() -> tuple[list[Any], str]:
    """The RCS layer's benchmark (``benches/rcs.py``, file encryption and whole-stack
    message rate), when it can run: its rows, or why not."""
    try:
        rcs: Any = importlib.import_module("benches.rcs")
        print("RCS layer (benches/rcs.py):", flush=True)
        return list(rcs.run()), ""
    except Exception as e:  # its own test covers it; here it is one optional section
        note = f"RCS layer (benches/rcs.py): not measured: {type(e).__name__}: {e}"
        print(note, flush=True)
        return [], note


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benches",
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--libraries",
        default=",".join(ALL_LIBRARIES),
        help=f"comma-separated, from {','.join(ALL_LIBRARIES)} (default: all)",
    )
    p.add_argument(
        "--sizes", default="10,100,1000", help="N for create + add N (default: %(default)s)"
    )
    p.add_argument("--group-size", type=int, default=100, help="group for update/remove/messages")
    p.add_argument(
        "--scaling",
        default="10,50,100,500,1000,2000,5000",
        help="group sizes for the scaling rows; empty for none (default: %(default)s)",
    )
    p.add_argument("--runs", type=int, default=9, help="repetitions per cell (fewer at big sizes)")
    p.add_argument("--budget", type=float, default=20.0, help="seconds one cell may take")
    p.add_argument("--quick", action="store_true", help="tiny sizes, one run (a smoke test)")
    p.add_argument(
        "--native",
        action="store_true",
        help="run the criterion benchmarks of OpenMLS first (slow: builds a crate)",
    )
    p.add_argument(
        "--criterion-dir",
        type=Path,
        default=native.NATIVE_DIR / "target" / "criterion",
        help="where to read criterion results (default: %(default)s)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("bench-results"),
        help="output directory (default: %(default)s)",
    )
    p.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    p.add_argument(
        "--no-rcs",
        action="store_true",
        help="skip the RCS layer (benches/rcs.py: file encryption, whole stack)",
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    if args.quick:
        settings = QUICK
    else:
        settings = harness.Settings(
            add_sizes=_sizes(args.sizes),
            group_size=args.group_size,
            scaling_sizes=_sizes(args.scaling),
            runs=args.runs,
            budget=args.budget,
        )
    names = [n.strip() for n in args.libraries.split(",") if n.strip()]
    info = machine()
    header = (
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['system']}, {info['python']}; "
        f"rcs-mls {_version('rcs-mls')} (OpenMLS {_openmls_version()})"
    )
    print(header, flush=True)
    warn_if_debug_build()

    if args.native:
        native.run_criterion()

    libraries: list[report.Library] = []
    cells: list[harness.Cell] = []
    for adapter in adapters(names):
        try:
            adapter.check()
        except Unavailable as e:
            print(f"{adapter.label}: {e}", flush=True)
            libraries.append(
                report.Library(
                    adapter.label,
                    adapter.library,
                    adapter.suite,
                    adapter.version(),
                    "unavailable",
                    str(e),
                )
            )
            continue
        print(f"{adapter.label} {adapter.version()}:", flush=True)
        libraries.append(
            report.Library(
                adapter.label, adapter.library, adapter.suite, adapter.version(), "measured"
            )
        )
        lib_started = time.perf_counter()
        cells += harness.run_library(
            adapter, settings, lambda s: print(s, flush=True), scaling=bool(settings.scaling_sizes)
        )
        print(f"  {adapter.label}: {time.perf_counter() - lib_started:.1f} s", flush=True)

    rcs_rows, rcs_note = ([], "") if args.quick or args.no_rcs else run_rcs()

    native_results = native.load_criterion(args.criterion_dir)
    overheads = native.overheads(cells, native_results)
    native_note = (
        ""
        if native_results
        else "No native (criterion) results: run `python -m benches --native` for the binding "
        "overhead."
    )
    versions = ", ".join(
        f"{lib.library} {lib.version}"
        for i, lib in enumerate(libraries)
        if lib.library not in {x.library for x in libraries[:i]}
    )
    unavailable = [f"{lib.label}: {lib.note}" for lib in libraries if lib.status != "measured"]
    header_md = f"{header}.\nVersions: {versions}." + (
        "\nNot measured: " + "; ".join(unavailable) + "." if unavailable else ""
    )
    tables = report.Tables(cells, libraries)
    text = report.markdown(tables, header_md, overheads, native_note)
    if rcs_rows or rcs_note:
        text += "\n" + report.rcs_section(rcs_rows, rcs_note)
    runtime = time.perf_counter() - started
    print()
    print(text)
    print(f"Total: {runtime:.0f} s")

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text(text, encoding="utf-8")
    report.to_json(
        args.out / "results.json",
        machine=info,
        libraries=libraries,
        settings={
            "add_sizes": list(settings.add_sizes),
            "group_size": settings.group_size,
            "scaling_sizes": list(settings.scaling_sizes),
            "runs": settings.runs,
            "batch": settings.batch,
            "budget_s": settings.budget,
        },
        cells=cells,
        overheads=overheads,
        native=native_results,
        rcs=rcs_rows,
        runtime_s=runtime,
    )
    written = [args.out / "results.json", args.out / "results.md"]
    if not args.no_charts:
        try:
            report.ratio_chart(args.out / "ratios.png", tables, overheads, header)
            report.scaling_chart(args.out / "scaling.png", tables, header)
            written += [args.out / "ratios.png", args.out / "scaling.png"]
        except ImportError:
            print("matplotlib is not installed: no charts (pip install '.[bench]')")
    print("Wrote " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
