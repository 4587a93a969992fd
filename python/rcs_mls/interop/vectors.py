"""The RFC 9420 test vectors, checked through rcs_mls.

The vectors are the JSON files of ``test-vectors/`` in mlswg/mls-implementations; the
format and the checks of each file are given in that repository's ``test-vectors.md``.
They are never copied into this repository: :func:`vectors_dir` finds them.

Every check goes through the package: the public API (``Client``, ``Group``,
``SignatureKeyPair``, ...) wherever it reaches, and the ``interop_*`` functions of the
native module (``rust/src/interop.rs``) for what an application never does (importing
private keys, joining with expired key packages, decoding single structures, the
labelled crypto functions). A file, or the part of a file, that OpenMLS 0.9.2 does not
expose without patching it is reported as not applicable with the reason; nothing is
counted as passed that was not compared with the vector's values.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rcs_mls import (
    Client,
    GroupConfig,
    KeyPackage,
    KeyPackageExpiredError,
    ProposalMessage,
    RcsMlsError,
    SignatureKeyPair,
    StagedCommit,
    ValidationError,
)
from rcs_mls import _native as native

ENV_VAR = "RCS_MLS_TEST_VECTORS"

#: The cipher suites rcs_mls implements; entries for others are skipped.
SUPPORTED_SUITES = frozenset({1, 2, 3})

#: Entries per file in mlswg/mls-implementations at cfd45028 (see the folder's README).
EXPECTED_ENTRIES: dict[str, int] = {
    "crypto-basics": 7,
    "deserialization": 14,
    "key-schedule": 7,
    "message-protection": 7,
    "messages": 300,
    "passive-client-handling-commit": 91,
    "passive-client-random": 1,
    "passive-client-welcome": 56,
    "psk_secret": 77,
    "secret-tree": 21,
    "transcript-hashes": 7,
    "tree-math": 10,
    "tree-operations": 5,
    "tree-validation": 98,
    "treekem": 77,
    "welcome": 7,
}

Entry = dict[str, Any]
Status = Literal["passed", "failed", "skipped", "not_applicable"]
Scope = Literal["full", "partial", "none"]


class VectorsNotFoundError(FileNotFoundError):
    """The test-vector folder could not be found."""


class VectorFailure(Exception):
    """An entry does not verify; the message names the step and the values."""


def _looks_like_vectors(path: Path) -> bool:
    return (path / "tree-math.json").is_file()


def vectors_dir() -> Path:
    """The folder holding the test-vector JSON files.

    ``$RCS_MLS_TEST_VECTORS`` if set; otherwise the first ``shared/mls-test-vectors``
    found walking up from the current directory, then from this package's location (the
    repository is checked out beside a ``shared/`` folder).

    Raises VectorsNotFoundError.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not _looks_like_vectors(path):
            raise VectorsNotFoundError(f"${ENV_VAR}={env} does not hold the MLS test vectors")
        return path
    for start in (Path.cwd().resolve(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            candidate = folder / "shared" / "mls-test-vectors"
            if _looks_like_vectors(candidate):
                return candidate
    raise VectorsNotFoundError(
        "MLS test vectors not found: set $RCS_MLS_TEST_VECTORS to a copy of "
        "mlswg/mls-implementations test-vectors/, or place it at ../shared/mls-test-vectors "
        "beside the repository"
    )


@functools.cache
def load(name: str) -> list[Entry]:
    """The entries of ``<name>.json``. Raises VectorsNotFoundError."""
    with (vectors_dir() / f"{name}.json").open(encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, list):
        raise ValueError(f"{name}.json is not a JSON array")
    return data


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def _h(value: str) -> bytes:
    return bytes.fromhex(value)


@contextmanager
def _step(name: str) -> Iterator[None]:
    """Report a library error inside the block as a failure of step `name`."""
    try:
        yield
    except VectorFailure:
        raise
    except RcsMlsError as e:
        raise VectorFailure(f"{name}: {type(e).__name__}: {e}") from e


def _expect(name: str, got: object, want: object) -> None:
    if got != want:
        shown_got = got.hex() if isinstance(got, bytes) else repr(got)
        shown_want = want.hex() if isinstance(want, bytes) else repr(want)
        raise VectorFailure(f"{name}: got {shown_got}, expected {shown_want}")


# ---------------------------------------------------------------------------------------
# One runner per file: each checks one entry and raises VectorFailure
# ---------------------------------------------------------------------------------------


def check_passive_client(
    entry: Entry, *, public_join: bool = False, resumption_psks: int = 16
) -> None:
    """passive-client-welcome, -handling-commit and -random.

    Verify that the private keys match the key package, join from the Welcome (with
    the external PSKs and ratchet tree), then per epoch process the proposals (stored
    as pending) and the commit (then merged), comparing the epoch authenticator after
    the join and after every commit.

    The join goes through ``interop_join_group`` (leaf lifetimes not checked,
    `resumption_psks` resumption PSKs kept; OpenMLS's own runner does the same) unless
    `public_join`, which uses ``Client.join_group``. Everything after the join is the
    public ``Group`` API.
    """
    suite = int(entry["cipher_suite"])
    key_package = _h(entry["key_package"])
    with _step("key package"):
        kp = native.interop_load_key_package(key_package)
    with _step("signature_priv"):
        keys = SignatureKeyPair.from_private_bytes(suite, _h(entry["signature_priv"]))
        client = Client(kp.credential, keys, suite)
    with _step("private keys"):
        native.interop_import_key_package(
            client, key_package, _h(entry["init_priv"]), _h(entry["encryption_priv"])
        )
    for psk in entry["external_psks"]:
        with _step("external PSK"):
            client.store_psk(_h(psk["psk_id"]), _h(psk["psk"]))
    tree = _h(entry["ratchet_tree"]) if entry["ratchet_tree"] else None
    with _step("join from the Welcome"):
        if public_join:
            group = client.join_group(
                _h(entry["welcome"]),
                ratchet_tree=tree,
                config=GroupConfig(number_of_resumption_psks=resumption_psks),
                verify_leaf_lifetimes=False,
            )
        else:
            group = native.interop_join_group(
                client, _h(entry["welcome"]), ratchet_tree=tree, resumption_psks=resumption_psks
            )
    _expect(
        "initial epoch_authenticator",
        group.epoch_authenticator,
        _h(entry["initial_epoch_authenticator"]),
    )
    for n, epoch in enumerate(entry["epochs"], start=1):
        for m, proposal in enumerate(epoch["proposals"]):
            with _step(f"epoch {n} proposal {m}"):
                processed = group.process_message(_h(proposal))
            if not isinstance(processed, ProposalMessage):
                raise VectorFailure(f"epoch {n} proposal {m}: got {processed!r}")
        with _step(f"epoch {n} commit"):
            staged = group.process_message(_h(epoch["commit"]))
            if not isinstance(staged, StagedCommit):
                raise VectorFailure(f"epoch {n} commit: got {staged!r}")
            group.merge_staged_commit(staged)
        _expect(
            f"epoch {n} epoch_authenticator",
            group.epoch_authenticator,
            _h(epoch["epoch_authenticator"]),
        )


def check_welcome(entry: Entry) -> None:
    """welcome.json: find the EncryptedGroupSecrets for the key package, decrypt them
    with ``init_priv``, decrypt the GroupInfo and verify its signature with
    ``signer_pub``. (The confirmation tag: not applicable, see ``FILES``.)"""
    key_package = _h(entry["key_package"])
    with _step("process the Welcome"):
        out = native.interop_process_welcome(
            key_package, _h(entry["init_priv"]), _h(entry["welcome"]), _h(entry["signer_pub"])
        )
    with _step("key package"):
        kp = native.interop_load_key_package(key_package)
    _expect("EncryptedGroupSecrets.new_member", out["key_package_ref"], kp.hash_ref)


def check_crypto_basics(entry: Entry) -> None:
    """crypto-basics.json: RefHash, ExpandWithLabel, DeriveSecret, DeriveTreeSecret,
    SignWithLabel/VerifyWithLabel, EncryptWithLabel/DecryptWithLabel."""
    suite = int(entry["cipher_suite"])
    c = entry["ref_hash"]
    with _step("ref_hash"):
        got = native.interop_ref_hash(suite, c["label"], _h(c["value"]))
    _expect("ref_hash", got, _h(c["out"]))

    c = entry["expand_with_label"]
    with _step("expand_with_label"):
        got = native.interop_expand_with_label(
            suite, _h(c["secret"]), c["label"], _h(c["context"]), int(c["length"])
        )
    _expect("expand_with_label", got, _h(c["out"]))

    c = entry["derive_secret"]
    with _step("derive_secret"):
        got = native.interop_derive_secret(suite, _h(c["secret"]), c["label"])
    _expect("derive_secret", got, _h(c["out"]))

    c = entry["derive_tree_secret"]
    with _step("derive_tree_secret"):
        got = native.interop_derive_tree_secret(
            suite, _h(c["secret"]), c["label"], int(c["generation"]), int(c["length"])
        )
    _expect("derive_tree_secret", got, _h(c["out"]))

    c = entry["sign_with_label"]
    with _step("sign_with_label: VerifyWithLabel(signature)"):
        native.interop_verify_with_label(
            suite, _h(c["pub"]), c["label"], _h(c["content"]), _h(c["signature"])
        )
    with _step("sign_with_label: VerifyWithLabel(SignWithLabel(priv))"):
        ours = native.interop_sign_with_label(
            suite, _h(c["priv"]), _h(c["pub"]), c["label"], _h(c["content"])
        )
        native.interop_verify_with_label(suite, _h(c["pub"]), c["label"], _h(c["content"]), ours)
    if suite in (1, 3):
        # Ed25519 signatures are deterministic (RFC 8032).
        _expect("sign_with_label: Ed25519 signature", ours, _h(c["signature"]))

    c = entry["encrypt_with_label"]
    with _step("encrypt_with_label: DecryptWithLabel(kem_output, ciphertext)"):
        got = native.interop_decrypt_with_label(
            suite,
            _h(c["priv"]),
            c["label"],
            _h(c["context"]),
            _h(c["kem_output"]),
            _h(c["ciphertext"]),
        )
    _expect("encrypt_with_label: DecryptWithLabel", got, _h(c["plaintext"]))
    with _step("encrypt_with_label: DecryptWithLabel(EncryptWithLabel(pub))"):
        kem_output, ciphertext = native.interop_encrypt_with_label(
            suite, _h(c["pub"]), c["label"], _h(c["context"]), _h(c["plaintext"])
        )
        got = native.interop_decrypt_with_label(
            suite, _h(c["priv"]), c["label"], _h(c["context"]), kem_output, ciphertext
        )
    _expect("encrypt_with_label: round trip", got, _h(c["plaintext"]))


MESSAGE_FIELDS = (
    "mls_welcome",
    "mls_group_info",
    "mls_key_package",
    "ratchet_tree",
    "group_secrets",
    "add_proposal",
    "update_proposal",
    "remove_proposal",
    "pre_shared_key_proposal",
    "re_init_proposal",
    "external_init_proposal",
    "group_context_extensions_proposal",
    "commit",
    "public_message_application",
    "public_message_proposal",
    "public_message_commit",
    "private_message",
)


#: OpenMLS checks extension contexts while decoding, and every messages.json ReInit
#: proposal carries a ratchet_tree extension in its GroupContext extensions, which RFC 9420
#: §17.3 allows only in a GroupInfo. The vectors test syntax only, so this one structure
#: cannot be decoded by OpenMLS; any other failure of it still counts.
REINIT_GAP = "not allowed in the group context"


def check_messages(entry: Entry) -> None:
    """messages.json: every structure decodes and re-encodes to the same bytes.

    ``re_init_proposal`` is not applicable when OpenMLS refuses it for the reason in
    :data:`REINIT_GAP` (the conformance table says so); the other 16 must pass.
    """
    problems = [
        p
        for name in MESSAGE_FIELDS
        if (p := check_message_field(entry, name))
        and not (name == "re_init_proposal" and REINIT_GAP in p)
    ]
    if any(problems):
        raise VectorFailure("; ".join(p for p in problems if p))


def check_message_field(entry: Entry, name: str) -> str:
    """One structure of a messages.json entry; returns what is wrong, or ``""``."""
    if name not in entry:
        return f"{name}: missing from the entry"
    data = _h(entry[name])
    try:
        with _step(name):
            again = native.interop_roundtrip(name, data)
        _expect(f"{name} re-encoding", again, data)
    except VectorFailure as e:
        return str(e)
    return ""


def summarize_messages(entries: list[Entry]) -> str:
    """Per-structure counts: which of the 17 fields round-trip in how many entries."""
    failing = {
        name: sum(bool(check_message_field(e, name)) for e in entries) for name in MESSAGE_FIELDS
    }
    bad = {k: v for k, v in failing.items() if v}
    ok = len(MESSAGE_FIELDS) - len(bad)
    text = f"{ok} of {len(MESSAGE_FIELDS)} structures round-trip in all {len(entries)} entries"
    gap = {
        k: v
        for k, v in bad.items()
        if k == "re_init_proposal"
        and all(
            REINIT_GAP in check_message_field(e, k) for e in entries if check_message_field(e, k)
        )
    }
    real = {k: v for k, v in bad.items() if k not in gap}
    if gap:
        text += (
            "; re_init_proposal not applicable: OpenMLS refuses at decoding the ratchet_tree "
            "extension these ReInit proposals carry in their GroupContext extensions "
            "(RFC 9420 §17.3 allows it only in GroupInfo)"
        )
    if real:
        text += "; failing: " + ", ".join(f"{k} in {v}" for k, v in real.items())
    return text


def check_deserialization(entry: Entry) -> None:
    """deserialization.json: decode the variable-length vector header."""
    header = _h(entry["vlbytes_header"])
    with _step("vlbytes_header"):
        length, header_length, reencoded = native.interop_decode_vl_header(header)
    _expect("length", length, int(entry["length"]))
    _expect("header length", header_length, len(header))
    _expect("re-encoded header", reencoded, header)


def check_tree_validation(entry: Entry) -> None:
    """tree-validation.json: leaf signatures (with ``group_id``) and parent hashes, as
    OpenMLS checks a tree when joining. (Tree hashes, resolutions: see ``FILES``.)"""
    with _step("verify the tree"):
        native.interop_verify_ratchet_tree(
            int(entry["cipher_suite"]), _h(entry["tree"]), _h(entry["group_id"])
        )


# ---------------------------------------------------------------------------------------
# The files
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileSpec:
    """How one file is checked: its runner (None if nothing can be) and what it covers."""

    name: str
    scope: Scope
    note: str
    check: Callable[[Entry], None] | None = None
    #: Optional finer counts, appended to the note in the table.
    summary: Callable[[list[Entry]], str] | None = None


_PASSIVE = (
    "join (key package with its private keys, external PSKs, ratchet tree) and every "
    "proposal and commit through Client/Group; epoch_authenticator after the join and "
    "after every commit"
)

FILES: tuple[FileSpec, ...] = (
    FileSpec(
        "passive-client-welcome",
        "full",
        _PASSIVE + ". The key packages expired in 2024: leaf lifetimes not checked.",
        check_passive_client,
    ),
    FileSpec("passive-client-handling-commit", "full", _PASSIVE, check_passive_client),
    FileSpec("passive-client-random", "full", _PASSIVE + " (200 epochs)", check_passive_client),
    FileSpec(
        "messages",
        "full",
        "the 17 structures decode and re-encode byte for byte with OpenMLS's codecs "
        "(MlsMessageIn incl. wire format/content type, RatchetTreeIn, the proposal types; "
        "Commit inside a PublicMessage; GroupSecrets, crate-private, as opaque<V>, "
        "optional<opaque<V>>, OpenMLS PreSharedKeyId<V>)",
        check_messages,
        summarize_messages,
    ),
    FileSpec(
        "deserialization",
        "full",
        "tls_codec (OpenMLS's codec, mls feature): decoded length, header size, "
        "re-encoding; whole VLBytes decoded up to 1 MiB",
        check_deserialization,
    ),
    FileSpec(
        "crypto-basics",
        "full",
        "RefHash, SignWithLabel, VerifyWithLabel by OpenMLS (HashReference, Signable, "
        "Verifiable; Ed25519 signature bytes compared too); ExpandWithLabel, DeriveSecret, "
        "DeriveTreeSecret, EncryptWithLabel, DecryptWithLabel are pub(crate) in OpenMLS: "
        "built in rust/src/interop.rs on the provider's HKDF/HPKE (AWS-LC)",
        check_crypto_basics,
    ),
    FileSpec(
        "welcome",
        "partial",
        "checked: EncryptedGroupSecrets found by KeyPackageRef, decrypted with init_priv, "
        "GroupInfo decrypted (OpenMLS ProcessedWelcome) and its signature verified with "
        "signer_pub. Not applicable: recomputing the confirmation_tag, which OpenMLS does "
        "only when building the group from a ratchet tree, and this Welcome carries none",
        check_welcome,
    ),
    FileSpec(
        "tree-validation",
        "partial",
        "checked: every leaf signature with group_id (RatchetTreeIn::into_verified) and "
        "every parent hash, unmerged leaves, key uniqueness (PublicGroup::from_external, "
        "which reports these before the GroupInfo signature). Not applicable: "
        "tree_hashes and resolutions per node: TreeSync's tree hash and resolution "
        "are pub(crate)",
        check_tree_validation,
    ),
    FileSpec(
        "tree-math",
        "none",
        "OpenMLS's array tree math (root/left/right/parent/sibling, binary_tree module) "
        "is crate-private; LeafNodeIndex/ParentNodeIndex expose only the index",
    ),
    FileSpec(
        "secret-tree",
        "none",
        "SecretTree and the sender-data key/nonce derivation are pub(crate), and no "
        "public API builds a group from a given encryption_secret",
    ),
    FileSpec(
        "message-protection",
        "none",
        "protect/unprotect need a group built from the given encryption_secret, "
        "sender_data_secret and membership_key; OpenMLS only builds group state from its "
        "own key schedule",
    ),
    FileSpec(
        "key-schedule",
        "none",
        "KeySchedule/EpochSecrets are pub(crate); no public API takes an init_secret, "
        "commit_secret or psk_secret (covered indirectly by the passive-client files)",
    ),
    FileSpec(
        "psk_secret",
        "none",
        "PskSecret is public but PskSecret::new and load_psks are pub(crate) (covered "
        "indirectly: the passive-client entries with external/resumption PSKs)",
    ),
    FileSpec(
        "transcript-hashes",
        "none",
        "AuthenticatedContent, the transcript-hash inputs and ConfirmationTag computation "
        "are pub(crate)",
    ),
    FileSpec(
        "tree-operations",
        "none",
        "applying a proposal to a bare ratchet tree needs TreeSync diffs (pub(crate)); a "
        "PublicGroup needs a GroupInfo signed by a member, and the vector has no keys",
    ),
    FileSpec(
        "treekem",
        "none",
        "UpdatePath processing/creation (treesync::treekem) is pub(crate); processing a "
        "whole commit needs a group whose GroupInfo carries the tree hash before the "
        "commit, which the vector does not give",
    ),
)

SPECS: dict[str, FileSpec] = {spec.name: spec for spec in FILES}


# ---------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryResult:
    """The outcome of one entry; `detail` says why it failed or was not run."""

    file: str
    index: int
    status: Status
    detail: str = ""


@dataclass(frozen=True)
class FileResult:
    """Per-file counts for the conformance table."""

    file: str
    entries: int
    checked: int
    passed: int
    failed: int
    skipped_suite: int
    not_applicable: int
    scope: Scope
    note: str
    failures: tuple[str, ...] = field(default_factory=tuple)
    seconds: float = 0.0


def entry_suite(entry: Entry) -> int | None:
    suite = entry.get("cipher_suite")
    return int(suite) if suite is not None else None


def run_entry(name: str, index: int) -> EntryResult:
    """Check entry `index` of file `name`. Raises VectorsNotFoundError."""
    spec = SPECS[name]
    entry = load(name)[index]
    suite = entry_suite(entry)
    if suite is not None and suite not in SUPPORTED_SUITES:
        return EntryResult(name, index, "skipped", f"cipher suite {suite} is not supported")
    if spec.check is None:
        return EntryResult(name, index, "not_applicable", spec.note)
    try:
        spec.check(entry)
    except VectorFailure as e:
        return EntryResult(name, index, "failed", str(e))
    except (KeyError, TypeError, ValueError) as e:
        return EntryResult(name, index, "failed", f"malformed entry: {type(e).__name__}: {e}")
    return EntryResult(name, index, "passed")


def run_file(name: str) -> FileResult:
    """Check every entry of file `name`. Raises VectorsNotFoundError."""
    spec = SPECS[name]
    start = time.perf_counter()
    results = [run_entry(name, i) for i in range(len(load(name)))]
    note = spec.note
    if spec.summary is not None:
        note = f"{note}. {spec.summary(load(name))}"
    count = {s: sum(r.status == s for r in results) for s in ("passed", "failed", "skipped")}
    return FileResult(
        file=name,
        entries=len(results),
        checked=count["passed"] + count["failed"],
        passed=count["passed"],
        failed=count["failed"],
        skipped_suite=count["skipped"],
        not_applicable=sum(r.status == "not_applicable" for r in results),
        scope=spec.scope,
        note=note,
        failures=tuple(f"{name}[{r.index}]: {r.detail}" for r in results if r.status == "failed"),
        seconds=time.perf_counter() - start,
    )


def run_all() -> list[FileResult]:
    """Check every file. Raises VectorsNotFoundError."""
    return [run_file(spec.name) for spec in FILES]


def summarize_failures(results: list[FileResult]) -> list[str]:
    """The failures, one line per distinct reason, with the entries it hit."""
    lines = []
    for r in results:
        by_detail: dict[str, list[int]] = {}
        for f in r.failures:
            head, _, detail = f.partition("]: ")
            by_detail.setdefault(detail, []).append(int(head.rpartition("[")[2]))
        for detail, indices in by_detail.items():
            lines.append(f"{r.file} {_ranges(indices)} ({len(indices)} entries): {detail}")
    return lines


def _ranges(indices: list[int]) -> str:
    parts: list[str] = []
    start = prev = indices[0]
    for i in [*indices[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    return "[" + ",".join(parts) + "]"


def format_table(results: list[FileResult]) -> str:
    """The conformance table, in Markdown."""
    lines = [
        "| file | entries | checked | passed | failed | skipped (suite) | not applicable "
        "| scope | what is checked / why not |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.file} | {r.entries} | {r.checked} | {r.passed} | {r.failed} "
            f"| {r.skipped_suite} | {r.not_applicable} | {r.scope} | {r.note} |"
        )
    total = [
        sum(getattr(r, k) for r in results)
        for k in ("entries", "checked", "passed", "failed", "skipped_suite", "not_applicable")
    ]
    lines.append("| **total** | " + " | ".join(str(t) for t in total) + " | | |")
    return "\n".join(lines)


LIFETIME_GAP = (
    "Client.join_group checks the lifetimes of the leaf nodes in the ratchet tree (OpenMLS "
    "LeafNodeLifetimePolicy::Verify); leaves never updated since their key package keep "
    "its lifetime, and these expired"
)
RESUMPTION_PSK_GAP = (
    "GroupConfig keeps no resumption PSKs (OpenMLS number_of_resumption_psks = 0), so a "
    "commit with a resumption PSK proposal cannot be processed"
)


def public_api_gap(exc: VectorFailure) -> str:
    """Which known limitation of the public API a passive-client failure is, or ``""``."""
    cause = exc.__cause__
    if isinstance(cause, KeyPackageExpiredError) and str(exc).startswith("join"):
        return LIFETIME_GAP
    if isinstance(cause, ValidationError) and "PSK could not be found" in str(cause):
        return RESUMPTION_PSK_GAP
    return ""


def key_package_expired(entry: Entry) -> bool:
    """Whether the entry's key package has an expired lifetime (the public
    ``KeyPackage.from_bytes`` rejects it)."""
    try:
        KeyPackage.from_bytes(_h(entry["key_package"]))
    except KeyPackageExpiredError:
        return True
    return False
