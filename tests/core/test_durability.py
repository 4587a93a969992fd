"""A backend that restarts, runs several processes and handles: one consistent group per
store (no generation used twice), owner-only files, panics that leave the client usable."""

from __future__ import annotations

import os
import random
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rcs_mls import (
    ApplicationMessage,
    Ciphersuite,
    Client,
    Credential,
    Group,
    GroupConfig,
    GroupStateError,
    LibraryError,
    RcsMlsError,
    SignatureKeyPair,
    _native,
)
from rcs_mls.rcs import filecrypt
from tests.core.persistence_worker import CONFIG, GROUP_ID

ROOT = Path(__file__).resolve().parents[2]
WORKER = (sys.executable, "-m", "tests.core.persistence_worker")
SUITE = Ciphersuite(2)


def new_client(path: Path | None, name: str) -> Client:
    keys = SignatureKeyPair.generate(SUITE)
    if path is None:
        return Client(Credential.basic(name.encode()), keys, SUITE)
    return Client.open(path, Credential.basic(name.encode()), keys, SUITE)


def pair(alice: Client, bob: Client, bob_config: GroupConfig = CONFIG) -> tuple[Group, Group]:
    group = alice.create_group(CONFIG, group_id=GROUP_ID)
    result = group.add_members([bob.generate_key_package()])
    group.merge_pending_commit()
    assert result.welcome is not None
    return group, bob.join_group(result.welcome, config=bob_config)


def sender(receiver: Group, wire: bytes) -> tuple[int, int, int]:
    found = _native.rcs_private_message_sender(receiver, wire)
    assert found is not None
    return found


# ---------------------------------------------------------------------------------------
# Handles
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("persistent", [True, False], ids=["sqlite", "memory"])
def test_stale_handle_never_reuses_nor_writes_back(tmp_path: Path, persistent: bool) -> None:
    alice = new_client(tmp_path / "alice.db" if persistent else None, "alice")
    bob = new_client(None, "bob")
    _, b = pair(alice, bob)
    h1, h2 = alice.load_group(GROUP_ID), alice.load_group(GROUP_ID)
    first = [h1.encrypt(f"h1-{i}".encode()) for i in range(3)]
    late = h2.encrypt(b"h2")  # h2 loaded before h1 moved the ratchet
    generations = [sender(b, w)[1] for w in [*first, late]]
    assert generations == [0, 1, 2, 3]
    for wire, text in [*zip(first, [b"h1-0", b"h1-1", b"h1-2"], strict=True), (late, b"h2")]:
        m = b.process_message(wire)
        assert isinstance(m, ApplicationMessage) and m.plaintext == text
    # Back on h1 (now behind h2): no reuse, and h2's state was not overwritten.
    assert sender(b, h1.encrypt(b"again"))[1] == 4
    if persistent:
        again = Client.open(tmp_path / "alice.db").load_group(GROUP_ID)
        assert _native.rcs_next_generation(again) == 5
    # Commits through one handle move the others too.
    h2.self_update()
    h2.merge_pending_commit()
    assert h1.epoch == h2.epoch == 2  # properties reload too
    assert _native.rcs_next_generation(h1) == 0
    # A deleted group: every handle refuses.
    alice.delete_group(GROUP_ID)
    for h in (h1, h2):
        with pytest.raises(GroupStateError):
            h.encrypt(b"gone")


def test_two_handles_and_two_processes_never_reuse_a_generation(tmp_path: Path) -> None:
    """1,000 messages from alice: two worker processes and this one, each on two handles
    of the same stored group; bob decrypts every one, and no (leaf, generation) repeats."""
    alice, bob = new_client(tmp_path / "alice.db", "alice"), new_client(tmp_path / "bob.db", "bob")
    # The queue's order is not quite the encryption order (a process may wait a while for
    # the queue's lock after encrypting): bob keeps secrets for any order.
    pair(bob=bob, alice=alice, bob_config=GroupConfig(out_of_order_tolerance=1000))
    queue = sqlite3.connect(tmp_path / "handles.sqlite", timeout=60, isolation_level=None)
    queue.execute("PRAGMA journal_mode=WAL")
    queue.execute("CREATE TABLE q (seq INTEGER PRIMARY KEY, body TEXT, data BLOB)")
    per_party = [333, 333, 334]
    procs = [
        subprocess.Popen(
            [*WORKER, "handles", str(tmp_path), worker, str(count)],
            cwd=ROOT,
        )
        for worker, count in zip(("w1", "w2"), per_party, strict=False)
    ]
    rng = random.Random(11)
    handles = (alice.load_group(GROUP_ID), alice.load_group(GROUP_ID))
    for i in range(per_party[2]):
        wire = handles[rng.randrange(2)].encrypt(f"main-{i}".encode())
        queue.execute("INSERT INTO q (body, data) VALUES (?, ?)", (f"main-{i}", wire))
    for p in procs:
        assert p.wait(timeout=300) == 0
    b = bob.load_group(GROUP_ID)
    used: set[tuple[int, int, int]] = set()
    received = 0
    for body, wire in queue.execute("SELECT body, data FROM q ORDER BY seq"):
        key = sender(b, wire)
        assert key not in used, f"(leaf, generation, epoch) {key} used twice"
        used.add(key)
        m = b.process_message(wire)
        assert isinstance(m, ApplicationMessage) and m.plaintext == body.encode()
        received += 1
    assert received == 1000 == len(used)


