"""The PostgreSQL store against a real server: bad databases, locks, lost connections,
and several workers on several hosts sending into the same groups.

Needs RCS_MLS_TEST_POSTGRES (`.ci/run` starts a throwaway server); without it every
test here skips, saying why, except under CI=true, where they fail.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from rcs_mls import (
    ApplicationMessage,
    Ciphersuite,
    Client,
    Credential,
    GroupConfig,
    KeyPackage,
    SignatureKeyPair,
    StagedCommit,
    StorageError,
    ValidationError,
)
from tests.core.persistence_worker import (
    MULTI_CONFIG,
    MULTI_GROUPS,
    STORES_ENV,
    multi_queue,
    schema_prefix,
    store,
)
from tests.core.pgtools import Admin, postgres_url, with_schema

ROOT = Path(__file__).resolve().parents[2]
SUITE = Ciphersuite(2)


@pytest.fixture
def schema(pg_admin: Admin) -> Iterator[str]:
    """A fresh schema name for one test, dropped afterwards."""
    name = f"pgt_{uuid.uuid4().hex[:16]}"
    yield name
    pg_admin.drop_schemas(name)


def new_client(location: str, name: str, busy_timeout: float = 5.0) -> Client:
    return Client.open(
        location,
        Credential.basic(name.encode()),
        SignatureKeyPair.generate(SUITE),
        SUITE,
        busy_timeout=busy_timeout,
    )


def member(name: str) -> Client:
    return Client(Credential.basic(name.encode()), SignatureKeyPair.generate(SUITE), SUITE)


def kv_rows(admin: Admin, schema: str) -> list[tuple[bytes, bytes]]:
    rows = admin.run(f'SELECT key, value FROM "{schema}".kv ORDER BY key')
    return [(bytes(k), bytes(v)) for k, v in rows]


def schema_exists(admin: Admin, schema: str) -> bool:
    return bool(admin.run("SELECT 1 FROM pg_namespace WHERE nspname = :s", s=schema))


def test_store_round_trip_and_location(schema: str) -> None:
    url = with_schema(postgres_url(), schema)
    alice = new_client(url, "alice")
    assert alice.path is None
    assert alice.store_location is not None and alice.store_location.endswith(f"schema={schema}")
    group = alice.create_group(group_id=b"g")
    bob = member("bob")
    result = group.add_members([bob.generate_key_package()])
    group.merge_pending_commit()
    assert result.welcome is not None
    b = bob.join_group(result.welcome)
    again = Client.open(url)
    assert again.identity == b"alice" and again.list_groups() == [b"g"]
    m = b.process_message(again.load_group(b"g").encrypt(b"from the database"))
    assert isinstance(m, ApplicationMessage) and m.plaintext == b"from the database"


def test_passwords_never_shown_and_bad_urls() -> None:
    for url, pattern in [
        ("postgresql://postgres:hunter2@127.0.0.1:1/x?connect_timeout=2", "cannot connect"),
        ("postgresql://postgres@127.0.0.1:1/x?schema=Not-Valid", "not a valid name"),
        ("postgresql://postgres:hunter2@host:port/x", "not a valid PostgreSQL URL"),
    ]:
        with pytest.raises(StorageError, match=pattern) as info:
            new_client(url, "alice")
        assert "hunter2" not in str(info.value)


def test_missing_database_is_a_storage_error(pg_admin: Admin) -> None:
    url = postgres_url().rsplit("/", 1)[0] + "/no_such_database_here"
    with pytest.raises(StorageError, match="no_such_database_here"):
        new_client(url, "alice")


def test_missing_store_is_not_created(pg_admin: Admin, schema: str) -> None:
    with pytest.raises(StorageError, match="no such store"):
        Client.list_identities(with_schema(postgres_url(), schema))
    assert not schema_exists(pg_admin, schema)


def test_foreign_schema_is_refused_untouched(pg_admin: Admin, schema: str) -> None:
    pg_admin.run(f'CREATE SCHEMA "{schema}"')
    pg_admin.run(f'CREATE TABLE "{schema}".customers (id integer, name text)')
    pg_admin.run(f"INSERT INTO \"{schema}\".customers VALUES (1, 'x')")
    with pytest.raises(StorageError, match="another application"):
        new_client(with_schema(postgres_url(), schema), "alice")
    tables = pg_admin.run(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = :s",
        s=schema,
    )
    assert tables == [["customers"]]
    # A `meta` table of another application is foreign too.
    pg_admin.run(f'CREATE TABLE "{schema}".meta (id integer, owner text)')
    with pytest.raises(StorageError, match="another application"):
        new_client(with_schema(postgres_url(), schema), "alice")


def test_newer_schema_is_refused_untouched(pg_admin: Admin, schema: str) -> None:
    url = with_schema(postgres_url(), schema)
    new_client(url, "alice").create_group(group_id=b"g")
    pg_admin.run(f'UPDATE "{schema}".meta SET schema_version = 99')
    before = kv_rows(pg_admin, schema)
    with pytest.raises(StorageError, match="newer"):
        Client.open(url)
    assert kv_rows(pg_admin, schema) == before


def test_corrupted_record_is_a_storage_error(pg_admin: Admin, schema: str) -> None:
    url = with_schema(postgres_url(), schema)
    new_client(url, "alice").create_group(group_id=b"g")
    pg_admin.run(
        f"UPDATE \"{schema}\".kv SET value = '\\x00ff'::bytea "
        "WHERE substr(key, 1, 4) = 'mls:'::bytea"
    )
    with pytest.raises(StorageError):
        Client.open(url).load_group(b"g")


def test_locked_past_the_timeout(pg_admin: Admin, schema: str) -> None:
    url = with_schema(postgres_url(), schema)
    alice = new_client(url, "alice", busy_timeout=0.2)
    group = alice.create_group(GroupConfig())
    # Another worker's transaction holds the client's row lock.
    pg_admin.run("BEGIN")
    pg_admin.run(f'SELECT changes FROM "{schema}".meta WHERE id = 1 FOR UPDATE')
    try:
        start = time.monotonic()
        with pytest.raises(StorageError, match=r"(?i)locked"):
            group.encrypt(b"blocked")
        assert time.monotonic() - start < 5
    finally:
        pg_admin.run("ROLLBACK")
    group.encrypt(b"free again")


def test_first_opens_race_to_one_store(schema: str) -> None:
    """Workers starting at once create the store once; all see the same identity."""
    url = with_schema(postgres_url(), schema)
    keys = SignatureKeyPair.generate(SUITE)
    opened: list[Client] = []
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            opened.append(Client.open(url, Credential.basic(b"alice"), keys, SUITE))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(opened) == 4
    assert {c.signature_public_key for c in opened} == {keys.public_key}


def _terminate(admin: Admin, application_name: str) -> int:
    rows = admin.run(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :n",
        n=application_name,
    )
    return len(rows)


def test_connection_lost_between_operations(pg_admin: Admin, schema: str) -> None:
    name = f"victim_{schema}"
    url = with_schema(postgres_url(), schema, application_name=name)
    alice, bob = new_client(url, "alice"), member("bob")
    group = alice.create_group()
    result = group.add_members([bob.generate_key_package()])
    group.merge_pending_commit()
    assert result.welcome is not None
    b = bob.join_group(result.welcome)
    assert _terminate(pg_admin, name) == 1
    with pytest.raises(StorageError, match="lost"):
        group.encrypt(b"on a dead connection")
    # The next operation connects again and goes on where the database is.
    for text in (b"one", b"two"):
        m = b.process_message(group.encrypt(text))
        assert isinstance(m, ApplicationMessage) and m.plaintext == text


def test_connection_lost_while_writing_writes_nothing(pg_admin: Admin, schema: str) -> None:
    """The server dies in the middle of the write: nothing of the operation is stored,
    the error says so, and the client goes on from the stored state."""
    name = f"victim_{schema}"
    url = with_schema(postgres_url(), schema, application_name=name)
    alice, bob = new_client(url, "alice"), member("bob")
    group = alice.create_group()
    result = group.add_members([bob.generate_key_package()])
    group.merge_pending_commit()
    assert result.welcome is not None
    b = bob.join_group(result.welcome)
    assert isinstance(b.process_message(group.encrypt(b"before")), ApplicationMessage)
    # A trigger that kills this client's connection during its next write.
    pg_admin.run(
        f'CREATE FUNCTION "{schema}".cut() RETURNS trigger LANGUAGE plpgsql AS $$ '
        f"BEGIN IF current_setting('application_name') = '{name}' THEN "
        "PERFORM pg_terminate_backend(pg_backend_pid()); END IF; RETURN NULL; END $$"
    )
    pg_admin.run(
        f'CREATE TRIGGER cut AFTER INSERT OR UPDATE ON "{schema}".kv '
        f'FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".cut()'
    )
    before = kv_rows(pg_admin, schema)
    epoch = group.epoch
    with pytest.raises(StorageError, match="lost"):
        group.encrypt(b"never stored")
    assert kv_rows(pg_admin, schema) == before
    with pytest.raises(StorageError, match="lost"):
        group.self_update()
    assert kv_rows(pg_admin, schema) == before
    pg_admin.run(f'DROP TRIGGER cut ON "{schema}".kv')
    # The group was reloaded from the database: no pending commit, same epoch.
    assert not group.has_pending_commit and group.epoch == epoch
    for text in (b"after", b"and again"):
        m = b.process_message(group.encrypt(text))
        assert isinstance(m, ApplicationMessage) and m.plaintext == text
    commit = group.self_update().commit
    group.merge_pending_commit()
    staged = b.process_message(commit)
    assert isinstance(staged, StagedCommit)
    b.merge_staged_commit(staged)
    assert b.epoch_authenticator == group.epoch_authenticator


def test_key_package_used_by_one_worker_is_gone_for_the_other(schema: str) -> None:
    """Two workers of one client: a Welcome consumed by one cannot be joined by the
    other (the key package's private key is gone from the shared store)."""
    url = with_schema(postgres_url(), schema)
    worker_a = new_client(url, "bob")
    worker_b = Client.open(url)
    kp = worker_a.generate_key_package()
    alice = member("alice")
    group = alice.create_group()
    result = group.add_members([KeyPackage.from_bytes(kp.to_bytes())])
    group.merge_pending_commit()
    assert result.welcome is not None
    joined = worker_b.join_group(result.welcome)
    assert joined.epoch == group.epoch
    with pytest.raises(ValidationError, match="not for any of this client's key packages"):
        worker_a.join_group(result.welcome)
    assert worker_a.list_groups() == [group.group_id]


WORKERS = 4  # two per host
MESSAGES = 2000
COMMIT_EVERY = 40


def test_four_workers_on_two_hosts(
    tmp_path: Path, pg_admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """4 worker processes (2 hosts x 2) act for one client in the same groups: 2,000
    messages and the commits of two committers; no (leaf, generation) reused, no
    commit lost, every receiver decrypts everything."""
    monkeypatch.setenv(STORES_ENV, postgres_url())
    try:
        _four_workers(tmp_path)
    finally:
        pg_admin.drop_schemas(schema_prefix(tmp_path))


def _four_workers(tmp_path: Path) -> None:
    alice = new_client(str(store(tmp_path, "alice")), "alice")
    bob = new_client(str(store(tmp_path, "bob")), "bob")  # a receiver in PostgreSQL too
    carol = member("carol")  # and one in memory
    groups = {}
    for gid in MULTI_GROUPS:
        g = alice.create_group(MULTI_CONFIG, group_id=gid)
        result = g.add_members([bob.generate_key_package(), carol.generate_key_package()])
        g.merge_pending_commit()
        assert result.welcome is not None
        groups[gid] = g
        bob.join_group(result.welcome, config=MULTI_CONFIG)
        carol.join_group(result.welcome, config=MULTI_CONFIG)
    start_epochs = {gid: g.epoch for gid, g in groups.items()}
    multi_queue(tmp_path).close()

    per_worker = MESSAGES // WORKERS
    committers = {0: MULTI_GROUPS[0].decode(), 2: MULTI_GROUPS[1].decode()}
    procs = []
    for w in range(WORKERS):
        host = "ab"[w // 2]
        worker = f"host-{host}-w{w}"
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.core.persistence_worker",
                    "multi",
                    str(tmp_path),
                    worker,
                    str(per_worker),
                    committers.get(w, "-"),
                    str(COMMIT_EVERY),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    reported_commits = 0
    for p in procs:
        out, err = p.communicate(timeout=900)
        assert p.returncode == 0, err
        reported_commits += int(out.split()[-1])
    assert reported_commits == 2 * (per_worker // COMMIT_EVERY)

    db = multi_queue(tmp_path)
    rows = db.execute("SELECT kind, grp, epoch, data FROM q ORDER BY seq").fetchall()
    db.close()
    commits = [r for r in rows if r[0] == "commit"]
    assert len(commits) == reported_commits
    assert sum(1 for r in rows if r[0] == "message") == MESSAGES

    # The sender's state: every commit is there (no lost update of the epoch chain).
    fresh = Client.open(str(store(tmp_path, "alice")))
    for gid in MULTI_GROUPS:
        n = sum(1 for r in commits if r[1] == gid)
        assert fresh.load_group(gid).epoch == start_epochs[gid] + n

    for receiver in (bob, carol):
        rgroups = {gid: receiver.load_group(gid) for gid in MULTI_GROUPS}
        seen: set[bytes] = set()
        for kind, gid, epoch, data in rows:
            g = rgroups[gid]
            if kind == "commit":
                assert epoch == g.epoch, "a commit is missing from the chain"
                staged = g.process_message(data)
                assert isinstance(staged, StagedCommit)
                g.merge_staged_commit(staged)
            else:
                # A reused (leaf, generation) would fail here: its key is already gone.
                m = g.process_message(data)
                assert isinstance(m, ApplicationMessage)
                assert m.plaintext not in seen
                seen.add(m.plaintext)
        assert len(seen) == MESSAGES
        for gid in MULTI_GROUPS:
            assert rgroups[gid].epoch_authenticator == fresh.load_group(gid).epoch_authenticator
