"""``python -m rcs_mls.interop vectors``: check the RFC 9420 test vectors and print the
conformance table (Markdown). Exits 1 if an entry fails, 2 if the vectors are missing."""

from __future__ import annotations

import argparse
import sys


def _vectors(args: argparse.Namespace) -> int:
    from rcs_mls.interop import vectors

    try:
        where = vectors.vectors_dir()
        results = vectors.run_all()
    except vectors.VectorsNotFoundError as e:
        print(e, file=sys.stderr)
        return 2
    print(f"RFC 9420 test vectors from {where}\n")
    print(vectors.format_table(results))
    failures = vectors.summarize_failures(results)
    if failures:
        print("\nFailures (file [entries]: step: what):")
        for f in failures:
            print(f"- {f}")
    if args.timings:
        print()
        for r in results:
            print(f"{r.file}: {r.seconds:.2f} s")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rcs_mls.interop")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("vectors", help="check the RFC 9420 test vectors")
    p.add_argument("--timings", action="store_true", help="print the time per file")
    p.set_defaults(func=_vectors)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
