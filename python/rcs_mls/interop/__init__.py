"""Interoperability helpers for tests: peers built on other MLS stacks, test vectors.

Nothing here is needed at run time by applications; it supports ``tests/interop``.
"""
