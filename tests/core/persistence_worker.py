"""A worker process for the persistence tests (restart, crash, two workers).

Usage: python -m tests.core.persistence_worker <command> <directory> [args]
State lives in SQLite stores in <directory>, or, when the environment variable
RCS_MLS_STORES names a PostgreSQL server, in one schema per client there (see
`store`); messages between the members go through a durable queue (queue.sqlite in
<directory>) so that a killed process loses nothing in flight.
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import sys
import time
from pathlib import Path

from rcs_mls import (
    ApplicationMessage,
    Ciphersuite,
    Client,
    Credential,
    DecryptionError,
    Group,
    GroupConfig,
    GroupStateError,
    InvalidArgumentError,
    SignatureKeyPair,
    StagedCommit,
    WrongEpochError,
)

SUITE = Ciphersuite.MLS_128_DHKEMP256_AES128GCM_SHA256_P256
GROUP_ID = b"persistent-group"
CONFIG = GroupConfig(out_of_order_tolerance=200, maximum_forward_distance=2000)


# A PostgreSQL URL (without a schema): stores then live there instead of in <directory>.
STORES_ENV = "RCS_MLS_STORES"


def schema_prefix(directory: Path) -> str:
    """The PostgreSQL schema prefix of the stores of one test (its directory)."""
    return "t_" + hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:16]


def store(directory: Path, name: str) -> str | Path:
    """Where the store of client `name` lives: an SQLite file or a PostgreSQL URL."""
    url = os.environ.get(STORES_ENV)
    if not url:
        return directory / f"{name}.db"
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}schema={schema_prefix(directory)}_{name}"


def open_client(directory: Path, name: str) -> Client:
    location = store(directory, name)
    if isinstance(location, Path) and location.exists():
        return Client.open(location)
    if isinstance(location, str):
        try:
            return Client.open(location)
        except InvalidArgumentError:  # a new store: it needs an identity
            pass
    return Client.open(
        location, Credential.basic(name.encode()), SignatureKeyPair.generate(SUITE), SUITE
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


# The many-workers test: groups where old-epoch messages still decrypt (a worker's
# message can reach the queue just after another worker's commit).
MULTI_CONFIG = GroupConfig(
    max_past_epochs=16, out_of_order_tolerance=500, maximum_forward_distance=5000
)
MULTI_GROUPS = (b"multi-1", b"multi-2")


def multi_queue(directory: Path) -> sqlite3.Connection:
    db = sqlite3.connect(directory / "multi.sqlite", timeout=60, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS q (seq INTEGER PRIMARY KEY, worker TEXT, kind TEXT, "
        "grp BLOB, epoch INTEGER, data BLOB)"
    )
    return db


def multi(directory: Path, worker: str, count: int, commit_group: str, commit_every: int) -> None:
    """One of several workers acting as alice, on any host: send `count` messages into
    the groups at random; the worker named to commit in `commit_group` ("-": none)
    also commits there every `commit_every` messages. Every output goes to the queue;
    the number of commits is printed."""
    db = multi_queue(directory)
    alice = open_client(directory, "alice")
    groups = {gid: alice.load_group(gid) for gid in MULTI_GROUPS}
    rng = random.Random(worker)
    commits = 0
    for i in range(count):
        gid = rng.choice(MULTI_GROUPS)
        group = groups[gid]
        if commit_group != "-" and i % commit_every == commit_every - 1:
            g = groups[commit_group.encode()]
            result = g.self_update()
            db.execute(
                "INSERT INTO q (worker, kind, grp, epoch, data) VALUES (?, 'commit', ?, ?, ?)",
                (worker, g.group_id, g.epoch, result.commit),
            )
            g.merge_pending_commit()
            commits += 1
        while True:
            try:
                wire = group.encrypt(f"{worker}-{i}".encode())
                break
            except GroupStateError:  # another worker's commit is pending: wait for it
                time.sleep(0.002)
        db.execute(
            "INSERT INTO q (worker, kind, grp, epoch, data) VALUES (?, 'message', ?, ?, ?)",
            (worker, gid, group.epoch, wire),
        )
    print(commits, flush=True)


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
    elif command == "multi":
        multi(directory, sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6]))
    elif command == "handles":
        handles(directory, sys.argv[3], int(sys.argv[4]))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
