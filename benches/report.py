"""Tables (markdown, printed and saved), the JSON file and the PNG charts."""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benches.harness import (
    ADD_COMMIT_SIZE,
    CREATE_ADD,
    DECRYPT_LARGE,
    DECRYPT_SMALL,
    ENCRYPT_LARGE,
    ENCRYPT_SMALL,
    GROUP_OPERATIONS,
    JOIN,
    KEY_PACKAGE,
    LARGE_MESSAGE,
    PROCESS_REMOVE,
    PROCESS_UPDATE,
    REMOVE,
    SCALE_ADD,
    SCALE_PROCESS,
    SCALE_UPDATE,
    SELF_UPDATE,
    SIZE_OPERATIONS,
    TITLES,
    UPDATE_COMMIT_SIZE,
    WELCOME_SIZE,
    Cell,
)
from benches.native import Overhead

OURS = "rcs-mls"
THROUGHPUT = (ENCRYPT_LARGE, DECRYPT_LARGE)
#: Rows of the main table, in order.
MAIN_ROWS = (
    KEY_PACKAGE,
    CREATE_ADD,
    JOIN,
    SELF_UPDATE,
    PROCESS_UPDATE,
    REMOVE,
    PROCESS_REMOVE,
    ENCRYPT_SMALL,
    DECRYPT_SMALL,
    ENCRYPT_LARGE,
    DECRYPT_LARGE,
    WELCOME_SIZE,
    ADD_COMMIT_SIZE,
    UPDATE_COMMIT_SIZE,
)
SCALING_ROWS = (SCALE_ADD, SCALE_UPDATE, SCALE_PROCESS)
#: Throughput target for a 1 MiB message (issue 6), bytes per second.
THROUGHPUT_TARGET = 1e9
#: At least this much faster than rfc9420 on group operations (issue 6).
RFC9420_GROUP_TARGET = 5.0


@dataclass(frozen=True)
class Library:
    """One column: a library on one ciphersuite, or why it was not measured."""

    label: str
    library: str
    suite: int
    version: str
    status: str  # measured | unavailable
    note: str = ""


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_value(c: Cell) -> str:
    assert c.median is not None
    if c.operation in SIZE_OPERATIONS:
        return f"{int(c.median):,} B"
    if c.operation in THROUGHPUT:
        return f"{LARGE_MESSAGE / c.median / 1e6:,.0f} MB/s"
    return fmt_time(c.median)


def fmt_ratio(r: float) -> str:
    return f"{r:.1f}x" if r < 100 else f"{r:,.0f}x"


def ratio(ours: Cell | None, peer: Cell | None) -> float | None:
    """Peer time over ours (> 1: this package is faster); bytes for the size rows."""
    if ours is None or peer is None or ours.median is None or peer.median is None:
        return None
    if ours.median <= 0:
        return None
    return peer.median / ours.median


