"""Benchmarks for rcs-mls; never run by the normal test command."""

from __future__ import annotations


def warn_if_debug_build() -> None:
    """Say so when the installed rcs-mls is a debug build (``make dev``): its times are
    several times slower than a release wheel's and not representative."""
    from rcs_mls import _native

    if _native.DEBUG_BUILD:
        print(
            "WARNING: rcs-mls is a debug build (make dev): its times are not representative;"
            ' install a release wheel (pip install ".[bench]") before benchmarking',
            flush=True,
        )
