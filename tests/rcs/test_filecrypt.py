"""Tests of rcs_mls.rcs.filecrypt: file, icon and subject encryption (GSMA RCC.16 Annex C).

The reference construction below is written independently with pyca/cryptography
(HKDF-SHA256, AES-256-CTR, HMAC-SHA256) and the framing computed here, and our output must
match it byte for byte.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given
from hypothesis import strategies as st

from rcs_mls import _native
from rcs_mls.exceptions import FileIntegrityError, InvalidArgumentError
from rcs_mls.rcs import filecrypt
from rcs_mls.rcs.filecrypt import (
    GROUP_ICON_INFO,
    GROUP_SUBJECT_INFO,
    PI_SALT,
    FileKey,
    decrypt,
    decrypt_file,
    encrypt,
    encrypt_file,
    padme,
)

# The fractional part of π in hex, as RCC.16 Annex C gives it.
SALT = bytes.fromhex("3243f6a8885a308d313198a2e03707344a4093822299f31d0082efa98ec4e6c8")
KEY = bytes(range(32))
IV = bytes(range(0xA0, 0xAC))
NAME = "holiday photo.jpg"

# Around the Padmé steps: 8/9 (first rounding), 128/129/144, 1024/1025/1088, 65536/65537.
SIZES = [0, 1, 2, 3, 7, 8, 9, 10, 16, 17, 18, 100, 104, 128, 129, 143, 144, 145, 1000, 1023]
SIZES += [1024, 1025, 1087, 1088, 1089, 4095, 4096, 65535, 65536, 65537, 1_000_003]


def reference_padme(n: int) -> int:
    if n < 2:
        return n
    e = n.bit_length() - 1
    s = e.bit_length()
    bits = e - s
    if bits <= 0:
        return n
    return -(-n // (1 << bits)) * (1 << bits)


def reference_seal(key: bytes, iv: bytes, name: str, plaintext: bytes) -> tuple[bytes, bytes]:
    """Encrypts an already framed plaintext (any framing) and tags it."""
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=SALT, info=name.encode()).derive(key)
    k_enc, k_hmac = okm[:32], okm[32:]
    encryptor = Cipher(algorithms.AES(k_enc), modes.CTR(iv + bytes(4))).encryptor()
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    mac = hmac.HMAC(k_hmac, hashes.SHA256())
    mac.update(iv + ciphertext)
    return ciphertext, mac.finalize()


def frame(message: bytes, padding: bytes, message_length: int, padding_length: int) -> bytes:
    return message + padding + struct.pack(">II", message_length, padding_length)


def reference_encrypt(key: bytes, iv: bytes, name: str, message: bytes) -> tuple[bytes, bytes]:
    p = reference_padme(len(message)) - len(message)
    return reference_seal(key, iv, name, frame(message, bytes(p), len(message), p))


def message_of(size: int) -> bytes:
    return bytes((i * 31 + 7) % 256 for i in range(size))


def listing(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


# --- constants and Padmé -------------------------------------------------------------------


def test_constants() -> None:
    assert PI_SALT == SALT
    assert GROUP_ICON_INFO == "group_icon"
    assert GROUP_SUBJECT_INFO == "group_subject"
    assert filecrypt.MAX_MESSAGE_LENGTH == 2**31 - 1


@pytest.mark.parametrize(
    ("length", "padded"),
    [
        (0, 0),
        (1, 1),
        (2, 2),
        (3, 3),
        (8, 8),
        (9, 10),
        (17, 18),
        (100, 104),
        (129, 144),
        (1000, 1024),
        (1025, 1088),
        (2**20 + 1, 2**20 + 2**15),
        (2**31 - 1, 2**31),
    ],
)
def test_padme_known_values(length: int, padded: int) -> None:
    assert padme(length) == padded


@given(st.integers(min_value=0, max_value=2**48))
def test_padme_properties(length: int) -> None:
    padded = padme(length)
    assert padded == reference_padme(length)
    assert padded >= length
    if length >= 2:
        e = length.bit_length() - 1
        step = 1 << max(e - e.bit_length(), 0)
        assert padded % step == 0
        assert padded - length < step
        # Padmé's overhead bound (PETS 2019): at most 12 %.
        assert (padded - length) * 100 <= 12 * length


@pytest.mark.parametrize("length", [-1, 2**64, 2**64 - 1])
def test_padme_out_of_range(length: int) -> None:
    with pytest.raises(InvalidArgumentError):
        padme(length)


# --- in memory -----------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_round_trip(size: int) -> None:
    message = message_of(size)
    ciphertext, file_key = encrypt(message, NAME)
    assert len(ciphertext) == reference_padme(size) + 8
    assert file_key.message_length == size
    assert (len(file_key.key), len(file_key.iv), len(file_key.tag)) == (32, 12, 32)
    assert decrypt(ciphertext, NAME, file_key) == message
    assert decrypt(ciphertext, NAME, file_key, length_hint=size) == message
    # The independent construction, with the key and IV that were drawn.
    assert (ciphertext, file_key.tag) == reference_encrypt(file_key.key, file_key.iv, NAME, message)


@pytest.mark.parametrize("size", [0, 1, 9, 1025])
def test_matches_reference_with_fixed_key(size: int) -> None:
    message = message_of(size)
    expected_ct, expected_tag = reference_encrypt(KEY, IV, NAME, message)
    ciphertext, key, iv, tag = _native.file_encrypt(message, NAME, key=KEY, iv=IV)
    assert (ciphertext, key, iv, tag) == (expected_ct, KEY, IV, expected_tag)
    assert _native.file_decrypt(expected_ct, NAME, KEY, IV, expected_tag) == message


def test_known_answer() -> None:
    # Computed once with pyca/cryptography; the same vector is in the Rust unit tests.
    ciphertext, _, _, tag = _native.file_encrypt(b"hello world", "test.txt", key=KEY, iv=IV)
    assert ciphertext.hex() == "8209bccc96870e18b0625aeec4eecdb1a218b4d3"
    assert tag.hex() == "ce2e4573d373f570ad4aa0ce9e87a6a17cb94891ad03ec43dcbf58ca33b3e414"


@pytest.mark.parametrize("name", [GROUP_ICON_INFO, GROUP_SUBJECT_INFO, "", "фото 📷.png"])
def test_info_is_the_utf8_name(name: str) -> None:
    message = b"icon or subject bytes"
    ciphertext, file_key = encrypt(message, name)
    expected = reference_encrypt(file_key.key, file_key.iv, name, message)
    assert (ciphertext, file_key.tag) == expected
    assert decrypt(ciphertext, name, file_key) == message


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_bytes_like_inputs(kind: type[bytes] | type[bytearray] | type[memoryview]) -> None:
    message = message_of(1000)
    ciphertext, file_key = encrypt(kind(message), NAME)
    assert decrypt(kind(ciphertext), NAME, file_key) == message
    ct, _, _, tag = _native.file_encrypt(kind(message), NAME, key=kind(KEY), iv=kind(IV))
    assert _native.file_decrypt(ct, NAME, kind(KEY), kind(IV), kind(tag)) == message


def test_non_contiguous_memoryview() -> None:
    message = message_of(200)
    view = memoryview(message)[::2]
    ciphertext, file_key = encrypt(view, NAME)
    assert file_key.message_length == 100
    assert decrypt(ciphertext, NAME, file_key) == message[::2]


def test_str_is_not_bytes_like() -> None:
    with pytest.raises(TypeError):
        encrypt("text", NAME)  # type: ignore[arg-type]


def test_fresh_key_and_iv_each_time() -> None:
    _, first = encrypt(b"same", NAME)
    _, second = encrypt(b"same", NAME)
    assert first.key != second.key
    assert first.iv != second.iv


def test_file_key_repr_hides_the_key() -> None:
    file_key = FileKey(KEY, IV, bytes(32), 5)
    assert KEY.hex() not in repr(file_key)
    assert str(KEY) not in repr(file_key)


# --- tampering, in memory ------------------------------------------------------------------


@pytest.fixture(scope="module")
def sealed() -> tuple[bytes, bytes, FileKey]:
    message = message_of(37)  # padded to 38: one byte of padding
    ciphertext, file_key = encrypt(message, NAME)
    return message, ciphertext, file_key


def test_every_ciphertext_byte_is_authenticated(sealed: tuple[bytes, bytes, FileKey]) -> None:
    _, ciphertext, file_key = sealed
    for i in range(len(ciphertext)):
        tampered = bytearray(ciphertext)
        tampered[i] ^= 0x01
        with pytest.raises(FileIntegrityError):
            decrypt(tampered, NAME, file_key)


@pytest.mark.parametrize("field", ["key", "iv", "tag"])
def test_every_key_iv_tag_byte_matters(sealed: tuple[bytes, bytes, FileKey], field: str) -> None:
    _, ciphertext, file_key = sealed
    value: bytes = getattr(file_key, field)
    for i in range(len(value)):
        tampered = bytearray(value)
        tampered[i] ^= 0x80
        bad = FileKey(**{**vars(file_key), field: bytes(tampered)})
        with pytest.raises(FileIntegrityError):
            decrypt(ciphertext, NAME, bad)


def test_wrong_name(sealed: tuple[bytes, bytes, FileKey]) -> None:
    _, ciphertext, file_key = sealed
    for name in ["holiday photo.JPG", "holiday photo.jpg ", "", GROUP_ICON_INFO]:
        with pytest.raises(FileIntegrityError):
            decrypt(ciphertext, name, file_key)


def test_truncated_or_extended(sealed: tuple[bytes, bytes, FileKey]) -> None:
    _, ciphertext, file_key = sealed
    for bad in [ciphertext[:-1], ciphertext[1:], ciphertext[:8], b"", ciphertext + b"\x00"]:
        with pytest.raises(FileIntegrityError):
            decrypt(bad, NAME, file_key)


def test_short_tag(sealed: tuple[bytes, bytes, FileKey]) -> None:
    _, ciphertext, file_key = sealed
    for tag in [file_key.tag[:16], file_key.tag[:-1], b"", file_key.tag + b"\x00"]:
        with pytest.raises(FileIntegrityError):
            decrypt(ciphertext, NAME, FileKey(file_key.key, file_key.iv, tag))


def test_length_hint(sealed: tuple[bytes, bytes, FileKey]) -> None:
    message, ciphertext, file_key = sealed
    no_hint = FileKey(file_key.key, file_key.iv, file_key.tag)
    assert decrypt(ciphertext, NAME, no_hint) == message
    assert decrypt(ciphertext, NAME, no_hint, length_hint=len(message)) == message
    for hint in [0, len(message) - 1, len(message) + 1, 38, 2**31, 2**40, 2**70]:
        with pytest.raises(FileIntegrityError):
            decrypt(ciphertext, NAME, no_hint, length_hint=hint)
        # The message length of a FileKey is the hint when none is passed.
        with pytest.raises(FileIntegrityError):
            decrypt(ciphertext, NAME, FileKey(file_key.key, file_key.iv, file_key.tag, hint))
    # An explicit hint overrides the FileKey's.
    wrong = FileKey(file_key.key, file_key.iv, file_key.tag, 3)
    assert decrypt(ciphertext, NAME, wrong, length_hint=len(message)) == message
    with pytest.raises(InvalidArgumentError):
        decrypt(ciphertext, NAME, no_hint, length_hint=-1)


def authentic_but_malformed() -> list[tuple[str, bytes]]:
    nine = b"\x05" * 9  # padme(9) = 10: one byte of padding
    return [
        ("non-zero padding", frame(nine, b"\x01", 9, 1)),
        ("non-zero padding, high bit", frame(message_of(1000), b"\x00" * 23 + b"\x80", 1000, 24)),
        ("too little padding", frame(nine, b"", 9, 0)),
        ("too much padding", frame(nine, b"\x00" * 3, 9, 3)),
        ("padding of a larger step", frame(nine, b"\x00" * 11, 9, 11)),
        ("messageLength too large", frame(nine, b"\x00", 10, 1)),
        ("lengths disagree with the size", frame(nine, b"\x00", 8, 0)),
        ("paddingLength disagrees with the size", frame(nine, b"\x00", 9, 2)),
        ("messageLength >= 2**31", frame(b"", b"", 2**31, 0)),
        ("messageLength = 2**32 - 1", frame(b"", b"", 2**32 - 1, 1)),
        ("shorter than the trailer", b"\x00" * 7),
        ("empty", b""),
    ]


def test_authentic_well_formed_by_hand_is_accepted() -> None:
    ciphertext, tag = reference_seal(KEY, IV, NAME, frame(b"\x05" * 9, b"\x00", 9, 1))
    assert decrypt(ciphertext, NAME, FileKey(KEY, IV, tag)) == b"\x05" * 9


@pytest.mark.parametrize(("case", "plaintext"), authentic_but_malformed())
def test_authentic_but_malformed_is_rejected(case: str, plaintext: bytes) -> None:
    ciphertext, tag = reference_seal(KEY, IV, NAME, plaintext)
    with pytest.raises(FileIntegrityError):
        decrypt(ciphertext, NAME, FileKey(KEY, IV, tag))


@pytest.mark.parametrize(("case", "plaintext"), authentic_but_malformed())
def test_authentic_but_malformed_file_is_rejected(
    tmp_path: Path, case: str, plaintext: bytes
) -> None:
    ciphertext, tag = reference_seal(KEY, IV, NAME, plaintext)
    (tmp_path / "enc").write_bytes(ciphertext)
    with pytest.raises(FileIntegrityError):
        decrypt_file(tmp_path / "enc", tmp_path / "out", NAME, FileKey(KEY, IV, tag))
    assert listing(tmp_path) == ["enc"]


# --- argument checks -----------------------------------------------------------------------


@pytest.mark.parametrize(("key_len", "iv_len"), [(31, 12), (33, 12), (0, 12), (32, 11), (32, 16)])
def test_bad_key_or_iv_length(tmp_path: Path, key_len: int, iv_len: int) -> None:
    key, iv = bytes(key_len), bytes(iv_len)
    with pytest.raises(InvalidArgumentError):
        FileKey(key, iv, bytes(32))
    with pytest.raises(InvalidArgumentError):
        _native.file_encrypt(b"x", NAME, key=key, iv=iv)
    with pytest.raises(InvalidArgumentError):
        _native.file_decrypt(bytes(16), NAME, key, iv, bytes(32))
    (tmp_path / "src").write_bytes(b"x")
    with pytest.raises(InvalidArgumentError):
        _native.file_encrypt_path(tmp_path / "src", tmp_path / "dst", NAME, key=key, iv=iv)
    with pytest.raises(InvalidArgumentError):
        _native.file_decrypt_path(tmp_path / "src", tmp_path / "dst", NAME, key, iv, bytes(32))
    assert listing(tmp_path) == ["src"]


def test_negative_message_length() -> None:
    with pytest.raises(InvalidArgumentError):
        FileKey(KEY, IV, bytes(32), -1)


# --- path to path --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 9, 65535, 65536, 65537, 3 * 2**20 + 12345])
def test_file_round_trip(tmp_path: Path, size: int) -> None:
    message = os.urandom(size)
    src, enc, out = tmp_path / "plain.bin", tmp_path / "enc.bin", tmp_path / "out.bin"
    src.write_bytes(message)
    file_key = encrypt_file(src, enc, "plain.bin")
    assert file_key.message_length == size
    ciphertext = enc.read_bytes()
    assert (ciphertext, file_key.tag) == reference_encrypt(
        file_key.key, file_key.iv, "plain.bin", message
    )
    # In memory and streaming agree in both directions.
    assert decrypt(ciphertext, "plain.bin", file_key) == message
    assert decrypt_file(str(enc), str(out), "plain.bin", file_key, length_hint=size) == size
    assert out.read_bytes() == message
    assert listing(tmp_path) == ["enc.bin", "out.bin", "plain.bin"]


@pytest.mark.parametrize("size", [0, 9, 65536 + 9])
def test_file_matches_reference_with_fixed_key(tmp_path: Path, size: int) -> None:
    message = message_of(size)
    (tmp_path / "src").write_bytes(message)
    key, iv, tag, length = _native.file_encrypt_path(
        tmp_path / "src", tmp_path / "enc", NAME, key=KEY, iv=IV
    )
    expected_ct, expected_tag = reference_encrypt(KEY, IV, NAME, message)
    assert (key, iv, tag, length) == (KEY, IV, expected_tag, size)
    assert (tmp_path / "enc").read_bytes() == expected_ct
    # A file made by the reference decrypts.
    (tmp_path / "ref").write_bytes(expected_ct)
    n = _native.file_decrypt_path(tmp_path / "ref", tmp_path / "out", NAME, KEY, IV, expected_tag)
    assert n == size
    assert (tmp_path / "out").read_bytes() == message


def test_file_output_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "src").write_bytes(b"new contents")
    (tmp_path / "enc").write_bytes(b"old ciphertext")
    (tmp_path / "out").write_bytes(b"old plaintext that is longer")
    file_key = encrypt_file(tmp_path / "src", tmp_path / "enc", NAME)
    assert decrypt_file(tmp_path / "enc", tmp_path / "out", NAME, file_key) == 12
    assert (tmp_path / "out").read_bytes() == b"new contents"


@pytest.fixture
def encrypted_file(tmp_path: Path) -> tuple[Path, bytes, FileKey]:
    message = message_of(3 * 65536 + 100)
    (tmp_path / "src").write_bytes(message)
    file_key = encrypt_file(tmp_path / "src", tmp_path / "enc", NAME)
    return tmp_path, (tmp_path / "enc").read_bytes(), file_key


def assert_rejected(
    tmp_path: Path, file_key: FileKey, name: str = NAME, length_hint: int | None = None
) -> None:
    with pytest.raises(FileIntegrityError):
        decrypt_file(tmp_path / "enc", tmp_path / "out", name, file_key, length_hint)
    assert listing(tmp_path) == ["enc", "src"]


def test_file_tampered_bytes(encrypted_file: tuple[Path, bytes, FileKey]) -> None:
    tmp_path, ciphertext, file_key = encrypted_file
    n = len(ciphertext)
    for i in [0, 1, 65535, 65536, 2 * 65536 + 7, n - 9, n - 8, n - 5, n - 1]:
        tampered = bytearray(ciphertext)
        tampered[i] ^= 0x40
        (tmp_path / "enc").write_bytes(tampered)
        assert_rejected(tmp_path, file_key)


def test_file_truncated_or_extended(encrypted_file: tuple[Path, bytes, FileKey]) -> None:
    tmp_path, ciphertext, file_key = encrypted_file
    for bad in [ciphertext[:-1], ciphertext[:-8], ciphertext[:65536], b"", ciphertext + b"\x00"]:
        (tmp_path / "enc").write_bytes(bad)
        assert_rejected(tmp_path, file_key)


def test_file_wrong_key_iv_tag_name_hint(encrypted_file: tuple[Path, bytes, FileKey]) -> None:
    tmp_path, _, file_key = encrypted_file
    key, iv, tag = bytearray(file_key.key), bytearray(file_key.iv), bytearray(file_key.tag)
    key[31] ^= 1
    iv[0] ^= 1
    tag[16] ^= 1
    assert_rejected(tmp_path, FileKey(bytes(key), file_key.iv, file_key.tag))
    assert_rejected(tmp_path, FileKey(file_key.key, bytes(iv), file_key.tag))
    assert_rejected(tmp_path, FileKey(file_key.key, file_key.iv, bytes(tag)))
    assert_rejected(tmp_path, FileKey(file_key.key, file_key.iv, file_key.tag[:31]))
    assert_rejected(tmp_path, file_key, name="other.jpg")
    assert file_key.message_length is not None
    assert_rejected(tmp_path, file_key, length_hint=file_key.message_length + 1)
    bad_hint = FileKey(file_key.key, file_key.iv, file_key.tag, file_key.message_length - 1)
    assert_rejected(tmp_path, bad_hint)


def test_file_failure_leaves_existing_output(encrypted_file: tuple[Path, bytes, FileKey]) -> None:
    tmp_path, _, file_key = encrypted_file
    (tmp_path / "out").write_bytes(b"keep me")
    with pytest.raises(FileIntegrityError):
        decrypt_file(tmp_path / "enc", tmp_path / "out", "wrong", file_key)
    assert (tmp_path / "out").read_bytes() == b"keep me"
    assert listing(tmp_path) == ["enc", "out", "src"]


def test_missing_source(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(FileNotFoundError) as info:
        encrypt_file(missing, tmp_path / "enc", NAME)
    assert info.value.filename == str(missing)
    with pytest.raises(OSError):
        decrypt_file(missing, tmp_path / "out", NAME, FileKey(KEY, IV, bytes(32)))
    assert listing(tmp_path) == []


def test_missing_destination_directory(tmp_path: Path) -> None:
    (tmp_path / "src").write_bytes(b"data")
    with pytest.raises(FileNotFoundError):
        encrypt_file(tmp_path / "src", tmp_path / "no" / "such" / "dir" / "enc", NAME)
    assert listing(tmp_path) == ["src"]


def test_destination_that_names_no_file(tmp_path: Path) -> None:
    (tmp_path / "src").write_bytes(b"data")
    with pytest.raises(InvalidArgumentError):
        encrypt_file(tmp_path / "src", tmp_path / "..", NAME)


def test_source_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        encrypt_file(tmp_path, tmp_path / "enc", NAME)
    assert listing(tmp_path) == []