# ---------------------------------------------------------------------------------------
# File modes
# ---------------------------------------------------------------------------------------


@pytest.fixture(params=[0o022, 0o000], ids=["umask022", "umask000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def store_files(path: Path) -> list[Path]:
    return [path, Path(f"{path}-wal"), Path(f"{path}-shm")]


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_store_files_are_owner_only(tmp_path: Path, umask: int) -> None:
    # A new store: the database, its WAL (which holds the identity record with the
    # signature private key) and its shared-memory file.
    path = tmp_path / "new.db"
    alice = new_client(path, "alice")
    alice.generate_key_package()
    files = store_files(path)
    assert all(f.exists() for f in files)
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    # An existing empty file.
    empty = tmp_path / "empty.db"
    empty.touch()
    empty.chmod(0o644)
    bob = new_client(empty, "bob")
    bob.generate_key_package()
    assert {f.name: mode(f) for f in store_files(empty)} == {
        f.name: 0o600 for f in store_files(empty)
    }
    # An existing store whose files were readable by all (an older version, a copy):
    # restricted when opened, before anything is read.
    other = tmp_path / "other.db"
    other_client = new_client(other, "carol")
    other_client.generate_key_package()
    for f in store_files(other):
        f.chmod(0o644)
    again = Client.open(other)
    assert {f.name: mode(f) for f in store_files(other)} == {
        f.name: 0o600 for f in store_files(other)
    }
    assert again.identity == b"carol"


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_decrypted_file_is_owner_only(tmp_path: Path, umask: int) -> None:
    src, enc, out = tmp_path / "plain", tmp_path / "enc", tmp_path / "out"
    src.write_bytes(b"secret photo" * 1000)
    key = filecrypt.encrypt_file(src, enc, "photo.jpg")
    assert mode(enc) == 0o600
    assert filecrypt.decrypt_file(enc, out, "photo.jpg", key) == 12000
    # The file written (the temporary file, renamed) is owner-only from the start.
    assert mode(out) == 0o600 and out.read_bytes() == src.read_bytes()


# ---------------------------------------------------------------------------------------
# Panics
# ---------------------------------------------------------------------------------------


# Another process looks at the store: two SQLite libraries in one process (Python's and
# the bundled one) would break each other's POSIX locks on the same file.
PROBE = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
db.execute("BEGIN IMMEDIATE")  # fails at once if the write lock were still held
row = db.execute("SELECT 1 FROM kv WHERE key = ?", (b"app:panic-probe",)).fetchone()
db.execute("ROLLBACK")
print("written" if row else "absent")
"""


def probe(path: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_a_panic_is_a_library_error_and_the_client_survives(tmp_path: Path) -> None:
    path = tmp_path / "alice.db"
    alice, bob = new_client(path, "alice"), new_client(None, "bob")
    a, b = pair(alice, bob)
    generation = _native.rcs_next_generation(a)
    for _ in range(2):  # twice: nothing stays poisoned
        with pytest.raises(LibraryError, match="panic") as caught:
            _native._panic_inside_transaction_for_tests(alice)
        assert isinstance(caught.value, Exception) and isinstance(caught.value, RcsMlsError)
        with pytest.raises(LibraryError, match="panic"):
            _native._panic_inside_transaction_for_tests(alice, a)
    # Rolled back: the file's write lock was released, the record written before the
    # panic is not in the store, and the message encrypted before it did not move the
    # ratchet.
    assert probe(path) == "absent"
    assert _native.rcs_next_generation(a) == generation
    # The client and the group keep working.
    m = b.process_message(a.encrypt(b"still here"))
    assert isinstance(m, ApplicationMessage) and m.plaintext == b"still here"
    assert len(alice.generate_key_packages(2)) == 2
    a.self_update()
    a.merge_pending_commit()
    assert Client.open(path).load_group(GROUP_ID).epoch == a.epoch
