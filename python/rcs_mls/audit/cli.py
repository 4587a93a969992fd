"""``python -m rcs_mls audit TRACE [--json] [--html FILE]``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import IO

from rcs_mls.exceptions import InvalidArgumentError

from .analyze import AuditReport, audit
from .render import render_html, render_json, render_text
from .trace import read_trace

__all__ = ["add_arguments", "audit_path", "run"]

#: Traces at least this large (bytes of JSON lines, or files in a directory) show progress
#: on stderr.
PROGRESS_THRESHOLD = 4 * 1024 * 1024


def audit_path(
    path: str | os.PathLike[str],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> AuditReport:
    """Read and audit the trace at ``path`` (see :func:`~rcs_mls.audit.trace.read_trace`).

    Raises:
        InvalidArgumentError: ``path`` does not exist or cannot be opened.
    """
    return audit(read_trace(path, progress=progress))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``audit`` sub-command's arguments."""
    parser.add_argument("trace", help="a JSON-lines trace, or a directory of CPIM files")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
    parser.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="progress on stderr (auto: for large traces on a terminal)",
    )


def _progress_printer(stream: IO[str], path: str, mode: str) -> Callable[[int, int], None] | None:
    if mode == "never":
        return None
    if mode == "auto":
        try:
            size = os.path.getsize(path) if os.path.isfile(path) else 0
        except OSError:
            size = 0
        if size < PROGRESS_THRESHOLD or not stream.isatty():
            return None

    def show(done: int, total: int) -> None:
        percent = 100 * done // total if total else 100
        stream.write(f"\raudit: {percent:3d}% of {path}")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show


def run(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Run the audit (output to ``out`` and ``err``, stdout and stderr by default); exit
    status 0 when every conversation is E2EE without anomaly, 1 when a conversation is not
    (or has anomalies), 2 when the trace cannot be read."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    progress = _progress_printer(err, args.trace, args.progress)
    try:
        report = audit_path(args.trace, progress=progress)
    except InvalidArgumentError as exc:
        err.write(f"audit: {exc}\n")
        return 2
    for issue in report.issues:
        err.write(f"audit: skipped {issue.source}: {issue.message}\n")
    name = os.path.basename(os.path.normpath(args.trace))
    out.write(render_json(report) if args.json else render_text(report, source=name))
    if args.html:
        with open(args.html, "w", encoding="utf-8") as handle:
            handle.write(render_html(report, source=name))
        if not args.json:
            out.write(f"HTML report: {args.html}\n")
    clean = all(c.status == "E2EE" for c in report.conversations)
    return 0 if clean else 1
