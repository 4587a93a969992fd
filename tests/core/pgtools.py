"""The PostgreSQL server of the tests: where it is, and an admin connection to it.

`.ci/run` starts a throwaway server and exports RCS_MLS_TEST_POSTGRES; elsewhere the
tests that need one skip, saying why (under CI=true they fail instead).
"""

from __future__ import annotations

import os
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import pg8000.native  # type: ignore[import-untyped]
import pytest

POSTGRES_ENV = "RCS_MLS_TEST_POSTGRES"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def postgres_url() -> str:
    """The test server's URL; skips the test without one (fails under CI)."""
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        why = (
            f"no PostgreSQL server: set {POSTGRES_ENV}=postgresql://user@host:port/db "
            "(`.ci/run` starts a throwaway one)"
        )
        if in_ci():
            pytest.fail(f"CI: {why}")
        pytest.skip(why)
    return url


def with_schema(url: str, schema: str, **params: str) -> str:
    extra = "".join(f"&{k}={v}" for k, v in params.items())
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}schema={schema}{extra}"


class Admin:
    """A plain SQL connection to the test server (pg8000), for setting up bad databases,
    holding locks, cutting connections and cleaning up."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._conn = pg8000.native.Connection(
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password) if parts.password else None,
            host=parts.hostname or "localhost",
            port=parts.port or 5432,
            database=unquote(parts.path.lstrip("/")) or None,
        )

    def run(self, sql: str, **params: object) -> list[list[Any]]:
        rows = self._conn.run(sql, **params)
        return cast("list[list[Any]]", rows if rows is not None else [])

    def drop_schemas(self, prefix: str) -> None:
        for (name,) in self.run(
            "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, :p)", p=prefix
        ):
            self.run(f'DROP SCHEMA "{name}" CASCADE')

    def close(self) -> None:
        self._conn.close()
