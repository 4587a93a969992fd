"""A conversation's own state lives in the client's store: what worked before a restart
works after it, in a new process, and a message decrypted just before a crash is not
lost (issue #11)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from rcs_mls import Client, Credential, SignatureKeyPair
from rcs_mls import _native as n
from rcs_mls.rcs import filecrypt, profile
from rcs_mls.rcs.conversation import (
    Conversation,
    FileKeyReceived,
    FileOffer,
    LeaveRequest,
    Outgoing,
    Rejected,
    TextMessage,
)
from rcs_mls.rcs.cpim import CpimMessage
from tests.rcs.test_conversation import ALICE, BOB, CAROL, Dev, Net
from tests.rcs.test_conversation import ca as ca  # the fixtures
from tests.rcs.test_conversation import net as net

ROOT = Path(__file__).resolve().parents[2]


def _stored_device(net: Net, name: str, number: str, path: Path) -> Dev:
    """A device whose client keeps its state in an SQLite file."""
    keys = SignatureKeyPair.generate(profile.SUITE)
    chain = net.ca.issue_device_certificate(number, keys.public_key)
    client = Client.open(
        path,
        Credential.x509(chain),
        keys,
        profile.SUITE,
        extension_types=list(profile.CLIENT_EXTENSION_TYPES),
        proposal_types=list(profile.CLIENT_PROPOSAL_TYPES),
    )
    dev = net.dev(name, number)
    dev.client = client
    return dev


def test_everything_survives_a_restart_in_a_new_process(net: Net, tmp_path: Path) -> None:
    """Bob's process stops after it got a file key, a commit, a leave request and the
    subject; a new process loads the conversation and reads the file (key received
    before), a late message of the previous epoch, and commits the pending leave."""
    bob = _stored_device(net, "bob", BOB, tmp_path / "bob.db")
    alice, carol = net.dev("alice", ALICE), net.dev("carol", CAROL)
    conv = alice.start([bob, carol], group_id="grp")
    bob_conv, carol_conv = bob.convs["grp"], carol.convs["grp"]
    alice.commit(conv, lambda: conv.set_subject("Plans"))
    bob.pump(), carol.pump()
    # A file: Bob gets the key now, the descriptor only after the restart.
    src = tmp_path / "note.txt"
    src.write_text("the file's text")
    key = Conversation.encrypt_file(src, tmp_path / "late.bin", "note.txt")
    key_message, descriptor = conv.send_file(
        key, file_name="note.txt", content_type="text/plain", url="https://x/late", size=1
    )
    assert isinstance(bob_conv.receive(key_message.cpim), FileKeyReceived)
    (tmp_path / "late.cpim").write_bytes(descriptor.cpim)
    # A text of this epoch, read by Bob only after a commit moved him on.
    early = conv.send_text("from the previous epoch")
    (tmp_path / "early.cpim").write_bytes(early.cpim)
    alice.commit(conv, conv.update_keys)
    bob.pump(), carol.pump()
    # Carol asks to leave.
    assert isinstance(bob_conv.receive(carol_conv.leave().cpim), LeaveRequest)
    assert bob_conv.epoch == conv.epoch and bob_conv.subject == "Plans"
    anchor = tmp_path / "anchor.der"
    anchor.write_bytes(net.ca.certificate_der)
    del bob_conv, bob.convs["grp"], bob.client
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.rcs.conversation_worker",
            str(tmp_path / "bob.db"),
            "grp",
            str(anchor),
            str(tmp_path / "late.cpim"),
            str(tmp_path / "early.cpim"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0] == {"event": "FileOffer", "file": "the file's text"}
    assert lines[1] == {"event": "TextMessage", "text": "from the previous epoch"}
    assert lines[2] == {"subject": "Plans", "stored": ["grp"]}
    assert lines[3] == {"leave_commit": [CAROL]}


def test_a_message_decrypted_just_before_a_crash_is_not_lost(net: Net) -> None:
    """The decryption of a FileInfo is journaled in its own store transaction; if the
    process dies before the conversation saved its state, loading it reads the key
    from the journal, and the file's descriptor still finds it."""
    alice, bob = net.dev("alice", ALICE), net.dev("bob", BOB)
    conv = alice.start([bob], group_id="grp")
    key_message, descriptor = conv.send_file(
        _some_key(), file_name="a.txt", content_type="text/plain", url="https://x/a", size=1
    )
    body = CpimMessage.from_bytes(key_message.cpim).body
    group = bob.convs["grp"].group
    # The decryption, as receive() does it, and then the crash: no state saved.
    context = json.dumps(
        {
            "message_id": key_message.message_id,
            "original": None,
            "generation": n.rcs_private_message_sender(group, body)[1],  # type: ignore[index]
        }
    ).encode()
    n.rcs_process_message(group, body, journal=(b"entry-0000000001", context))
    del bob.convs["grp"]
    loaded = Conversation.load(bob.client, "grp", trust_anchors=net.anchors)
    assert [type(e) for e in loaded.recovered_events] == [FileKeyReceived]
    offer = loaded.receive(descriptor.cpim)
    assert isinstance(offer, FileOffer) and offer.file_name == "a.txt"
    # Folded into the state: a second load finds nothing left to replay.
    again = Conversation.load(bob.client, "grp", trust_anchors=net.anchors)
    assert again.recovered_events == []


