"""asyncio counterparts of :class:`~rcs_mls.Client`, :class:`~rcs_mls.Group` and
:class:`~rcs_mls.rcs.conversation.Conversation`.

Every operation that touches the store or does cryptography runs in a worker thread
(``asyncio.to_thread``, or the executor you pass), so an asyncio backend awaits it
while its event loop goes on serving other requests. The native calls release the
GIL, so several operations on different clients or groups really run at once; the
operations of one client are still serialised by the client (one store transaction
at a time), and those of one :class:`AsyncConversation` by the wrapper (a
conversation is not thread-safe).

::

    from rcs_mls.aio import AsyncClient

    async def handler(url: str, group_id: bytes, wire: bytes) -> bytes:
        client = await AsyncClient.open(url)  # "postgresql://…" or an SQLite path
        group = await client.load_group(group_id)
        message = await group.process_message(wire)
        ...
        return await group.encrypt(b"reply")

Results are the same objects the synchronous API returns; failures raise the same
exceptions (:mod:`rcs_mls.exceptions`). Each wrapper keeps the synchronous object
(``.client``, ``.group``, ``.conversation``) for cheap reads such as ``epoch``.

Adding an operation takes one line: ``name = offloaded(SyncClass.name)`` gives an
``async`` method with the synchronous method's parameters, result and docstring.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Executor
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from rcs_mls._native import (
    Client,
    CommitResult,
    Credential,
    Group,
    GroupConfig,
    KeyPackage,
    SignatureKeyPair,
    StagedWelcome,
)
from rcs_mls._types import Ciphersuite
from rcs_mls.rcs.conversation import Conversation, Outgoing
from rcs_mls.rcs.membership import MembershipPolicy, TrustAnchors

__all__ = ["AsyncClient", "AsyncConversation", "AsyncGroup", "offloaded"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

_Bytes = bytes | bytearray | memoryview


async def _run(
    executor: Executor | None, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs
) -> R:
    """Run ``fn`` off the event loop: in ``executor``, or with ``asyncio.to_thread``."""
    if executor is None:
        return await asyncio.to_thread(fn, *args, **kwargs)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, functools.partial(fn, *args, **kwargs))


class _Offloaded(Generic[T]):
    """A synchronous object whose methods run in worker threads."""

    _target: T
    _executor: Executor | None
    _lock: asyncio.Lock | None

    def __init__(self, target: T, executor: Executor | None, *, serialise: bool) -> None:
        self._target = target
        self._executor = executor
        self._lock = asyncio.Lock() if serialise else None

    async def call(
        self, method: Callable[Concatenate[T, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Run any method of the wrapped object off the event loop, e.g.
        ``await wrapper.call(Conversation.send_text, "hi")``."""
        if self._lock is None:
            return await _run(self._executor, method, self._target, *args, **kwargs)
        async with self._lock:
            return await _run(self._executor, method, self._target, *args, **kwargs)


