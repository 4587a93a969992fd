"""The FileInfo protobuf: the key of an encrypted file, subject or icon (GSMA RCC.16 §7.8.1).

A file in an MLS conversation is encrypted under a fresh key (RCC.16 Annex C); the key,
IV and HMAC tag reach the group in a ``message/mls-rcs-file-info`` MLS message holding::

    message FileInfo {
      FileMetadata file = 1;  FileMetadata thumbnail = 2;
      FileMetadata subject = 3;  FileMetadata icon = 4;
    }
    message FileMetadata {
      string file_name = 1;  string content_type = 2;
      FileEncryptionInfo encryption_info = 3;
    }
    message FileEncryptionInfo {
      bytes key_material = 1;  bytes initialization_vector = 2;  bytes hmac_tag = 3;
      Algorithm algorithm = 4;  optional fixed32 file_length_hint = 5;
    }
    enum Algorithm { ALGORITHM_UNSPECIFIED = 0; AES256_CTR_HMAC_SHA256_256TAG = 1; }

The schema lives in one table, :data:`_SCHEMA`. The ``FileInfo`` field numbers are
[spec]; those of ``FileMetadata`` and ``FileEncryptionInfo``, the ``algorithm`` enum and
``file_length_hint`` as fixed32 are [deployed]: a client's tests decode them from the
bytes it interoperates with. The package and the proto3 syntax are this module's choice;
neither shows on the wire. ``file_name`` is the Annex C KDF ``Info`` (``group_icon``,
``group_subject`` for those), so it may not be empty.

The descriptors are built at import time with ``descriptor_pb2`` in a private descriptor
pool, so no ``protoc`` step is needed; the typed frozen dataclasses below convert to and
from the generated messages. Unknown fields are ignored, as protobuf readers do.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

from rcs_mls.exceptions import FileInfoParseError, InvalidArgumentError

__all__ = [
    "CONTENT_TYPE_FILE_INFO",
    "HMAC_TAG_LENGTH",
    "IV_LENGTH",
    "KEY_LENGTH",
    "FileEncryptionAlgorithm",
    "FileEncryptionInfo",
    "FileInfo",
    "FileMetadata",
]

#: The inner content type of a FileInfo message (RCC.16 §7.8.1).
CONTENT_TYPE_FILE_INFO = "message/mls-rcs-file-info"
#: Annex C: a random 256-bit file key.
KEY_LENGTH = 32
#: Annex C: a random 96-bit IV (the counter block is IV || 00000000).
IV_LENGTH = 12
#: Annex C: HMAC-SHA256 over IV || ciphertext.
HMAC_TAG_LENGTH = 32

_PROTO_PACKAGE = "rcs_mls.rcc16"
_FD = descriptor_pb2.FieldDescriptorProto

# (field name, number, type, message or enum type name, proto3 optional)
_SCHEMA: dict[str, tuple[tuple[str, int, int, str, bool], ...]] = {
    "FileInfo": (
        ("file", 1, _FD.TYPE_MESSAGE, "FileMetadata", False),
        ("thumbnail", 2, _FD.TYPE_MESSAGE, "FileMetadata", False),
        ("subject", 3, _FD.TYPE_MESSAGE, "FileMetadata", False),
        ("icon", 4, _FD.TYPE_MESSAGE, "FileMetadata", False),
    ),
    "FileMetadata": (
        ("file_name", 1, _FD.TYPE_STRING, "", False),
        ("content_type", 2, _FD.TYPE_STRING, "", False),
        ("encryption_info", 3, _FD.TYPE_MESSAGE, "FileEncryptionInfo", False),
    ),
    "FileEncryptionInfo": (
        ("key_material", 1, _FD.TYPE_BYTES, "", False),
        ("initialization_vector", 2, _FD.TYPE_BYTES, "", False),
        ("hmac_tag", 3, _FD.TYPE_BYTES, "", False),
        ("algorithm", 4, _FD.TYPE_ENUM, "Algorithm", False),
        ("file_length_hint", 5, _FD.TYPE_FIXED32, "", True),
    ),
}
_ALGORITHM_VALUES = (("ALGORITHM_UNSPECIFIED", 0), ("AES256_CTR_HMAC_SHA256_256TAG", 1))


def _build_classes() -> dict[str, type[Message]]:
    proto = descriptor_pb2.FileDescriptorProto(
        name="rcs_mls/rcc16_file_info.proto", package=_PROTO_PACKAGE, syntax="proto3"
    )
    algorithm = proto.enum_type.add(name="Algorithm")
    for name, number in _ALGORITHM_VALUES:
        algorithm.value.add(name=name, number=number)
    for message_name, fields in _SCHEMA.items():
        message = proto.message_type.add(name=message_name)
        for name, number, kind, type_name, optional in fields:
            entry = message.field.add(name=name, number=number, type=kind, label=_FD.LABEL_OPTIONAL)
            if type_name:
                entry.type_name = f".{_PROTO_PACKAGE}.{type_name}"
            if optional:
                # proto3 explicit presence: a synthetic oneof named after the field.
                entry.proto3_optional = True
                entry.oneof_index = len(message.oneof_decl)
                message.oneof_decl.add(name=f"_{name}")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {
        name: message_factory.GetMessageClass(
            pool.FindMessageTypeByName(f"{_PROTO_PACKAGE}.{name}")
        )
        for name in _SCHEMA
    }


_CLASSES = _build_classes()


class FileEncryptionAlgorithm(enum.IntEnum):
    """The ``Algorithm`` enum of RCC.16 §7.8.1."""

    UNSPECIFIED = 0
    #: Annex C: AES-256-CTR, HMAC-SHA256 with a 256-bit tag.
    AES256_CTR_HMAC_SHA256_256TAG = 1


def _as_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise InvalidArgumentError(f"{what} must be bytes, not {type(value).__name__}")
    return bytes(value)


def _parse(data: object, name: str) -> Any:
    """Parse ``data`` as the message ``name``; any failure is a FileInfoParseError."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise FileInfoParseError("FileInfo data must be bytes")
    message = _CLASSES[name]()
    try:
        message.ParseFromString(bytes(data))
    except Exception as exc:  # DecodeError, and whatever else the runtime raises
        raise FileInfoParseError(f"malformed {name}: {exc}") from exc
    return message


