"""The RFC 9420 test vectors (mlswg/mls-implementations ``test-vectors/``) through rcs_mls.

The vectors are read from ``../shared/mls-test-vectors`` (or ``$RCS_MLS_TEST_VECTORS``)
by ``rcs_mls.interop.vectors``; what each file covers, and why some cannot be checked
through OpenMLS's public API, is in ``vectors.FILES``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rcs_mls import (
    Client,
    InvalidSignatureError,
    ParseError,
    RcsMlsError,
    SignatureKeyPair,
    ValidationError,
)
from rcs_mls import _native as native
from rcs_mls.interop import vectors

VECTORS_DIR: Path | None
try:
    VECTORS_DIR = vectors.vectors_dir()
    MISSING = ""
except vectors.VectorsNotFoundError as e:
    VECTORS_DIR = None
    MISSING = str(e)


def _entry_params() -> list[object]:
    """One test per entry of each checkable file, except messages (one per field)."""
    if VECTORS_DIR is None:
        return []
    params: list[object] = []
    for spec in vectors.FILES:
        if spec.check is None or spec.name == "messages":
            continue
        for i, entry in enumerate(vectors.load(spec.name)):
            suite = vectors.entry_suite(entry)
            if suite is not None and suite not in vectors.SUPPORTED_SUITES:
                continue
            params.append(pytest.param(spec.name, i, id=f"{spec.name}-{i}"))
    return params


def _public_join_params() -> list[object]:
    """The random scenario and the first handling-commit entry of each suite (their own
    key packages have not expired)."""
    if VECTORS_DIR is None:
        return []
    params: list[object] = []
    for name in ("passive-client-random", "passive-client-handling-commit"):
        seen: set[int] = set()
        for i, entry in enumerate(vectors.load(name)):
            suite = entry["cipher_suite"]
            if suite in vectors.SUPPORTED_SUITES and suite not in seen:
                assert not vectors.key_package_expired(entry)
                seen.add(suite)
                params.append(pytest.param(name, i, id=f"{name}-{i}"))
    return params


#: OpenMLS 0.9.2 validates extension types while decoding: a ReInit proposal whose
#: extensions (those of the new group's GroupContext) include ratchet_tree (type 2) is
#: rejected ("not allowed in the group context"). Every ReInit in messages.json has one;
#: the vectors check syntax only.
REINIT_DISCREPANCY = (
    "OpenMLS rejects, at decoding, the ratchet_tree extension that every messages.json "
    "ReInit proposal carries in its GroupContext extensions"
)


def test_vectors_found() -> None:
    if VECTORS_DIR is not None:
        return
    message = (
        f"{MISSING}. Get them from https://github.com/mlswg/mls-implementations "
        "(test-vectors/) and point $RCS_MLS_TEST_VECTORS at them, or check out "
        "../shared/mls-test-vectors beside the repository."
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.mark.parametrize(
    "name", [] if VECTORS_DIR is None else list(vectors.EXPECTED_ENTRIES), ids=str
)
def test_entry_count(name: str) -> None:
    assert len(vectors.load(name)) == vectors.EXPECTED_ENTRIES[name]


@pytest.mark.parametrize(("name", "index"), _entry_params())
def test_entry(name: str, index: int) -> None:
    result = vectors.run_entry(name, index)
    assert result.status == "passed", result.detail


@pytest.mark.parametrize(
    "field",
    [
        pytest.param(
            f,
            marks=pytest.mark.xfail(strict=True, reason=REINIT_DISCREPANCY)
            if f == "re_init_proposal"
            else (),
        )
        for f in vectors.MESSAGE_FIELDS
    ]
    if VECTORS_DIR is not None
    else [],
)
def test_messages_roundtrip(field: str) -> None:
    problems = [
        f"[{i}] {p}"
        for i, entry in enumerate(vectors.load("messages"))
        if (p := vectors.check_message_field(entry, field))
    ]
    assert not problems, f"{len(problems)} of 300 entries: {problems[:3]}"


@pytest.mark.parametrize(("name", "index"), _public_join_params())
def test_passive_client_public_join(name: str, index: int) -> None:
    """The same scenarios, joined with the public ``Client.join_group``: it checks the
    lifetimes of the leaf nodes in the tree, which expired in the vectors (all
    handling-commit entries); the 200-epoch random scenario passes."""
    entry = vectors.load(name)[index]
    try:
        vectors.check_passive_client(entry, public_join=True)
    except vectors.VectorFailure as e:
        gap = vectors.public_api_gap(e)
        if gap:
            pytest.xfail(f"{gap}: {e}")
        raise


@pytest.mark.skipif(VECTORS_DIR is None, reason="test vectors not found")
def test_resumption_psks_are_needed() -> None:
    """Without resumption PSKs kept (GroupConfig(number_of_resumption_psks=0)), exactly
    the handling-commit entries with a resumption PSK proposal fail, at their commit."""
    failed = []
    for i, entry in enumerate(vectors.load("passive-client-handling-commit")):
        if entry["cipher_suite"] not in vectors.SUPPORTED_SUITES:
            continue
        try:
            vectors.check_passive_client(entry, public_join=True, resumption_psks=0)
        except vectors.VectorFailure as e:
            assert vectors.public_api_gap(e) == vectors.RESUMPTION_PSK_GAP, e
            assert "commit" in str(e)
            failed.append(i)
    assert len(failed) == 12


def test_not_applicable_files_say_why() -> None:
    for spec in vectors.FILES:
        assert spec.note, spec.name
        assert (spec.check is None) == (spec.scope == "none"), spec.name


@pytest.mark.skipif(VECTORS_DIR is None, reason="test vectors not found")
def test_conformance_table() -> None:
    results = vectors.run_all()
    assert [r.file for r in results] == [s.name for s in vectors.FILES]
    for r in results:
        assert r.entries == r.checked + r.skipped_suite + r.not_applicable, r.file
        assert r.checked == r.passed + r.failed, r.file
    table = vectors.format_table(results)
    assert table.count("\n") == len(results) + 2
    unexpected = [
        line for line in vectors.summarize_failures(results) if "re_init_proposal" not in line
    ]
    assert not unexpected


@pytest.mark.skipif(VECTORS_DIR is None, reason="test vectors not found")
def test_tree_validation_rejects_every_bit_flip() -> None:
    """The tree check is not vacuous: every one-bit change of a valid tree is refused,
    some of them by the parent-hash check."""
    entry = vectors.load("tree-validation")[0]
    tree, group_id = bytes.fromhex(entry["tree"]), bytes.fromhex(entry["group_id"])
    native.interop_verify_ratchet_tree(entry["cipher_suite"], tree, group_id)
    reasons: set[str] = set()
    for pos in range(len(tree)):
        bad = bytearray(tree)
        bad[pos] ^= 0x01
        with pytest.raises((InvalidSignatureError, ValidationError, ParseError)) as info:
            native.interop_verify_ratchet_tree(entry["cipher_suite"], bytes(bad), group_id)
        reasons.add(str(info.value))
    assert any("parent hash" in r for r in reasons)
    with pytest.raises(InvalidSignatureError):
        native.interop_verify_ratchet_tree(entry["cipher_suite"], tree, group_id + b"x")


@pytest.mark.skipif(VECTORS_DIR is None, reason="test vectors not found")
def test_welcome_rejects_another_signer() -> None:
    entry = vectors.load("welcome")[0]
    other = SignatureKeyPair.generate(entry["cipher_suite"]).public_key
    with pytest.raises(InvalidSignatureError):
        native.interop_process_welcome(
            bytes.fromhex(entry["key_package"]),
            bytes.fromhex(entry["init_priv"]),
            bytes.fromhex(entry["welcome"]),
            other,
        )


@pytest.mark.skipif(VECTORS_DIR is None, reason="test vectors not found")
def test_import_rejects_wrong_private_keys() -> None:
    entry = vectors.load("passive-client-welcome")[0]
    other = vectors.load("passive-client-welcome")[1]
    kp = native.interop_load_key_package(bytes.fromhex(entry["key_package"]))
    suite = entry["cipher_suite"]
    client = Client(
        kp.credential,
        SignatureKeyPair.from_private_bytes(suite, bytes.fromhex(entry["signature_priv"])),
        suite,
    )
    with pytest.raises(RcsMlsError, match="init_priv"):
        native.interop_import_key_package(
            client,
            bytes.fromhex(entry["key_package"]),
            bytes.fromhex(other["init_priv"]),
            bytes.fromhex(entry["encryption_priv"]),
        )
    with pytest.raises(RcsMlsError, match="encryption_priv"):
        native.interop_import_key_package(
            client,
            bytes.fromhex(entry["key_package"]),
            bytes.fromhex(entry["init_priv"]),
            bytes.fromhex(other["encryption_priv"]),
        )