def offloaded(
    method: Callable[Concatenate[T, P], R],
) -> Callable[Concatenate[_Offloaded[T], P], Coroutine[Any, Any, R]]:
    """An ``async`` method of a wrapper that runs ``method`` of the wrapped object in a
    worker thread, with ``method``'s parameters, result and docstring."""

    @functools.wraps(method)
    async def call(self: _Offloaded[T], /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self.call(method, *args, **kwargs)

    return call


class AsyncGroup(_Offloaded[Group]):
    """An MLS group whose operations are awaited (see :class:`~rcs_mls.Group`)."""

    def __init__(self, group: Group, *, executor: Executor | None = None) -> None:
        super().__init__(group, executor, serialise=False)

    @property
    def group(self) -> Group:
        """The synchronous group (for reads: ``epoch``, ``members``, ...)."""
        return self._target

    @property
    def group_id(self) -> bytes:
        return self._target.group_id

    @property
    def epoch(self) -> int:
        return self._target.epoch

    encrypt = offloaded(Group.encrypt)
    process_message = offloaded(Group.process_message)
    merge_staged_commit = offloaded(Group.merge_staged_commit)
    merge_pending_commit = offloaded(Group.merge_pending_commit)
    clear_pending_commit = offloaded(Group.clear_pending_commit)
    clear_pending_proposals = offloaded(Group.clear_pending_proposals)
    add_members = offloaded(Group.add_members)
    remove_members = offloaded(Group.remove_members)
    remove_members_by_identity = offloaded(Group.remove_members_by_identity)
    self_update = offloaded(Group.self_update)
    commit_pending_proposals = offloaded(Group.commit_pending_proposals)
    update_group_context_extensions = offloaded(Group.update_group_context_extensions)
    commit = offloaded(Group.commit)
    propose_add = offloaded(Group.propose_add)
    propose_remove = offloaded(Group.propose_remove)
    propose_self_update = offloaded(Group.propose_self_update)
    propose_external_psk = offloaded(Group.propose_external_psk)
    propose_group_context_extensions = offloaded(Group.propose_group_context_extensions)
    leave = offloaded(Group.leave)
    leave_via_self_remove = offloaded(Group.leave_via_self_remove)


class AsyncClient(_Offloaded[Client]):
    """An MLS client whose operations are awaited (see :class:`~rcs_mls.Client`)."""

    def __init__(self, client: Client, *, executor: Executor | None = None) -> None:
        super().__init__(client, executor, serialise=False)

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        credential: Credential | None = None,
        signature_keys: SignatureKeyPair | None = None,
        ciphersuite: int | None = None,
        *,
        extension_types: Sequence[int] = (),
        proposal_types: Sequence[int] = (),
        busy_timeout: float = 5.0,
        executor: Executor | None = None,
    ) -> AsyncClient:
        """:meth:`Client.open <rcs_mls.Client.open>` off the event loop: an SQLite path
        or a ``postgresql://`` URL."""
        client = await _run(
            executor,
            Client.open,
            path,
            credential,
            signature_keys,
            ciphersuite,
            extension_types=list(extension_types),
            proposal_types=list(proposal_types),
            busy_timeout=busy_timeout,
        )
        return cls(client, executor=executor)

    @staticmethod
    async def list_identities(
        path: str | os.PathLike[str], *, executor: Executor | None = None
    ) -> list[tuple[Credential, bytes, Ciphersuite]]:
        """:meth:`Client.list_identities <rcs_mls.Client.list_identities>` off the loop."""
        return await _run(executor, Client.list_identities, path)

    @property
    def client(self) -> Client:
        """The synchronous client."""
        return self._target

    @property
    def identity(self) -> bytes:
        return self._target.identity

    @property
    def store_location(self) -> str | None:
        return self._target.store_location

    def _wrap(self, group: Group) -> AsyncGroup:
        return AsyncGroup(group, executor=self._executor)

    async def create_group(
        self,
        config: GroupConfig | None = None,
        *,
        group_id: _Bytes | None = None,
        archive_previous: _Bytes | None = None,
    ) -> AsyncGroup:
        return self._wrap(
            await self.call(
                Client.create_group, config, group_id=group_id, archive_previous=archive_previous
            )
        )

    async def join_group(
        self,
        welcome: _Bytes,
        *,
        ratchet_tree: _Bytes | None = None,
        config: GroupConfig | None = None,
        verify_leaf_lifetimes: bool = True,
    ) -> AsyncGroup:
        group = await self.call(
            Client.join_group,
            welcome,
            ratchet_tree=ratchet_tree,
            config=config,
            verify_leaf_lifetimes=verify_leaf_lifetimes,
        )
        return self._wrap(group)

    async def load_group(self, group_id: _Bytes) -> AsyncGroup:
        return self._wrap(await self.call(Client.load_group, group_id))

    async def join_by_external_commit(
        self,
        group_info: _Bytes,
        *,
        ratchet_tree: _Bytes | None = None,
        config: GroupConfig | None = None,
        authenticated_data: _Bytes | None = None,
    ) -> tuple[AsyncGroup, CommitResult]:
        group, result = await self.call(
            Client.join_by_external_commit,
            group_info,
            ratchet_tree=ratchet_tree,
            config=config,
            authenticated_data=authenticated_data,
        )
        return self._wrap(group), result

    async def stage_welcome(
        self,
        welcome: _Bytes,
        *,
        ratchet_tree: _Bytes | None = None,
        config: GroupConfig | None = None,
        verify_leaf_lifetimes: bool = True,
    ) -> StagedWelcome:
        return await self.call(
            Client.stage_welcome,
            welcome,
            ratchet_tree=ratchet_tree,
            config=config,
            verify_leaf_lifetimes=verify_leaf_lifetimes,
        )

    async def load_archived_group(self, archive: _Bytes, group_id: _Bytes) -> AsyncGroup:
        return self._wrap(await self.call(Client.load_archived_group, archive, group_id))

    async def restore_archived_group(
        self, archive: _Bytes, group_id: _Bytes, *, replace: bool = False
    ) -> AsyncGroup:
        return self._wrap(
            await self.call(Client.restore_archived_group, archive, group_id, replace=replace)
        )

    list_groups = offloaded(Client.list_groups)
    archive_group = offloaded(Client.archive_group)
    list_archived_groups = offloaded(Client.list_archived_groups)
    delete_archived_group = offloaded(Client.delete_archived_group)
    delete_group = offloaded(Client.delete_group)
    generate_key_package = offloaded(Client.generate_key_package)
    generate_key_packages = offloaded(Client.generate_key_packages)
    list_key_packages = offloaded(Client.list_key_packages)
    prune_key_packages = offloaded(Client.prune_key_packages)
    top_up_key_packages = offloaded(Client.top_up_key_packages)
    store_psk = offloaded(Client.store_psk)


