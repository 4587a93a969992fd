"""Persistent, crash-safe state: restart, crash, two workers, bad databases.

The scenario tests run twice (the `backend` fixture): with SQLite files and with
PostgreSQL schemas (skipped without a server, outside CI). The bad-database tests here
are SQLite's; PostgreSQL's are in test_postgres.py.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rcs_mls import (
    ApplicationMessage,
    Ciphersuite,
    Client,
    Credential,
    GroupConfig,
    GroupStateError,
    InvalidArgumentError,
    KeyPackage,
    RcsMlsError,
    SignatureKeyPair,
    StagedCommit,
    StorageError,
)
from tests.core.persistence_worker import CONFIG, GROUP_ID, store

ROOT = Path(__file__).resolve().parents[2]
SUITE = Ciphersuite(2)


def run_worker(*args: str, timeout: float = 120) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.core.persistence_worker", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def new_client(path: str | Path, name: str) -> Client:
    return Client.open(
        path, Credential.basic(name.encode()), SignatureKeyPair.generate(SUITE), SUITE
    )


def test_open_creates_and_reopens(tmp_path: Path, backend: str) -> None:
    path = store(tmp_path, "alice")
    alice = new_client(path, "alice")
    if backend == "sqlite":
        assert alice.path is not None and Path(alice.path) == path
        assert alice.store_location == str(path)
    else:
        assert alice.path is None and alice.store_location is not None
        assert alice.store_location.endswith(str(path).rpartition("?schema=")[2])
    again = Client.open(path)
    assert again.identity == b"alice"
    assert again.signature_public_key == alice.signature_public_key
    with pytest.raises(InvalidArgumentError, match="another identity"):
        Client.open(path, Credential.basic(b"mallory"), SignatureKeyPair.generate(SUITE), SUITE)
    with pytest.raises(InvalidArgumentError, match="needs credential"):
        Client.open(store(tmp_path, "new"))
    memory = Client(Credential.basic(b"m"), SignatureKeyPair.generate(SUITE), SUITE)
    assert memory.path is None and memory.store_location is None
    [(cred, public_key, suite)] = Client.list_identities(path)
    assert cred.identity == b"alice" and public_key == alice.signature_public_key
    assert suite == SUITE
    with pytest.raises(StorageError):
        Client.list_identities(store(tmp_path, "missing"))
    assert not (tmp_path / "missing.db").exists()
    with pytest.raises(StorageError):  # still not created
        Client.list_identities(store(tmp_path, "missing"))


def test_restart_continues_in_both_directions(tmp_path: Path, backend: str) -> None:
    run_worker("setup", str(tmp_path))
    # A new process (this one) opens the same files and continues the conversation.
    alice, bob = Client.open(store(tmp_path, "alice")), Client.open(store(tmp_path, "bob"))
    assert alice.list_groups() == [GROUP_ID] == bob.list_groups()
    a, b = alice.load_group(GROUP_ID), bob.load_group(GROUP_ID)
    assert a.epoch_authenticator == b.epoch_authenticator
    m = b.process_message(a.encrypt(b"after restart"))
    assert isinstance(m, ApplicationMessage) and m.plaintext == b"after restart"
    m = a.process_message(b.encrypt(b"and back"))
    assert isinstance(m, ApplicationMessage) and m.plaintext == b"and back"
    result = b.self_update()
    b.merge_pending_commit()
    staged = a.process_message(result.commit)
    assert isinstance(staged, StagedCommit)
    a.merge_staged_commit(staged)
    # And once more across a process boundary.
    out = run_worker("status", str(tmp_path)).split()
    assert out == [str(a.epoch), str(b.epoch), "0"]


def test_failed_operation_writes_nothing(tmp_path: Path, backend: str) -> None:
    run_worker("setup", str(tmp_path))
    alice, bob = Client.open(store(tmp_path, "alice")), Client.open(store(tmp_path, "bob"))
    a, b = alice.load_group(GROUP_ID), bob.load_group(GROUP_ID)
    wire = bytearray(a.encrypt(b"x"))
    wire[-3] ^= 1
    with pytest.raises(RcsMlsError):
        b.process_message(bytes(wire))
    # The untampered copy would have needed the same generation: nothing was consumed.
    wire[-3] ^= 1
    m = b.process_message(bytes(wire))
    assert isinstance(m, ApplicationMessage)
    # A failing commit leaves group and store as they were.
    before = b.epoch_authenticator
    with pytest.raises(RcsMlsError):
        b.process_message(a.self_update().commit[:-5])
    assert b.epoch_authenticator == before
    assert Client.open(store(tmp_path, "bob")).load_group(GROUP_ID).epoch_authenticator == before


def test_decrypting_is_persisted(tmp_path: Path, backend: str) -> None:
    """Decrypting advances the secret tree; the store keeps that (no replay after restart)."""
    run_worker("setup", str(tmp_path))
    alice, bob = Client.open(store(tmp_path, "alice")), Client.open(store(tmp_path, "bob"))
    wire = alice.load_group(GROUP_ID).encrypt(b"once")
    assert isinstance(bob.load_group(GROUP_ID).process_message(wire), ApplicationMessage)
    reopened = Client.open(store(tmp_path, "bob")).load_group(GROUP_ID)
    with pytest.raises(RcsMlsError):
        reopened.process_message(wire)


def test_group_listing_and_deletion(tmp_path: Path, backend: str) -> None:
    alice = new_client(store(tmp_path, "alice"), "alice")
    g1 = alice.create_group(group_id=b"one")
    alice.create_group(group_id=b"two")
    assert sorted(alice.list_groups()) == [b"one", b"two"]
    alice.delete_group(b"one")
    assert alice.list_groups() == [b"two"]
    with pytest.raises(InvalidArgumentError):
        alice.load_group(b"one")
    with pytest.raises(GroupStateError, match="deleted"):
        g1.encrypt(b"gone")
    with pytest.raises(InvalidArgumentError):
        alice.delete_group(b"one")
    # The secrets are gone from the file too.
    reopened = Client.open(store(tmp_path, "alice"))
    assert reopened.list_groups() == [b"two"]


def test_key_package_housekeeping(tmp_path: Path, backend: str) -> None:
    bob = new_client(store(tmp_path, "bob"), "bob")
    new = bob.top_up_key_packages(5)
    assert len(new) == 6 and sum(kp.last_resort for kp in new) == 1
    assert len(bob.list_key_packages()) == 6
    assert bob.top_up_key_packages(5) == []  # already full
    # One is used by a Welcome: it leaves the pool, and a top-up replaces it.
    alice = new_client(store(tmp_path, "alice"), "alice")
    group = alice.create_group()
    used = next(kp for kp in new if not kp.last_resort)
    result = group.add_members([KeyPackage.from_bytes(used.to_bytes())])
    assert result.welcome is not None
    bob.join_group(result.welcome)
    assert len(bob.list_key_packages()) == 5
    assert bob.prune_key_packages() == 1
    assert len(bob.top_up_key_packages(5)) == 1
    # Expired ones are erased.
    now = int(time.time())
    bob.generate_key_package(lifetime=(now - 100, now - 1))
    assert len(bob.list_key_packages()) == 7
    assert bob.prune_key_packages() == 1
    assert len(Client.open(store(tmp_path, "bob")).list_key_packages()) == 6


def test_two_workers_serialise_their_writes(tmp_path: Path, backend: str) -> None:
    run_worker("setup", str(tmp_path))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.core.persistence_worker", "send", str(tmp_path), w, "25"],
            cwd=ROOT,
        )
        for w in ("w1", "w2")
    ]
    for p in procs:
        assert p.wait(timeout=120) == 0
    bob = Client.open(store(tmp_path, "bob")).load_group(GROUP_ID)
    seen = set()
    for w in ("w1", "w2"):
        data = (tmp_path / f"out-{w}").read_bytes()
        while data:
            n = int.from_bytes(data[:4], "big")
            wire, data = data[4 : 4 + n], data[4 + n :]
            m = bob.process_message(wire)  # a lost update would reuse a generation: replay
            assert isinstance(m, ApplicationMessage)
            seen.add(m.plaintext)
    assert len(seen) == 50


def test_a_change_noticed_in_one_group_reloads_the_others(tmp_path: Path, backend: str) -> None:
    """Two workers (connections) of one client, two groups. Worker 2 sends in g1; worker
    1 then sends in g2 (and notices the store moved) and then in g1: its g1 must be
    reloaded too, or it would reuse worker 2's generation."""
    path = store(tmp_path, "alice")
    w1 = new_client(path, "alice")
    bob = Client(Credential.basic(b"bob"), SignatureKeyPair.generate(SUITE), SUITE)
    receivers = {}
    for gid in (b"g1", b"g2"):
        group = w1.create_group(group_id=gid)
        result = group.add_members([bob.generate_key_package()])
        group.merge_pending_commit()
        assert result.welcome is not None
        receivers[gid] = bob.join_group(result.welcome)
    g1, g2 = w1.load_group(b"g1"), w1.load_group(b"g2")
    w2_g1 = Client.open(path).load_group(b"g1")
    wires = [
        (b"g1", w2_g1.encrypt(b"worker 2 in g1")),
        (b"g2", g2.encrypt(b"worker 1 in g2")),
        (b"g1", g1.encrypt(b"worker 1 in g1")),
    ]
    for gid, wire in wires:
        m = receivers[gid].process_message(wire)
        assert isinstance(m, ApplicationMessage)