def _serialize(message: Message) -> bytes:
    return message.SerializeToString(deterministic=True)


@dataclass(frozen=True)
class FileEncryptionInfo:
    """The key, IV and tag of one encrypted file (RCC.16 §7.8.1, Annex C).

    ``file_length_hint``, when sent, is the plaintext length, a uint32. With the Annex C
    algorithm, the key, IV and tag have their Annex C lengths; otherwise they are only
    required to be non-empty. The key is left out of ``repr``.

    Raises:
        InvalidArgumentError: a field of the wrong type, an empty or wrongly sized key, IV
            or tag, or a hint outside the uint32 range.
    """

    key_material: bytes = field(repr=False)
    initialization_vector: bytes
    hmac_tag: bytes
    algorithm: FileEncryptionAlgorithm = FileEncryptionAlgorithm.AES256_CTR_HMAC_SHA256_256TAG
    file_length_hint: int | None = None

    def __post_init__(self) -> None:
        key = _as_bytes(self.key_material, "key_material")
        iv = _as_bytes(self.initialization_vector, "initialization_vector")
        tag = _as_bytes(self.hmac_tag, "hmac_tag")
        object.__setattr__(self, "key_material", key)
        object.__setattr__(self, "initialization_vector", iv)
        object.__setattr__(self, "hmac_tag", tag)
        if not isinstance(self.algorithm, FileEncryptionAlgorithm):
            raise InvalidArgumentError("algorithm must be a FileEncryptionAlgorithm")
        if not (key and iv and tag):
            raise InvalidArgumentError("key_material, initialization_vector and hmac_tag needed")
        if self.algorithm is FileEncryptionAlgorithm.AES256_CTR_HMAC_SHA256_256TAG and (
            len(key),
            len(iv),
            len(tag),
        ) != (KEY_LENGTH, IV_LENGTH, HMAC_TAG_LENGTH):
            raise InvalidArgumentError(
                f"Annex C needs a {KEY_LENGTH}-byte key, {IV_LENGTH}-byte IV and "
                f"{HMAC_TAG_LENGTH}-byte tag"
            )
        hint = self.file_length_hint
        if hint is not None and (
            not isinstance(hint, int) or isinstance(hint, bool) or not 0 <= hint <= 0xFFFFFFFF
        ):
            raise InvalidArgumentError(f"file_length_hint must be a uint32, not {hint!r}")

    def _to_message(self, message: Any) -> None:
        message.key_material = self.key_material
        message.initialization_vector = self.initialization_vector
        message.hmac_tag = self.hmac_tag
        message.algorithm = int(self.algorithm)
        if self.file_length_hint is not None:
            message.file_length_hint = self.file_length_hint

    @classmethod
    def _from_message(cls, message: Any) -> FileEncryptionInfo:
        try:
            algorithm = FileEncryptionAlgorithm(message.algorithm)
        except ValueError as exc:
            raise FileInfoParseError(f"unknown algorithm {message.algorithm}") from exc
        return cls(
            key_material=bytes(message.key_material),
            initialization_vector=bytes(message.initialization_vector),
            hmac_tag=bytes(message.hmac_tag),
            algorithm=algorithm,
            file_length_hint=(
                int(message.file_length_hint) if message.HasField("file_length_hint") else None
            ),
        )

    def to_bytes(self) -> bytes:
        """Encode as a ``FileEncryptionInfo`` protobuf."""
        message = _CLASSES["FileEncryptionInfo"]()
        self._to_message(message)
        return _serialize(message)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> FileEncryptionInfo:
        """Decode a ``FileEncryptionInfo`` protobuf.

        Raises:
            FileInfoParseError: malformed protobuf, unknown algorithm, or a field the
                checks of this class refuse.
        """
        message = _parse(data, "FileEncryptionInfo")
        try:
            return cls._from_message(message)
        except InvalidArgumentError as exc:
            raise FileInfoParseError(str(exc)) from exc


