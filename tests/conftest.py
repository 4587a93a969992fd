"""Shared fixtures and helpers: clients, groups kept in sync, message delivery."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytest

from rcs_mls import (
    Ciphersuite,
    Client,
    Credential,
    Group,
    GroupConfig,
    SignatureKeyPair,
    StagedCommit,
)

ALL_SUITES = list(Ciphersuite)


@pytest.fixture(params=ALL_SUITES, ids=lambda s: f"0x{int(s):04x}")
def suite(request: pytest.FixtureRequest) -> Ciphersuite:
    value: Ciphersuite = request.param
    return value


def make_client(name: str | bytes, suite: Ciphersuite, **kwargs: list[int]) -> Client:
    identity = name.encode() if isinstance(name, str) else name
    return Client(Credential.basic(identity), SignatureKeyPair.generate(suite), suite, **kwargs)


def deliver(commit: bytes, groups: Iterable[Group]) -> list[StagedCommit]:
    """Process `commit` in every group and merge it; return the staged commits."""
    staged_list = []
    for g in groups:
        staged = g.process_message(commit)
        assert isinstance(staged, StagedCommit), f"expected a StagedCommit, got {staged!r}"
        g.merge_staged_commit(staged)
        staged_list.append(staged)
    return staged_list


def assert_in_sync(groups: Sequence[Group]) -> None:
    first = groups[0]
    for g in groups[1:]:
        assert g.epoch == first.epoch
        assert g.epoch_authenticator == first.epoch_authenticator


def make_group(
    suite: Ciphersuite, n: int, config: GroupConfig | None = None
) -> tuple[list[Client], list[Group]]:
    """A group of `n` members created by the first with one commit, all joined."""
    clients = [make_client(f"member-{i}", suite) for i in range(n)]
    creator = clients[0].create_group(config)
    groups = [creator]
    if n > 1:
        kps = [c.generate_key_package() for c in clients[1:]]
        result = creator.add_members(kps)
        creator.merge_pending_commit()
        assert result.welcome is not None
        tree = None if creator_uses_tree_ext(config) else creator.export_ratchet_tree()
        for c in clients[1:]:
            groups.append(c.join_group(result.welcome, ratchet_tree=tree, config=config))
    return clients, groups


def creator_uses_tree_ext(config: GroupConfig | None) -> bool:
    return config is None or config.use_ratchet_tree_extension