def test_crash_at_random_points(tmp_path: Path, backend: str) -> None:
    """SIGKILL a loop of commits and messages 50 times; every restart recovers."""
    run_worker("setup", str(tmp_path))
    rng = random.Random(1234)
    worker = [sys.executable, "-m", "tests.core.persistence_worker"]
    for _ in range(50):
        proc = subprocess.Popen([*worker, "loop", str(tmp_path), "1000"], cwd=ROOT)
        time.sleep(rng.uniform(0.3, 0.9))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # The stores open, and alice is at most one commit ahead of bob.
        a_epoch, b_epoch, _pending = map(int, run_worker("status", str(tmp_path)).split())
        assert b_epoch <= a_epoch <= b_epoch + 1, (a_epoch, b_epoch)
    out = run_worker("loop", str(tmp_path), "3").split()
    assert out[0] == out[1]
    alice, bob = Client.open(store(tmp_path, "alice")), Client.open(store(tmp_path, "bob"))
    a, b = alice.load_group(GROUP_ID), bob.load_group(GROUP_ID)
    assert a.epoch_authenticator == b.epoch_authenticator and a.epoch > 3
    m = a.process_message(b.encrypt(b"still talking"))
    assert isinstance(m, ApplicationMessage)


def _file_bytes(path: Path) -> bytes:
    return path.read_bytes()


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(os.urandom(4096))
    before = _file_bytes(path)
    with pytest.raises(StorageError):
        Client.open(path, Credential.basic(b"a"), SignatureKeyPair.generate(SUITE), SUITE)
    assert _file_bytes(path) == before


