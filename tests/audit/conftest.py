"""Fixtures of the audit tests."""

from __future__ import annotations

import pytest

from rcs_mls.rcs.credentials import TestCertificateAuthority


@pytest.fixture(scope="module")
def ca() -> TestCertificateAuthority:
    return TestCertificateAuthority.generate(name="audit tests")