def test_deleting_the_group_erases_the_conversation(net: Net) -> None:
    alice, bob = net.dev("alice", ALICE), net.dev("bob", BOB)
    alice.start([bob], group_id="grp")
    assert Conversation.list_stored(bob.client) == ["grp"]
    bob.client.delete_group(b"grp")
    assert Conversation.list_stored(bob.client) == []


def _some_key() -> filecrypt.FileKey:
    _ciphertext, key = filecrypt.encrypt(b"x", "a.txt")
    return key


def test_file_keys_survive_sigkill_at_random_points(net: Net, tmp_path: Path) -> None:
    """Bob's process reads 12 files (key, then descriptor) and is killed at a random point
    of the stream, 8 times over; reloaded and handed everything again, no descriptor is
    left without its key: a key is never lost between its decryption and the save."""
    rng = random.Random(1109)
    anchor = tmp_path / "anchor.der"
    anchor.write_bytes(net.ca.certificate_der)
    offers = 0
    for round_ in range(8):
        store = tmp_path / f"bob-{round_}.db"
        bob = _stored_device(net, f"bob{round_}", BOB, store)
        alice = net.dev(f"alice{round_}", ALICE)
        gid = f"grp{round_}"
        conv = alice.start([bob], group_id=gid)
        del bob.convs[gid]
        stream: list[Outgoing] = []
        for i in range(12):
            src = _write(tmp_path / f"src{i}", f"file {i}")
            key = Conversation.encrypt_file(src, tmp_path / f"f{round_}-{i}.bin", "f")
            stream.extend(
                conv.send_file(key, file_name="f", content_type="text/plain", url="x", size=1)
            )
        names = []
        for i, outgoing in enumerate(stream):
            path = tmp_path / f"m{round_}-{i}.cpim"
            path.write_bytes(outgoing.cpim)
            names.append(str(path))
        worker = [sys.executable, "-m", "tests.rcs.conversation_worker", "--stream"]
        kill_after = rng.randrange(len(stream) - 2)
        with subprocess.Popen(
            [*worker, str(store), gid, str(anchor), *names],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        ) as child:
            assert child.stdout is not None
            for line in child.stdout:  # killed right after message `kill_after` was read
                if int(line) >= kill_after:
                    break
            time.sleep(rng.uniform(0, 0.02))  # ... or a moment later, mid-operation
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=60)
        del bob.client
        loaded = Conversation.load(Client.open(store), gid, trust_anchors=net.anchors)
        for outgoing in stream:
            event = loaded.receive(outgoing.cpim)
            assert not (isinstance(event, Rejected) and "no FileInfo" in event.reason), event
            offers += isinstance(event, FileOffer)
    assert offers > 0  # the parent read what the killed process had not


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_previous_era_survives_a_restart(net: Net, tmp_path: Path) -> None:
    """Bob (SQLite) moves to era 2 and stops; after the restart the previous era is
    still kept: a late era-1 text is read, once (its used-up key stays used up across a
    second restart)."""
    path = tmp_path / "bob.db"
    bob = _stored_device(net, "bob", BOB, path)
    alice, carol = net.dev("alice", ALICE), net.dev("carol", CAROL)
    conv = alice.start([bob, carol], group_id="grp")
    late = carol.convs["grp"].send_text("era 1, late")
    alice.commit(conv, lambda: conv.advance_era([bob.kp(), carol.kp()]))
    bob.pump(), carol.pump()
    assert bob.convs["grp"].previous_era == 1
    del bob.convs["grp"], bob.client

    client = Client.open(path)
    loaded = Conversation.load(client, "grp", trust_anchors=net.anchors)
    assert (loaded.era, loaded.previous_era) == (2, 1)
    event = loaded.receive(late.cpim)
    assert isinstance(event, TextMessage) and event.text == "era 1, late"
    del loaded, client

    client = Client.open(path)
    again = Conversation.load(client, "grp", trust_anchors=net.anchors)
    assert again.previous_era == 1
    replayed = again.receive(late.cpim)
    assert isinstance(replayed, Rejected) and "decrypt" in replayed.reason


def test_a_late_message_of_the_previous_era_decrypted_before_a_crash(net: Net) -> None:
    """The journal records the era of what it decrypted: a late era-1 text decrypted in
    the archived group just before a crash is replayed against that era at load."""
    alice, bob, carol = net.dev("alice", ALICE), net.dev("bob", BOB), net.dev("carol", CAROL)
    conv = alice.start([bob, carol], group_id="grp")
    late = carol.convs["grp"].send_text("decrypted, then the crash")
    alice.commit(conv, lambda: conv.advance_era([bob.kp(), carol.kp()]))
    bob.pump(), carol.pump()
    archived = bob.client.load_archived_group(b"rcs-era/1", b"grp")
    body = CpimMessage.from_bytes(late.cpim).body
    sender = n.rcs_private_message_sender(archived, body)
    assert sender is not None
    context = json.dumps(
        {"message_id": late.message_id, "original": None, "generation": sender[1], "era": 1}
    ).encode()
    n.rcs_process_message(archived, body, journal=(b"entry-0000000002", context))
    del bob.convs["grp"], archived
    loaded = Conversation.load(bob.client, "grp", trust_anchors=net.anchors)
    (event,) = loaded.recovered_events
    assert isinstance(event, TextMessage) and event.sender == CAROL
    assert event.text == "decrypted, then the crash"