def test_foreign_database(tmp_path: Path) -> None:
    path = tmp_path / "foreign.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    db.execute("INSERT INTO customers VALUES (1, 'x')")
    db.commit()
    db.close()
    before = _file_bytes(path)
    with pytest.raises(StorageError, match=r"(?i)not an rcs-mls|foreign|another application"):
        Client.open(path, Credential.basic(b"a"), SignatureKeyPair.generate(SUITE), SUITE)
    assert _file_bytes(path) == before


def test_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "alice.db"
    new_client(path, "alice")
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET schema_version = 99")
    db.commit()
    db.close()
    before = _file_bytes(path)
    with pytest.raises(StorageError, match=r"(?i)newer"):
        Client.open(path)
    assert _file_bytes(path) == before


def test_locked_past_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "alice.db"
    alice = Client.open(
        path, Credential.basic(b"a"), SignatureKeyPair.generate(SUITE), SUITE, busy_timeout=0.2
    )
    group = alice.create_group(GroupConfig())
    # Another process holds the write lock (POSIX locks never conflict within one process).
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"db = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
            "db.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        start = time.monotonic()
        with pytest.raises(StorageError, match=r"(?i)locked"):
            group.encrypt(b"blocked")
        assert time.monotonic() - start < 5
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    group.encrypt(b"free again")


def test_corrupted_record_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "alice.db"
    new_client(path, "alice").create_group(group_id=b"g")
    db = sqlite3.connect(path)
    changed = db.execute(
        "UPDATE kv SET value = x'00ff' WHERE substr(key, 1, 4) = CAST('mls:' AS BLOB)"
    ).rowcount
    db.commit()
    assert changed > 0
    db.close()
    with pytest.raises(StorageError):
        Client.open(path).load_group(b"g")


def test_config_constant_is_used() -> None:
    assert CONFIG.out_of_order_tolerance == 200