class AsyncConversation(_Offloaded[Conversation]):
    """An RCC.16 conversation whose operations are awaited (see
    :class:`~rcs_mls.rcs.conversation.Conversation`).

    Calls on one conversation run one at a time, in the order they were awaited (a
    conversation is not thread-safe); different conversations run concurrently.
    """

    def __init__(self, conversation: Conversation, *, executor: Executor | None = None) -> None:
        super().__init__(conversation, executor, serialise=True)

    @classmethod
    async def start(
        cls,
        client: Client | AsyncClient,
        key_packages: Sequence[KeyPackage],
        *,
        trust_anchors: TrustAnchors | MembershipPolicy,
        group_id: str | None = None,
        allow_external_joins: bool = False,
        executor: Executor | None = None,
    ) -> tuple[AsyncConversation, Outgoing]:
        """:meth:`Conversation.start <rcs_mls.rcs.conversation.Conversation.start>` off
        the event loop."""
        conversation, outgoing = await _run(
            executor,
            Conversation.start,
            _sync_client(client),
            key_packages,
            trust_anchors=trust_anchors,
            group_id=group_id,
            allow_external_joins=allow_external_joins,
        )
        return cls(conversation, executor=executor), outgoing

    @classmethod
    async def join(
        cls,
        client: Client | AsyncClient,
        welcome: bytes,
        *,
        trust_anchors: TrustAnchors | MembershipPolicy,
        allow_external_joins: bool = False,
        executor: Executor | None = None,
    ) -> AsyncConversation:
        """:meth:`Conversation.join <rcs_mls.rcs.conversation.Conversation.join>` off the
        event loop."""
        conversation = await _run(
            executor,
            Conversation.join,
            _sync_client(client),
            welcome,
            trust_anchors=trust_anchors,
            allow_external_joins=allow_external_joins,
        )
        return cls(conversation, executor=executor)

    @property
    def conversation(self) -> Conversation:
        """The synchronous conversation (for reads: ``participants``, ``epoch``, ...)."""
        return self._target

    @property
    def group_id(self) -> str:
        return self._target.group_id

    send_text = offloaded(Conversation.send_text)
    send_payload = offloaded(Conversation.send_payload)
    send_typing = offloaded(Conversation.send_typing)
    send_file = offloaded(Conversation.send_file)
    decrypt_file = offloaded(Conversation.decrypt_file)
    send_receipt = offloaded(Conversation.send_receipt)
    receive = offloaded(Conversation.receive)
    add_devices = offloaded(Conversation.add_devices)
    add_participants = offloaded(Conversation.add_participants)
    remove_participant = offloaded(Conversation.remove_participant)
    commit_leaves = offloaded(Conversation.commit_leaves)
    update_keys = offloaded(Conversation.update_keys)
    set_subject = offloaded(Conversation.set_subject)
    set_icon = offloaded(Conversation.set_icon)
    end = offloaded(Conversation.end)
    leave = offloaded(Conversation.leave)
    advance_era = offloaded(Conversation.advance_era)
    rejoin = offloaded(Conversation.rejoin)
    commit_accepted = offloaded(Conversation.commit_accepted)
    commit_rejected = offloaded(Conversation.commit_rejected)
    failure_report = offloaded(Conversation.failure_report)
    request_metadata_keys = offloaded(Conversation.request_metadata_keys)
    send_metadata_keys = offloaded(Conversation.send_metadata_keys)
    forget_previous_era = offloaded(Conversation.forget_previous_era)


def _sync_client(client: Client | AsyncClient) -> Client:
    return client.client if isinstance(client, AsyncClient) else client
