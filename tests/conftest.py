"""Shared fixtures and helpers: clients, groups kept in sync, message delivery."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

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
from rcs_mls.interop.mlsrs import MlsRsBuildError, MlsRsPeer, build_peer

ALL_SUITES = list(Ciphersuite)


@pytest.fixture(params=ALL_SUITES, ids=lambda s: f"0x{int(s):04x}")
def suite(request: pytest.FixtureRequest) -> Ciphersuite:
    value: Ciphersuite = request.param
    return value


# The mls-rs interop peer (interop/mls-rs-peer), built once per run, shared by the
# interop and adversary tests.
@pytest.fixture(scope="session")
def mlsrs_binary() -> Path:
    """Build the mls-rs peer once; skip without cargo, but fail under CI."""
    start = time.monotonic()
    try:
        binary = build_peer()
    except MlsRsBuildError as e:
        if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(f"CI: the mls-rs interop peer must build: {e}")
        pytest.skip(f"mls-rs interop peer unavailable: {e}")
    print(f"\nmls-rs peer ready in {time.monotonic() - start:.1f} s: {binary}")
    return binary


@pytest.fixture
def peer(mlsrs_binary: Path) -> Iterator[MlsRsPeer]:
    with MlsRsPeer(mlsrs_binary) as p:
        yield p


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