class Tables:
    """Index of the cells for rendering."""

    def __init__(self, cells: Sequence[Cell], libraries: Sequence[Library]) -> None:
        self.cells = {(c.operation, c.size, c.label): c for c in cells}
        self.libraries = list(libraries)
        self.measured = [lib for lib in libraries if lib.status == "measured"]
        self.notes: list[str] = []

    def get(self, operation: str, size: int, label: str) -> Cell | None:
        return self.cells.get((operation, size, label))

    def ours(self, operation: str, size: int, suite: int) -> Cell | None:
        return self.get(operation, size, f"{OURS} 0x{suite:04x}")

    def sizes(self, operation: str) -> list[int]:
        return sorted({s for (op, s, _) in self.cells if op == operation})

    def note(self, text: str) -> str:
        if text not in self.notes:
            self.notes.append(text)
        return f"[{self.notes.index(text) + 1}]"

    def render_cell(self, c: Cell | None, lib: Library, with_ratio: bool) -> str:
        if c is None:
            return "-"
        if c.status != "ok" or c.median is None:
            ref = self.note(f"{lib.label}: {c.note}") if c.note else ""
            word = {"fails": "fails", "n/a": "n/a", "skipped": "skipped"}.get(c.status, c.status)
            if c.status == "skipped" and "budget" in c.note:
                return "skipped: > budget"
            return f"{word} {ref}".strip()
        text = fmt_value(c)
        if with_ratio and lib.library != OURS and c.operation not in SIZE_OPERATIONS:
            r = ratio(self.ours(c.operation, c.size, c.suite), c)
            if r is not None:
                text += f" ({fmt_ratio(r)})"
        return text

    def main_table(self) -> str:
        head = ["operation", "N"] + [lib.label for lib in self.measured]
        lines = [_row(head), _row(["---", "---:"] + ["---:"] * len(self.measured))]
        for op in MAIN_ROWS:
            for size in self.sizes(op):
                row = [TITLES[op], str(size) if op != KEY_PACKAGE else "-"]
                for lib in self.measured:
                    row.append(self.render_cell(self.get(op, size, lib.label), lib, True))
                lines.append(_row(row))
        return "\n".join(lines)

    def scaling_table(self) -> str:
        out: list[str] = []
        for op in SCALING_ROWS:
            sizes = self.sizes(op)
            if not sizes:
                continue
            libs = [lib for lib in self.measured if any(self.get(op, s, lib.label) for s in sizes)]
            out.append(f"**{TITLES[op]}**, by group size\n")
            out.append(_row(["members"] + [lib.label for lib in libs]))
            out.append(_row(["---:"] * (len(libs) + 1)))
            for size in sizes:
                row = [f"{size:,}"]
                for lib in libs:
                    row.append(self.render_cell(self.get(op, size, lib.label), lib, False))
                out.append(_row(row))
            out.append("")
        return "\n".join(out).rstrip()

    def overhead_table(self, rows: Sequence[Overhead]) -> str:
        head = [
            "operation",
            "suite",
            "N",
            "rcs-mls (Python)",
            "OpenMLS (Rust)",
            "ratio",
            "overhead per call",
            "target",
            "met",
        ]
        lines = [
            _row(head),
            _row(["---", "---", "---:", "---:", "---:", "---:", "---:", "---", "---"]),
        ]
        for o in rows:
            lines.append(
                _row(
                    [
                        TITLES[o.operation],
                        f"0x{o.suite:04x}",
                        "-" if o.operation == KEY_PACKAGE else str(o.size),
                        fmt_time(o.python),
                        fmt_time(o.native),
                        f"{o.ratio:.2f}x",
                        _signed_time(o.per_call),
                        o.target,
                        "yes" if o.met else "**no**",
                    ]
                )
            )
        return "\n".join(lines)

    def footnotes(self) -> str:
        return "\n".join(f"[{i + 1}] {text}" for i, text in enumerate(self.notes))


def _signed_time(seconds: float) -> str:
    return ("-" if seconds < 0 else "+") + fmt_time(abs(seconds))


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


@dataclass(frozen=True)
class PeerSummary:
    peer: str
    suite: int
    compared: int
    faster: int
    slower: list[str]
    failed: list[str]
    group_geomean: float | None
    group_min: float | None


def peer_summaries(t: Tables) -> list[PeerSummary]:
    """For each peer column, how this package compares on the same suite."""
    out: list[PeerSummary] = []
    for lib in t.measured:
        if lib.library == OURS:
            continue
        compared = faster = 0
        slower: list[str] = []
        failed: list[str] = []
        group: list[float] = []
        for (op, size, label), c in sorted(t.cells.items()):
            if label != lib.label or op in SIZE_OPERATIONS:
                continue
            if c.status == "fails":
                failed.append(f"{TITLES[op]} N={size}")
                continue
            r = ratio(t.ours(op, size, lib.suite), c)
            if r is None:
                continue
            compared += 1
            if r > 1:
                faster += 1
            else:
                slower.append(f"{TITLES[op]} N={size} ({fmt_ratio(r)})")
            if op in GROUP_OPERATIONS and op != KEY_PACKAGE:
                group.append(r)
        geo = math.exp(sum(map(math.log, group)) / len(group)) if group else None
        out.append(
            PeerSummary(
                lib.label,
                lib.suite,
                compared,
                faster,
                slower,
                failed,
                geo,
                min(group) if group else None,
            )
        )
    return out