@dataclass(frozen=True)
class FileMetadata:
    """One described file: its name, type and key (RCC.16 §7.8.1).

    ``file_name`` is the original name, also the Annex C KDF ``Info``, so it is required.

    Raises:
        InvalidArgumentError: an empty or non-str ``file_name``, a non-str
            ``content_type``, or ``encryption_info`` not a FileEncryptionInfo.
    """

    file_name: str
    content_type: str
    encryption_info: FileEncryptionInfo

    def __post_init__(self) -> None:
        if not isinstance(self.file_name, str) or not self.file_name:
            raise InvalidArgumentError("file_name must be a non-empty str")
        if not isinstance(self.content_type, str):
            raise InvalidArgumentError("content_type must be a str")
        for text in (self.file_name, self.content_type):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InvalidArgumentError("names must be encodable as UTF-8") from exc
        if not isinstance(self.encryption_info, FileEncryptionInfo):
            raise InvalidArgumentError("encryption_info must be a FileEncryptionInfo")

    def _to_message(self, message: Any) -> None:
        message.file_name = self.file_name
        message.content_type = self.content_type
        self.encryption_info._to_message(message.encryption_info)

    @classmethod
    def _from_message(cls, message: Any) -> FileMetadata:
        if not message.HasField("encryption_info"):
            raise FileInfoParseError("FileMetadata without encryption_info")
        return cls(
            file_name=str(message.file_name),
            content_type=str(message.content_type),
            encryption_info=FileEncryptionInfo._from_message(message.encryption_info),
        )

    def to_bytes(self) -> bytes:
        """Encode as a ``FileMetadata`` protobuf."""
        message = _CLASSES["FileMetadata"]()
        self._to_message(message)
        return _serialize(message)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> FileMetadata:
        """Decode a ``FileMetadata`` protobuf.

        Raises:
            FileInfoParseError: malformed protobuf, or a missing or refused field.
        """
        message = _parse(data, "FileMetadata")
        try:
            return cls._from_message(message)
        except InvalidArgumentError as exc:
            raise FileInfoParseError(str(exc)) from exc


_SLOTS = ("file", "thumbnail", "subject", "icon")


@dataclass(frozen=True)
class FileInfo:
    """The key delivery for a file and its thumbnail, or a group subject or icon.

    Sent as ``message/mls-rcs-file-info`` inside MLS (RCC.16 §7.8.1). At least one slot is
    set.

    Raises:
        InvalidArgumentError: no slot set, or a slot that is not a FileMetadata.
    """

    file: FileMetadata | None = None
    thumbnail: FileMetadata | None = None
    subject: FileMetadata | None = None
    icon: FileMetadata | None = None

    def __post_init__(self) -> None:
        slots = [getattr(self, name) for name in _SLOTS]
        if all(slot is None for slot in slots):
            raise InvalidArgumentError("a FileInfo describes at least one file")
        if not all(slot is None or isinstance(slot, FileMetadata) for slot in slots):
            raise InvalidArgumentError("FileInfo slots must be FileMetadata")

    def to_bytes(self) -> bytes:
        """Encode as a ``FileInfo`` protobuf."""
        message: Any = _CLASSES["FileInfo"]()
        for name in _SLOTS:
            slot: FileMetadata | None = getattr(self, name)
            if slot is not None:
                slot._to_message(getattr(message, name))
        return _serialize(message)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> FileInfo:
        """Decode a ``FileInfo`` protobuf.

        Raises:
            FileInfoParseError: malformed protobuf (including invalid UTF-8 in a string),
                no slot set, a slot without ``encryption_info``, an empty ``file_name``, an
                unknown algorithm, or a key, IV or tag of the wrong size.
        """
        message = _parse(data, "FileInfo")
        try:
            slots = {
                name: FileMetadata._from_message(getattr(message, name))
                for name in _SLOTS
                if message.HasField(name)
            }
            return cls(**slots)
        except InvalidArgumentError as exc:
            raise FileInfoParseError(str(exc)) from exc
