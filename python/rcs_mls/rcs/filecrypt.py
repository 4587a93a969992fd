"""Encryption of files, the group icon and the group subject (GSMA RCC.16 Annex C).

A file sent in an MLS conversation is encrypted under a fresh 256-bit key ``K`` and
uploaded with File Transfer over HTTP; ``K``, the IV and the tag travel inside MLS in a
``FileInfo`` (``message/mls-rcs-file-info``). The construction (C.2)::

    k_enc || k_hmac = HKDF-SHA256(IKM=K, salt=PI_SALT, info=name (UTF-8), L=64)
    plaintext  = M || paddingLength zero bytes || uint32 messageLength || uint32 paddingLength
    ciphertext = AES-256-CTR(k_enc, counter block IV || 00000000, plaintext)
    tag        = HMAC-SHA256(k_hmac, IV || ciphertext)

with big-endian lengths, ``paddingLength = padme(messageLength) - messageLength`` (Padmé,
Nikitin et al., PETS 2019) and ``messageLength < 2**31``. The name is the original file
name, or :data:`GROUP_ICON_INFO` / :data:`GROUP_SUBJECT_INFO`.

Decryption (C.3) checks the tag in constant time before anything is decrypted, then the
lengths, the Padmé relation, the length hint (if one was sent) and the zero padding. Every
failure raises the same :class:`~rcs_mls.exceptions.FileIntegrityError`, which says nothing
about which check failed.

:func:`encrypt` / :func:`decrypt` work in memory; :func:`encrypt_file` /
:func:`decrypt_file` stream from path to path with a fixed buffer, so a large file never
sits in memory, and write the output through a temporary file next to the destination
(mode 0600 on Unix) that is renamed onto it only once everything verified. All of them
release the GIL.

The Padmé rounding is an interoperability assumption: the spec cites the paper without
restating it [deployed].
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Final

from rcs_mls import _native
from rcs_mls.exceptions import InvalidArgumentError

__all__ = [
    "GROUP_ICON_INFO",
    "GROUP_SUBJECT_INFO",
    "IV_LENGTH",
    "KEY_LENGTH",
    "MAX_MESSAGE_LENGTH",
    "PI_SALT",
    "TAG_LENGTH",
    "FileKey",
    "decrypt",
    "decrypt_file",
    "encrypt",
    "encrypt_file",
    "padme",
]

#: The HKDF salt of Annex C: the first 32 bytes of the fractional part of π [deployed].
PI_SALT: Final[bytes] = _native.FILE_HKDF_SALT
#: The HKDF info for the group icon (key in extension 0xF003) [deployed].
GROUP_ICON_INFO: Final = "group_icon"
#: The HKDF info for the group subject (key in extension 0xF005) [deployed].
GROUP_SUBJECT_INFO: Final = "group_subject"
#: Length of the file key ``K``.
KEY_LENGTH: Final = 32
#: Length of the IV (the counter block is ``IV || 00000000``).
IV_LENGTH: Final = 12
#: Length of the HMAC-SHA256 tag.
TAG_LENGTH: Final = 32
#: The largest message that can be encrypted: ``messageLength < 2**31``.
MAX_MESSAGE_LENGTH: Final = 2**31 - 1

_MAX_U64: Final = 2**64 - 1


@dataclass(frozen=True)
class FileKey:
    """What a receiver needs to decrypt one file: the content of ``FileEncryptionInfo``.

    ``key`` is ``K`` (``key_material``), ``iv`` the ``initialization_vector``, ``tag`` the
    ``hmac_tag``. ``message_length`` is the plaintext length: set by :func:`encrypt` and
    :func:`encrypt_file` (send it as ``file_length_hint``); on the receiving side it is the
    hint the sender sent, or ``None``. When not ``None`` it is checked on decryption.

    The key is left out of ``repr()``.

    Raises:
        InvalidArgumentError: ``key`` is not 32 bytes, ``iv`` not 12 bytes, or
            ``message_length`` is negative.
    """

    key: bytes = field(repr=False)
    iv: bytes
    tag: bytes
    message_length: int | None = None

    def __post_init__(self) -> None:
        if len(self.key) != KEY_LENGTH:
            raise InvalidArgumentError(f"key must be {KEY_LENGTH} bytes long, got {len(self.key)}")
        if len(self.iv) != IV_LENGTH:
            raise InvalidArgumentError(f"iv must be {IV_LENGTH} bytes long, got {len(self.iv)}")
        if self.message_length is not None and self.message_length < 0:
            raise InvalidArgumentError(f"message_length is negative: {self.message_length}")


def padme(length: int) -> int:
    """The Padmé length of a ``length``-byte message (RCC.16 Annex C padding).

    For ``L >= 2``: ``E = floor(log2 L)``, ``S = floor(log2 E) + 1``, and ``L`` is rounded
    up to a multiple of ``2**(E - S)`` when ``E > S``; 0 and 1 are unchanged. The overhead
    is at most 12 %.

    Raises:
        InvalidArgumentError: ``length`` is negative or the result does not fit 64 bits.
    """
    if not 0 <= length <= _MAX_U64:
        raise InvalidArgumentError(f"length out of range: {length}")
    return _native.padme(length)


def _length_hint(file_key: FileKey, length_hint: int | None) -> int | None:
    hint = file_key.message_length if length_hint is None else length_hint
    if hint is None:
        return None
    if hint < 0:
        raise InvalidArgumentError(f"length_hint is negative: {hint}")
    # A hint no message can have: the file is rejected after its tag was checked, like any
    # other mismatch (and the value still fits the native uint64).
    return min(hint, MAX_MESSAGE_LENGTH + 1)


def encrypt(data: bytes | bytearray | memoryview, name: str) -> tuple[bytes, FileKey]:
    """Encrypts ``data`` under a fresh key; returns ``(ciphertext, file_key)``.

    ``name`` is the original file name (the HKDF info), or :data:`GROUP_ICON_INFO` /
    :data:`GROUP_SUBJECT_INFO`. The ciphertext is ``padme(len(data)) + 8`` bytes long.

    Raises:
        InvalidArgumentError: ``data`` is 2**31 bytes or longer.
        TypeError: ``data`` is not bytes-like.
    """
    ciphertext, key, iv, tag = _native.file_encrypt(data, name)
    return ciphertext, FileKey(key, iv, tag, memoryview(data).nbytes)


def decrypt(
    ciphertext: bytes | bytearray | memoryview,
    name: str,
    file_key: FileKey,
    length_hint: int | None = None,
) -> bytes:
    """Decrypts a ciphertext made by :func:`encrypt` or another RCC.16 client.

    ``length_hint`` is the ``file_length_hint`` the sender sent; when ``None``,
    ``file_key.message_length`` is used, and when both are ``None`` no hint is checked.

    Raises:
        FileIntegrityError: the tag does not verify (wrong key, IV, tag or name, or a
            tampered ciphertext), or the verified plaintext is malformed (lengths, Padmé
            relation, non-zero padding), or the length differs from the hint.
        InvalidArgumentError: a negative length hint.
        TypeError: ``ciphertext`` is not bytes-like.
    """
    hint = _length_hint(file_key, length_hint)
    return _native.file_decrypt(ciphertext, name, file_key.key, file_key.iv, file_key.tag, hint)


def encrypt_file(src: str | os.PathLike[str], dst: str | os.PathLike[str], name: str) -> FileKey:
    """Encrypts the file ``src`` into ``dst`` under a fresh key, streaming.

    ``name`` is the original file name (the HKDF info). ``dst`` is written through a
    temporary file in the same directory and replaced only on success.

    Raises:
        InvalidArgumentError: ``src`` holds 2**31 bytes or more, or ``dst`` names no file.
        OSError: ``src`` cannot be read or ``dst`` cannot be written (for example
            ``FileNotFoundError``, with ``filename`` set).
    """
    key, iv, tag, message_length = _native.file_encrypt_path(src, dst, name)
    return FileKey(key, iv, tag, message_length)


def decrypt_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    name: str,
    file_key: FileKey,
    length_hint: int | None = None,
) -> int:
    """Decrypts the file ``src`` into ``dst``, streaming; returns the plaintext length.

    The tag is checked over the whole file before anything is decrypted; the plaintext goes
    to a temporary file next to ``dst`` that is renamed onto it only once every check
    passed, and removed otherwise, so on failure ``dst`` is left as it was. ``length_hint``
    works as in :func:`decrypt`. On Unix the temporary file, and so ``dst``, is created
    with mode 0600 (owner only) whatever the umask: widen it if the file is to be shared.

    Raises:
        FileIntegrityError: as for :func:`decrypt`; also when ``src`` changes while it is
            read.
        InvalidArgumentError: a negative length hint, or ``dst`` names no file.
        OSError: ``src`` cannot be read or ``dst`` cannot be written.
    """
    hint = _length_hint(file_key, length_hint)
    return _native.file_decrypt_path(src, dst, name, file_key.key, file_key.iv, file_key.tag, hint)