def summary_text(t: Tables, overheads: Sequence[Overhead]) -> str:
    lines: list[str] = []
    for s in peer_summaries(t):
        line = f"- against **{s.peer}**: faster on {s.faster} of {s.compared} timed operations" + (
            f"; group operations {fmt_ratio(s.group_geomean)} faster (geometric mean), "
            f"{fmt_ratio(s.group_min or 0)} at least"
            if s.group_geomean
            else ""
        )
        if s.slower:
            line += "; **slower** on: " + ", ".join(s.slower)
        if s.failed:
            line += f"; {s.peer} fails: " + ", ".join(s.failed)
        if s.peer.startswith("rfc9420") and s.group_min is not None:
            ok = s.group_min >= RFC9420_GROUP_TARGET
            line += (
                f" (target ≥ {RFC9420_GROUP_TARGET:.0f}x on group operations: "
                f"{'met' if ok else '**missed**'})"
            )
        lines.append(line)
    for suite in (1, 2):
        for op in THROUGHPUT:
            sizes = t.sizes(op)
            c = t.ours(op, sizes[0], suite) if sizes else None
            if c is None or c.median is None:
                continue
            rate = LARGE_MESSAGE / c.median
            ok = rate >= THROUGHPUT_TARGET
            lines.append(
                f"- {TITLES[op]} on 0x{suite:04x}: {rate / 1e6:,.0f} MB/s (target ≥ "
                f"{THROUGHPUT_TARGET / 1e6:,.0f} MB/s: {'met' if ok else '**missed**'})"
            )
    if overheads:
        g = [o for o in overheads if o.kind == "group"]
        m = [o for o in overheads if o.kind == "message"]
        if g:
            worst = max(g, key=lambda o: o.ratio)
            lines.append(
                f"- binding overhead, group operations: {sum(o.met for o in g)} of {len(g)} "
                f"within {g[0].target}; worst {worst.ratio:.2f}x ({TITLES[worst.operation]}, "
                f"0x{worst.suite:04x}, N={worst.size})"
            )
        if m:
            worst = max(m, key=lambda o: o.per_call)
            lines.append(
                f"- binding overhead, message operations: {sum(o.met for o in m)} of {len(m)} "
                f"within {m[0].target}; worst {_signed_time(worst.per_call)} per call "
                f"({TITLES[worst.operation]}, 0x{worst.suite:04x})"
            )
    return "\n".join(lines)


def markdown(t: Tables, header: str, overheads: Sequence[Overhead], native_note: str) -> str:
    parts = [header, "", t.main_table()]
    parts += [
        "",
        "Peer cells: median (peer time ÷ rcs-mls time on the same suite; above 1x "
        "rcs-mls is faster). 1 MiB rows: throughput, the ratio still compares times.",
    ]
    scaling = t.scaling_table()
    if scaling:
        parts += ["", scaling]
    parts += ["", "Against the targets:", "", summary_text(t, overheads)]
    if overheads:
        parts += [
            "",
            "Binding overhead: this package from Python ÷ OpenMLS 0.9.2 called from Rust "
            "(criterion), fastest run of each (the two runs are minutes apart, and contention "
            "on a shared machine only adds time):",
            "",
            t.overhead_table(overheads),
        ]
    elif native_note:
        parts += ["", native_note]
    if t.notes:
        parts += ["", t.footnotes()]
    return "\n".join(parts) + "\n"


def rcs_section(rows: Sequence[Any], note: str) -> str:
    """The RCS layer's rows (``benches/rcs.py``): higher is better."""
    if not rows:
        return note + "\n"
    out = [
        "RCS layer (`benches/rcs.py`; higher is better; reference: the same Annex C file "
        "encryption in Python over `cryptography`, or bare MLS for messages):",
        "",
        _row(["operation", "size", "rcs-mls", "reference", "ratio"]),
        _row(["---", "---:", "---:", "---:", "---:"]),
    ]
    for r in rows:
        size = f"{r.size / (1 << 20):g} MiB" if r.size >= (1 << 20) else f"{r.size} B"
        ref = "-" if r.reference is None else f"{r.reference:,.0f} {r.unit}"
        ratio_text = "-" if r.ratio is None else f"{r.ratio:.2f}x"
        out.append(_row([r.operation, size, f"{r.rcs_mls:,.0f} {r.unit}", ref, ratio_text]))
    return "\n".join(out) + "\n"


# --- JSON and charts -------------------------------------------------------------------


