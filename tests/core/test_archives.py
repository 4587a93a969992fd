"""Archives of a client's store (Client.archive_group and friends): a group moved into a
key space of its own in the same store, beside a new group of the same id (what a
conversation's previous era needs, rcs_mls.rcs.eras)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcs_mls import (
    ApplicationMessage,
    Ciphersuite,
    Client,
    Credential,
    InvalidArgumentError,
    SignatureKeyPair,
)
from tests.conftest import make_client, make_group

SUITE = Ciphersuite.MLS_128_DHKEMP256_AES128GCM_SHA256_P256


def test_archived_group_lives_beside_a_new_group_of_its_id() -> None:
    (_alice, bob), (a, b) = make_group(SUITE, 2)
    late = a.encrypt(b"sent before the archive")
    bob.archive_group(b.group_id, b"old")
    assert a.group_id not in bob.list_groups()
    with pytest.raises(InvalidArgumentError, match="no such group"):
        bob.load_group(a.group_id)
    assert bob.list_archived_groups() == [(b"old", a.group_id)]

    # A new group under the same id, in the client's own key space.
    fresh = bob.create_group(group_id=a.group_id)
    assert fresh.epoch == 0 and bob.list_groups() == [a.group_id]
    archived = bob.load_archived_group(b"old", a.group_id)
    assert archived.epoch == a.epoch and archived.own_leaf_index == 1
    m = archived.process_message(late)
    assert isinstance(m, ApplicationMessage) and m.plaintext == b"sent before the archive"
    assert fresh.epoch == 0  # untouched by the archived group's work
    # The archived group also still sends.
    reply = archived.encrypt(b"from the archive")
    got = a.process_message(reply)
    assert isinstance(got, ApplicationMessage) and got.plaintext == b"from the archive"

    bob.delete_archived_group(b"old", a.group_id)
    assert bob.list_archived_groups() == []
    with pytest.raises(InvalidArgumentError, match="no such group in this archive"):
        bob.load_archived_group(b"old", a.group_id)
    assert bob.load_group(a.group_id).epoch == 0  # the new group stays


def test_archive_errors_change_nothing() -> None:
    alice = make_client("alice", SUITE)
    g = alice.create_group(group_id=b"g")
    with pytest.raises(InvalidArgumentError, match="no such group"):
        alice.archive_group(b"missing", b"a")
    with pytest.raises(InvalidArgumentError, match="too long"):
        alice.archive_group(b"g", b"x" * 70_000)
    assert alice.list_groups() == [b"g"] and alice.list_archived_groups() == []
    alice.archive_group(b"g", b"a")
    alice.create_group(group_id=b"g")
    with pytest.raises(InvalidArgumentError, match="holds a group of this id already"):
        alice.archive_group(b"g", b"a")
    assert alice.list_groups() == [b"g"]  # the second group stayed where it was
    assert alice.load_archived_group(b"a", b"g").epoch == g.epoch
    with pytest.raises(InvalidArgumentError, match="no such group in this archive"):
        alice.delete_archived_group(b"b", b"g")
    with pytest.raises(TypeError):
        alice.archive_group("g", b"a")  # type: ignore[arg-type]
    # Archive names are kept apart, whatever bytes they hold.
    alice.archive_group(b"g", b"a:")
    assert alice.list_archived_groups() == [(b"a", b"g"), (b"a:", b"g")]


def test_archives_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "alice.db"
    keys = SignatureKeyPair.generate(SUITE)
    alice = Client.open(path, Credential.basic(b"alice"), keys, SUITE)
    bob = make_client("bob", SUITE)
    g = alice.create_group(group_id=b"chat")
    g.add_members([bob.generate_key_package()])
    g.merge_pending_commit()
    epoch = g.epoch
    alice.archive_group(b"chat", b"era/1")
    alice.create_group(group_id=b"chat")
    del g, alice

    again = Client.open(path)
    assert again.list_archived_groups() == [(b"era/1", b"chat")]
    assert again.load_archived_group(b"era/1", b"chat").epoch == epoch
    assert again.load_group(b"chat").epoch == 0
    again.delete_archived_group(b"era/1", b"chat")
    del again
    assert Client.open(path).list_archived_groups() == []


def test_create_group_archives_the_group_it_replaces() -> None:
    """``create_group(archive_previous=)``: the old group moves into the archive in the
    creation's transaction; when the archive is taken, nothing moves and nothing is made."""
    alice = make_client("alice", SUITE)
    old = alice.create_group(group_id=b"g")
    old.self_update()
    old.merge_pending_commit()
    new = alice.create_group(group_id=b"g", archive_previous=b"era/1")
    assert new.epoch == 0 and alice.list_groups() == [b"g"]
    assert alice.list_archived_groups() == [(b"era/1", b"g")]
    assert alice.load_archived_group(b"era/1", b"g").epoch == 1
    with pytest.raises(InvalidArgumentError, match="holds a group of this id already"):
        alice.create_group(group_id=b"g", archive_previous=b"era/1")
    assert alice.load_group(b"g").epoch == 0  # the new group stayed, nothing was made
    with pytest.raises(InvalidArgumentError, match="needs the group_id"):
        alice.create_group(archive_previous=b"era/2")
    # Nothing to archive: an ordinary creation.
    alice.create_group(group_id=b"h", archive_previous=b"era/1")
    assert alice.list_groups() == [b"g", b"h"]


def test_restore_archived_group() -> None:
    """``restore_archived_group`` undoes ``archive_group``: the group comes back (with its
    state), replacing a group of its id only when asked to."""
    (_alice, bob), (a, b) = make_group(SUITE, 2)
    bob.archive_group(a.group_id, b"old")
    bob.create_group(group_id=a.group_id)
    with pytest.raises(InvalidArgumentError, match="replace=True"):
        bob.restore_archived_group(b"old", a.group_id)
    assert bob.list_archived_groups() == [(b"old", a.group_id)]  # nothing moved
    with pytest.raises(InvalidArgumentError, match="no such group in this archive"):
        bob.restore_archived_group(b"other", a.group_id, replace=True)
    back = bob.restore_archived_group(b"old", a.group_id, replace=True)
    assert back.epoch == a.epoch and back.own_leaf_index == 1
    assert bob.list_archived_groups() == [] and bob.list_groups() == [a.group_id]
    m = back.process_message(a.encrypt(b"after the restore"))
    assert isinstance(m, ApplicationMessage) and m.plaintext == b"after the restore"
    # The handle opened before the archive reloads the restored state.
    assert b.epoch == a.epoch
    reply = b.encrypt(b"old handle")
    got = a.process_message(reply)
    assert isinstance(got, ApplicationMessage) and got.plaintext == b"old handle"
