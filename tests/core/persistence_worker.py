"""A worker process for the persistence tests (restart, crash, two workers).

Usage: python -m tests.core.persistence_worker <command> <directory> [args]
State lives in SQLite stores in <directory>; messages between the members go through
a durable queue (queue.sqlite) so that a killed process loses nothing in flight.
"""

from __future__ import annotations

import random
import sqlite3
import sys
from pathlib import Path

from rcs_mls import (
    ApplicationMessage,
    Ciphersuite,
    Client,
    Credential,
    DecryptionError,
    Group,
    GroupConfig,
    SignatureKeyPair,
    StagedCommit,
    WrongEpochError,
)

SUITE = Ciphersuite.MLS_128_DHKEMP256_AES128GCM_SHA256_P256
GROUP_ID = b"persistent-group"
CONFIG = GroupConfig(out_of_order_tolerance=200, maximum_forward_distance=2000)


def open_client(directory: Path, name: str) -> Client:
    path = directory / f"{name}.db"
    if path.exists():
        return Client.open(path)
    return Client.open(
        path, Credential.basic(name.encode()), SignatureKeyPair.generate(SUITE), SUITE
    )


def queue(directory: Path) -> sqlite3.Connection:
    db = sqlite3.connect(directory / "queue.sqlite", timeout=30, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS q "
        "(seq INTEGER PRIMARY KEY, kind TEXT, epoch INTEGER, data BLOB)"
    )
    return db


def setup(directory: Path) -> None:
    alice, bob = open_client(directory, "alice"), open_client(directory, "bob")
    group = alice.create_group(CONFIG, group_id=GROUP_ID)
    result = group.add_members([bob.generate_key_package()])
    group.merge_pending_commit()
    assert result.welcome is not None
    bob.join_group(result.welcome, config=CONFIG)


def deliver_to_bob(bob_group: Group, db: sqlite3.Connection) -> None:
    """Apply every queued commit bob has not applied yet, in order."""
    for kind, epoch, data in db.execute("SELECT kind, epoch, data FROM q ORDER BY seq"):
        if kind == "commit" and epoch == bob_group.epoch:
            staged = bob_group.process_message(data)
            assert isinstance(staged, StagedCommit)
            bob_group.merge_staged_commit(staged)


def loop(directory: Path, rounds: int) -> None:
    """Alice commits and sends, bob follows: every step persisted before the next."""
    db = queue(directory)
    alice, bob = open_client(directory, "alice"), open_client(directory, "bob")
    a, b = alice.load_group(GROUP_ID), bob.load_group(GROUP_ID)
    # Recover from an interruption: alice's own pending commit is merged if it was
    # queued (the relay accepted it), dropped otherwise.
    if a.has_pending_commit:
        queued = db.execute(
            "SELECT 1 FROM q WHERE kind='commit' AND epoch=?", (a.epoch,)
        ).fetchone()
        if queued:
            a.merge_pending_commit()
        else:
            a.clear_pending_commit()
    deliver_to_bob(b, db)
    for i in range(rounds):
        result = a.self_update()
        db.execute(
            "INSERT INTO q (kind, epoch, data) VALUES ('commit', ?, ?)", (a.epoch, result.commit)
        )
        a.merge_pending_commit()
        deliver_to_bob(b, db)
        wire = a.encrypt(f"message {i}".encode())
        try:
            m = b.process_message(wire)
            assert isinstance(m, ApplicationMessage)
        except (DecryptionError, WrongEpochError):
            raise
    print(a.epoch, b.epoch, flush=True)


def status(directory: Path) -> None:
    alice, bob = open_client(directory, "alice"), open_client(directory, "bob")
    a, b = alice.load_group(GROUP_ID), bob.load_group(GROUP_ID)
    print(a.epoch, b.epoch, int(a.has_pending_commit), flush=True)


def send(directory: Path, worker: str, count: int) -> None:
    """One of two workers acting as alice on the same store: encrypt `count` messages."""
    alice = open_client(directory, "alice")
    a = alice.load_group(GROUP_ID)
    out = directory / f"out-{worker}"
    with out.open("ab") as f:
        for i in range(count):
            wire = a.encrypt(f"{worker}-{i}".encode())
            f.write(len(wire).to_bytes(4, "big") + wire)


def handles(directory: Path, worker: str, count: int) -> None:
    """Alice on two handles of the same stored group: encrypt `count` messages, each on a
    handle picked at random, into the shared queue handles.sqlite."""
    rng = random.Random(worker)
    alice = open_client(directory, "alice")
    pair = (alice.load_group(GROUP_ID), alice.load_group(GROUP_ID))
    db = sqlite3.connect(directory / "handles.sqlite", timeout=60, isolation_level=None)
    for i in range(count):
        wire = pair[rng.randrange(2)].encrypt(f"{worker}-{i}".encode())
        db.execute("INSERT INTO q (body, data) VALUES (?, ?)", (f"{worker}-{i}", wire))


def main() -> None:
    command, directory = sys.argv[1], Path(sys.argv[2])
    if command == "setup":
        setup(directory)
    elif command == "loop":
        loop(directory, int(sys.argv[3]))
    elif command == "status":
        status(directory)
    elif command == "send":
        send(directory, sys.argv[3], int(sys.argv[4]))
    elif command == "handles":
        handles(directory, sys.argv[3], int(sys.argv[4]))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
