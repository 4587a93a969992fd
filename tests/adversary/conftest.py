"""Fixtures of the adversary test suite (the harness is in harness.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rcs_mls.rcs.credentials import TestCertificateAuthority
from tests.adversary.harness import Net


@pytest.fixture(scope="module")
def ca() -> TestCertificateAuthority:
    return TestCertificateAuthority.generate(name="adversary tests")


@pytest.fixture
def net(ca: TestCertificateAuthority) -> Iterator[Net]:
    n = Net(ca)
    yield n
    n.relay.close()
