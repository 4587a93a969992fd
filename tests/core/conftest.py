"""Fixtures of the persistence tests: stores in SQLite files or in PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.core.persistence_worker import STORES_ENV, schema_prefix
from tests.core.pgtools import Admin, postgres_url


@pytest.fixture
def pg_admin() -> Iterator[Admin]:
    """An admin connection to the test server (skips without one, fails under CI)."""
    admin = Admin(postgres_url())
    try:
        yield admin
    finally:
        admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """Run the test with its stores in SQLite files, then in PostgreSQL schemas.

    The stores of a test are named by `tests.core.persistence_worker.store`; worker
    processes inherit the choice through the environment.
    """
    if request.param == "sqlite":
        monkeypatch.delenv(STORES_ENV, raising=False)
        yield "sqlite"
        return
    url = postgres_url()
    monkeypatch.setenv(STORES_ENV, url)
    admin = Admin(url)
    try:
        yield "postgres"
    finally:
        admin.drop_schemas(schema_prefix(tmp_path))
        admin.close()
