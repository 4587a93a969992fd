"""Benchmarks for rcs-mls; never run by the normal test command."""