def to_json(
    path: Path,
    *,
    machine: dict[str, Any],
    libraries: Sequence[Library],
    settings: dict[str, Any],
    cells: Sequence[Cell],
    overheads: Sequence[Overhead],
    native: Sequence[Any],
    rcs: Sequence[Any],
    runtime_s: float,
) -> None:
    t = Tables(cells, libraries)
    rows = []
    for c in cells:
        d = asdict(c)
        d["label"] = c.label
        if c.library != OURS and c.operation not in SIZE_OPERATIONS:
            d["ratio_vs_rcs_mls"] = ratio(t.ours(c.operation, c.size, c.suite), c)
        rows.append(d)
    data = {
        "machine": machine,
        "libraries": [asdict(lib) for lib in libraries],
        "settings": settings,
        "results": rows,
        "binding_overhead": [
            {**asdict(o), "ratio": o.ratio, "per_call": o.per_call, "met": o.met} for o in overheads
        ],
        "native": [asdict(n) for n in native],
        "rcs": [{**asdict(r), "ratio": r.ratio} for r in rcs],
        "runtime_s": runtime_s,
    }
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _pyplot() -> Any:
    mpl: Any = importlib.import_module("matplotlib")
    mpl.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def ratio_chart(path: Path, t: Tables, overheads: Sequence[Overhead], title: str) -> None:
    """Horizontal bars: for each operation, peer time ÷ rcs-mls time, per peer column;
    beside it, the binding's overhead ratio when native results exist."""
    plt = _pyplot()
    peers = [lib for lib in t.measured if lib.library != OURS]
    rows = [(op, size) for op in MAIN_ROWS if op not in SIZE_OPERATIONS for size in t.sizes(op)]
    panels = 2 if overheads else 1
    fig, axes = plt.subplots(
        1, panels, figsize=(7.5 * panels, 0.42 * len(rows) + 2.2), squeeze=False
    )
    ax = axes[0][0]
    height = 0.8 / max(1, len(peers))
    colors = ["#4C72B0", "#55A868", "#C44E52", "#8172B2", "#CCB974"]
    for i, lib in enumerate(peers):
        ys, xs, fails = [], [], []
        for j, (op, size) in enumerate(rows):
            c = t.get(op, size, lib.label)
            y = j + (i - (len(peers) - 1) / 2) * height
            r = ratio(t.ours(op, size, lib.suite), c)
            if r is not None:
                ys.append(y)
                xs.append(r)
            elif c is not None and c.status in ("fails", "n/a"):
                fails.append((y, c.status))
        ax.barh(ys, xs, height=height, color=colors[i % len(colors)], label=lib.label)
        for y, status in fails:
            ax.text(1.0, y, f" {status}", va="center", fontsize=7, color=colors[i % len(colors)])
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.axvline(RFC9420_GROUP_TARGET, color="grey", linewidth=0.8, linestyle="--")
    ax.text(RFC9420_GROUP_TARGET, -0.9, " 5x", fontsize=7, color="grey")
    ax.set_xscale("log")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([_short(op, size) for op, size in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("peer time ÷ rcs-mls time (same suite; > 1: rcs-mls faster)", fontsize=8)
    ax.set_title("rcs-mls against the peers", fontsize=10)
    if peers:
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=len(peers))
    ax.grid(axis="x", which="both", alpha=0.3)
    if overheads:
        ax2 = axes[0][1]
        labels = [f"{_short(o.operation, o.size)} 0x{o.suite:04x}" for o in overheads]
        values = [o.ratio for o in overheads]
        colors2 = ["#55A868" if o.met else "#C44E52" for o in overheads]
        ax2.barh(range(len(overheads)), values, color=colors2)
        ax2.axvline(1.0, color="black", linewidth=0.8)
        ax2.axvline(1.10, color="grey", linewidth=0.8, linestyle="--")
        ax2.set_yticks(range(len(overheads)))
        ax2.set_yticklabels(labels, fontsize=7)
        ax2.invert_yaxis()
        ax2.set_xlabel("rcs-mls from Python ÷ OpenMLS from Rust (green: target met)")
        ax2.set_title("binding overhead", fontsize=10)
        ax2.grid(axis="x", alpha=0.3)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def scaling_chart(path: Path, t: Tables, title: str) -> None:
    """Log-log: time of each scaling operation against the group size, per library."""
    plt = _pyplot()
    ops = [op for op in SCALING_ROWS if t.sizes(op)]
    if not ops:
        return
    fig, axes = plt.subplots(1, len(ops), figsize=(5 * len(ops), 4), squeeze=False)
    for ax, op in zip(axes[0], ops, strict=True):
        for lib in t.measured:
            pts = [
                (s, c.median)
                for s in t.sizes(op)
                if (c := t.get(op, s, lib.label)) is not None and c.median is not None
            ]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=lib.label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("members")
        ax.set_ylabel("seconds")
        ax.set_title(TITLES[op], fontsize=10)
        ax.grid(which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _short(op: str, size: int) -> str:
    names = {
        KEY_PACKAGE: "key package",
        CREATE_ADD: "create+add",
        JOIN: "join",
        SELF_UPDATE: "self-update",
        PROCESS_UPDATE: "process update",
        REMOVE: "remove",
        PROCESS_REMOVE: "process remove",
        ENCRYPT_SMALL: "encrypt 100 B",
        DECRYPT_SMALL: "decrypt 100 B",
        ENCRYPT_LARGE: "encrypt 1 MiB",
        DECRYPT_LARGE: "decrypt 1 MiB",
    }
    name = names.get(op, op)
    if op in (KEY_PACKAGE, ENCRYPT_SMALL, DECRYPT_SMALL, ENCRYPT_LARGE, DECRYPT_LARGE):
        return name
    return f"{name} N={size}"
