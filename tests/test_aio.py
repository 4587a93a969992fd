"""rcs_mls.aio: the asyncio facade runs the blocking work off the event loop."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rcs_mls import (
    ApplicationMessage,
    Ciphersuite,
    Client,
    Credential,
    Group,
    GroupStateError,
    SignatureKeyPair,
    StagedCommit,
    StorageError,
)
from rcs_mls.aio import AsyncClient, AsyncConversation, AsyncGroup
from rcs_mls.rcs import profile
from rcs_mls.rcs.conversation import Conversation, TextMessage, client_for_device
from rcs_mls.rcs.credentials import TestCertificateAuthority
from rcs_mls.rcs.membership import INSECURE_SKIP_CHAIN_VALIDATION_FOR_TESTS
from tests.core.pgtools import Admin, postgres_url, with_schema

SUITE = Ciphersuite(2)


def identity(name: str) -> tuple[Credential, SignatureKeyPair]:
    return Credential.basic(name.encode()), SignatureKeyPair.generate(SUITE)


async def pair(store: str) -> tuple[AsyncGroup, AsyncGroup]:
    alice = await AsyncClient.open(store, *identity("alice"), SUITE)
    bob = AsyncClient(Client(*identity("bob"), SUITE))
    group = await alice.create_group()
    result = await group.add_members([await bob.generate_key_package()])
    await group.merge_pending_commit()
    assert result.welcome is not None
    return group, await bob.join_group(result.welcome)


def test_loop_keeps_serving_while_100_messages_are_processed(tmp_path: Path) -> None:
    """While each of 100 messages is encrypted, stored and decrypted in worker threads,
    another task on the loop keeps running: it ticks during every one of them."""

    async def main() -> None:
        a, b = await pair(str(tmp_path / "alice.db"))
        ticks = 0
        stop = False

        async def ticker() -> None:
            nonlocal ticks
            while not stop:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        during: list[int] = []
        for i in range(100):
            before = ticks
            message = await b.process_message(await a.encrypt(f"message {i}".encode()))
            during.append(ticks - before)
            assert isinstance(message, ApplicationMessage)
            assert message.plaintext == f"message {i}".encode()
        stop = True
        await task
        # A facade that ran the work on the loop would leave the ticker no turn.
        assert all(n > 0 for n in during), during

    asyncio.run(main())


def test_async_client_round_trip_and_errors(tmp_path: Path) -> None:
    async def main() -> None:
        path = str(tmp_path / "alice.db")
        a, b = await pair(path)
        commit = await a.self_update()
        await a.merge_pending_commit()
        staged = await b.process_message(commit.commit)
        assert isinstance(staged, StagedCommit)
        await b.merge_staged_commit(staged)
        assert a.epoch == b.epoch and a.group.epoch_authenticator == b.group.epoch_authenticator
        # Reopened through the facade, with its own executor.
        with ThreadPoolExecutor(max_workers=2) as pool:
            again = await AsyncClient.open(path, executor=pool)
            assert again.identity == b"alice" and again.store_location == path
            assert await again.list_groups() == [a.group_id]
            loaded = await again.load_group(a.group_id)
            m = await b.process_message(await loaded.encrypt(b"reloaded"))
            assert isinstance(m, ApplicationMessage) and m.plaintext == b"reloaded"
            [(cred, _, suite)] = await AsyncClient.list_identities(path, executor=pool)
            assert cred.identity == b"alice" and suite == SUITE
        # Failures are the same exceptions.
        with pytest.raises(GroupStateError):
            await a.merge_pending_commit()
        (tmp_path / "junk.db").write_bytes(b"not a database at all, not even close....")
        with pytest.raises(StorageError):
            await AsyncClient.open(str(tmp_path / "junk.db"), *identity("x"), SUITE)

    asyncio.run(main())


def test_generic_call_reaches_any_method(tmp_path: Path) -> None:
    async def main() -> None:
        a, _ = await pair(str(tmp_path / "alice.db"))
        members = await a.call(lambda g: g.members())
        assert len(members) == 2

    asyncio.run(main())


def test_async_conversation() -> None:
    ca = TestCertificateAuthority.generate(name="aio tests")

    def device(number: str) -> Client:
        keys = SignatureKeyPair.generate(profile.SUITE)
        chain = ca.issue_device_certificate(number, keys.public_key)
        return client_for_device(Credential.x509(chain), keys)

    anchors = INSECURE_SKIP_CHAIN_VALIDATION_FOR_TESTS

    async def main() -> None:
        alice, bob = AsyncClient(device("+15550100001")), device("+15550100002")
        conv, commit = await AsyncConversation.start(
            alice, [bob.generate_key_package()], trust_anchors=anchors
        )
        assert commit.kind == "commit"
        [welcome] = [o for o in await conv.commit_accepted() if o.kind == "welcome"]
        bob_conv = await AsyncConversation.join(bob, welcome.cpim, trust_anchors=anchors)
        assert bob_conv.group_id == conv.group_id
        # Calls on one conversation run one at a time, in order.
        sent = await asyncio.gather(*(conv.send_text(f"hi {i}") for i in range(10)))
        texts = []
        for outgoing in sent:
            event = await bob_conv.receive(outgoing.cpim)
            assert isinstance(event, TextMessage)
            texts.append(event.text)
        assert texts == [f"hi {i}" for i in range(10)]
        assert conv.conversation.epoch == bob_conv.conversation.epoch

    asyncio.run(main())


def test_loop_is_free_while_an_operation_waits_for_a_lock() -> None:
    """With PostgreSQL: an operation blocked on another worker's lock does not block the
    loop; a task on the loop releases the lock and the operation then completes."""
    url = postgres_url()
    schema = f"aio_{uuid.uuid4().hex[:16]}"
    admin = Admin(url)

    async def main() -> None:
        a, b = await pair(with_schema(url, schema))
        admin.run("BEGIN")
        admin.run(f'SELECT changes FROM "{schema}".meta WHERE id = 1 FOR UPDATE')
        blocked = asyncio.create_task(a.encrypt(b"waited for the lock"))
        await asyncio.sleep(0.3)  # the loop runs while the encrypt waits in its thread
        assert not blocked.done()
        admin.run("ROLLBACK")
        m = await b.process_message(await blocked)
        assert isinstance(m, ApplicationMessage) and m.plaintext == b"waited for the lock"

    try:
        asyncio.run(main())
    finally:
        admin.drop_schemas(schema)
        admin.close()


@pytest.mark.parametrize(
    ("sync", "wrapper"),
    [(Conversation, AsyncConversation), (Group, AsyncGroup), (Client, AsyncClient)],
)
def test_every_operation_has_an_async_counterpart(sync: type, wrapper: type) -> None:
    """Each public method of the synchronous class is a coroutine function of the
    wrapper: a new method needs one line, ``name = offloaded(SyncClass.name)``."""
    missing = []
    for name, attr in vars(sync).items():
        if name.startswith("_") or isinstance(attr, property | staticmethod | classmethod):
            continue
        if not callable(attr) or not inspect.isroutine(attr):
            continue
        if name in _SYNC_ONLY.get(sync.__name__, ()):
            continue
        if not inspect.iscoroutinefunction(getattr(wrapper, name, None)):
            missing.append(name)
    assert not missing, f"add to {wrapper.__name__}: " + ", ".join(
        f"{n} = offloaded({sync.__name__}.{n})" for n in missing
    )


# Reads of in-memory state that never touch the store: the wrapper keeps them on
# `.group` / `.client` / `.conversation`.
_SYNC_ONLY: dict[str, tuple[str, ...]] = {
    "Group": ("members", "member", "export_secret", "export_group_info", "export_ratchet_tree"),
    "Conversation": ("group_info",),
}
