"""Threads: the GIL is released during crypto and groups are safe to share."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from rcs_mls import ApplicationMessage, Ciphersuite, Group, GroupConfig
from tests.conftest import assert_in_sync, deliver, make_group


def _conversation(suite: Ciphersuite, rounds: int) -> bytes:
    _, (a, b, c) = make_group(suite, 3)
    for i in range(rounds):
        for sender, receivers in ((a, (b, c)), (b, (a, c))):
            wire = sender.encrypt(f"message {i}".encode())
            for r in receivers:
                m = r.process_message(wire)
                assert isinstance(m, ApplicationMessage) and m.plaintext == f"message {i}".encode()
        result = c.self_update()
        c.merge_pending_commit()
        deliver(result.commit, [a, b])
        assert_in_sync([a, b, c])
    return a.epoch_authenticator


def test_one_group_per_thread_from_four_threads(suite: Ciphersuite) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: _conversation(suite, 10), range(4)))
    assert len(set(results)) == 4


def test_one_group_shared_by_threads(suite: Ciphersuite) -> None:
    """Four threads encrypt with the same group; the receiver reads every message.

    The threads interleave, so the receiver sees generations out of order: the
    sender-ratchet window is widened to cover that.
    """
    config = GroupConfig(out_of_order_tolerance=256)
    _, (a, b) = make_group(suite, 2, config)
    wires: list[bytes] = []
    lock = threading.Lock()

    def send(n: int) -> None:
        for i in range(50):
            wire = a.encrypt(f"{n}-{i}".encode())
            with lock:
                wires.append(wire)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen = set()
    for wire in wires:
        m = b.process_message(wire)
        assert isinstance(m, ApplicationMessage)
        seen.add(m.plaintext)
    assert len(seen) == 200


def test_gil_is_released_during_crypto() -> None:
    """While one thread runs a large group operation, another thread keeps running."""
    suite = Ciphersuite(2)
    _clients, groups = make_group(suite, 2)
    creator: Group = groups[0]
    from tests.conftest import make_client

    kps = [make_client(f"x{i}", suite).generate_key_package() for i in range(150)]
    ticks = 0
    done = threading.Event()

    def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1

    t = threading.Thread(target=ticker)
    t.start()
    try:
        creator.add_members(kps)
    finally:
        done.set()
        t.join()
    assert ticks > 1000
