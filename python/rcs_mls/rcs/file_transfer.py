"""File Transfer over HTTP descriptors (GSMA RCC.07 §3.2.5), with the RCC.16 MLS marker.

The sender of an RCS file uploads it to the content server and sends this descriptor,
``application/vnd.gsma.rcs-ft-http+xml``, to the recipients (RCC.07 §3.2.5)::

    <file xmlns="urn:gsma:params:xml:ns:rcs:rcs:fthttp"
          xmlns:am="urn:gsma:params:xml:ns:rcs:rcs:rram">
      <file-info type="thumbnail">
        <file-size>7427</file-size>
        <content-type>image/jpeg</content-type>
        <data url="https://..." until="2026-05-19T10:00:00Z"/>
      </file-info>
      <file-info type="file" file-disposition="render">
        <file-size>183524</file-size>
        <file-name>voice.amr</file-name>
        <content-type>audio/amr</content-type>
        <am:playing-length>12</am:playing-length>
        <data url="https://..." until="2026-05-19T10:00:00Z"/>
      </file-info>
    </file>

``file-disposition`` (``render`` or ``attachment``) and ``am:playing-length`` (the
duration of an audio message in seconds, namespace
``urn:gsma:params:xml:ns:rcs:rcs:rram``) are the optional fields RCC.07 adds for
audio messages.

For an MLS-encrypted file (RCC.16 §7.8.2, Annex C) the uploaded blob is ciphertext, the
file's ``<file-name>`` is the literal :data:`ENCRYPTED_FILE_NAME`, and ``<file>`` carries
an ``<mls-file>`` element; the real name, type and key travel separately in a FileInfo
protobuf (:mod:`rcs_mls.rcs.fileinfo`). See :data:`MLS_FILE_ELEMENT` for its form.

Parsing is strict: one ``file-info`` of type ``file`` and at most one of type
``thumbnail``; in each, ``file-size``, ``content-type`` and ``data`` with a ``url``
required, nothing repeated or unknown in the fthttp namespace; ``until`` RFC 3339.
Other namespaces are skipped (extensions, e.g. vendor encryption data). The XML is read
as in :mod:`rcs_mls.rcs.imdn` (at most :data:`MAX_XML_DOCUMENT_SIZE` bytes, no DOCTYPE, no
entities, UTF-8 only).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from rcs_mls.exceptions import FileTransferParseError, InvalidArgumentError
from rcs_mls.rcs._xml import (
    _XML_DECLARATION,
    MAX_XML_DOCUMENT_SIZE,
    _blank,
    _check_xml_text,
    _children,
    _escape_attribute,
    _escape_text,
    _local,
    _parse_xml,
    _text,
    _unique,
)
from rcs_mls.rcs.cpim import format_datetime, parse_datetime

__all__ = [
    "CONTENT_TYPE_FT_HTTP",
    "ENCRYPTED_FILE_NAME",
    "MAX_XML_DOCUMENT_SIZE",
    "MLS_FILE_ELEMENT",
    "NS_FTHTTP",
    "NS_RRAM",
    "FileDisposition",
    "FileTransferDescriptor",
    "FileTransferInfo",
]

#: The MIME type of a File Transfer over HTTP descriptor (RCC.07 §3.2.5).
CONTENT_TYPE_FT_HTTP = "application/vnd.gsma.rcs-ft-http+xml"
#: The descriptor namespace.
NS_FTHTTP = "urn:gsma:params:xml:ns:rcs:rcs:fthttp"
#: The audio messaging namespace of ``playing-length`` (RCC.07), prefix ``am``.
NS_RRAM = "urn:gsma:params:xml:ns:rcs:rcs:rram"
#: The ``<file-name>`` of every MLS-encrypted file (RCC.16 §7.8.2) [deployed: peers
#: reject any other name on an encrypted file].
ENCRYPTED_FILE_NAME = "encrypted_file"
#: [deployed form, guessed content] The RCC.16 marker of an MLS-encrypted file: an
#: element of this name, in the descriptor namespace, the last child of ``<file>`` (after
#: the ``file-info`` elements), whose text is the standard base64 (no line breaks) of an
#: opaque byte string; a deployed client writes it so and reads it with a lenient base64
#: decoder. What those bytes hold (believed to be the key-delivery message's reference)
#: is not established, so :attr:`FileTransferDescriptor.mls_file` keeps them opaque.
MLS_FILE_ELEMENT = "mls-file"

_MAX_SIZE = 2**63 - 1
_NUMBER_RE = re.compile(r"[0-9]{1,19}")
_WHITESPACE_RE = re.compile(r"[ \t\r\n]+")
_TYPE_THUMBNAIL = "thumbnail"
_TYPE_FILE = "file"
_INFO_CHILDREN = {"file-size", "file-name", "content-type", "data"}
_FILE_CHILDREN = {"file-info", MLS_FILE_ELEMENT}


class FileDisposition(enum.Enum):
    """How the recipient presents the file (RCC.07 ``file-disposition``)."""

    RENDER = "render"
    ATTACHMENT = "attachment"


def _check_count(value: object, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _MAX_SIZE:
        raise InvalidArgumentError(f"{what} must be a non-negative int64, not {value!r}")


@dataclass(frozen=True)
class FileTransferInfo:
    """One ``<file-info>``: the file itself or its thumbnail (RCC.07 §3.2.5).

    ``size`` is in bytes; ``until`` is when the content server drops the file;
    ``playing_length`` the duration of an audio message, in seconds.

    Raises:
        InvalidArgumentError: a negative or non-int size or length, an empty or padded
            content type, URL or name, text XML cannot carry, or a naive ``until``.
    """

    size: int
    content_type: str
    url: str
    until: dt.datetime | None = None
    name: str | None = None
    disposition: FileDisposition | None = None
    playing_length: int | None = None

    def __post_init__(self) -> None:
        _check_count(self.size, "size")
        _check_xml_text(self.content_type, "content_type", token=True)
        _check_xml_text(self.url, "url", token=True)
        if self.until is not None:
            format_datetime(self.until)
        if self.name is not None:
            _check_xml_text(self.name, "name", token=True)
        if self.disposition is not None and not isinstance(self.disposition, FileDisposition):
            raise InvalidArgumentError("disposition must be a FileDisposition")
        if self.playing_length is not None:
            _check_count(self.playing_length, "playing_length")

    def _encode(self, kind: str) -> str:
        attributes = f' type="{kind}"'
        if self.disposition is not None:
            attributes += f' file-disposition="{self.disposition.value}"'
        parts = [f"<file-info{attributes}>", f"<file-size>{self.size}</file-size>"]
        if self.name is not None:
            parts.append(f"<file-name>{_escape_text(self.name)}</file-name>")
        parts.append(f"<content-type>{_escape_text(self.content_type)}</content-type>")
        if self.playing_length is not None:
            parts.append(f"<am:playing-length>{self.playing_length}</am:playing-length>")
        data = f'<data url="{_escape_attribute(self.url)}"'
        if self.until is not None:
            data += f' until="{format_datetime(self.until)}"'
        parts.append(data + "/></file-info>")
        return "".join(parts)

    @classmethod
    def _decode(cls, element: ET.Element) -> FileTransferInfo:
        error = FileTransferParseError
        found = _unique(_children(element, NS_FTHTTP, error), _INFO_CHILDREN, error)
        for required in ("file-size", "content-type", "data"):
            if required not in found:
                raise FileTransferParseError(f"file-info without {required}")
        lengths = [child for child in element if child.tag == f"{{{NS_RRAM}}}playing-length"]
        if len(lengths) > 1:
            raise FileTransferParseError("playing-length repeated")
        data = found["data"]
        if len(data) or not _blank(data.text):
            raise FileTransferParseError("the data element must be empty")
        url, until = data.get("url"), data.get("until")
        if url is None:
            raise FileTransferParseError("data without url")
        disposition = element.get("file-disposition")
        size = _number(found["file-size"])
        playing_length = _number(lengths[0]) if lengths else None
        try:
            return cls(
                size=size,
                content_type=_text(found["content-type"], error),
                url=url.strip(" \t\r\n"),
                until=None if until is None else parse_datetime(until.strip(" \t\r\n")),
                name=_text(found["file-name"], error) if "file-name" in found else None,
                disposition=None if disposition is None else FileDisposition(disposition),
                playing_length=playing_length,
            )
        except (InvalidArgumentError, ValueError) as exc:
            raise FileTransferParseError(str(exc)) from exc


def _number(element: ET.Element) -> int:
    text = _text(element, FileTransferParseError)
    if _NUMBER_RE.fullmatch(text) is None:
        raise FileTransferParseError(f"{_local(element)} is not a number: {text[:20]!r}")
    return int(text)


@dataclass(frozen=True)
class FileTransferDescriptor:
    """A File Transfer over HTTP descriptor, ``<file>`` (RCC.07 §3.2.5).

    ``mls_file`` is the content of the RCC.16 ``<mls-file>`` marker (see
    :data:`MLS_FILE_ELEMENT`), or None for a file that is not MLS-encrypted.

    Raises:
        InvalidArgumentError: ``file`` or ``thumbnail`` is not a FileTransferInfo,
            ``mls_file`` is not bytes, or an MLS file is not named
            :data:`ENCRYPTED_FILE_NAME`.
    """

    file: FileTransferInfo
    thumbnail: FileTransferInfo | None = None
    mls_file: bytes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.file, FileTransferInfo):
            raise InvalidArgumentError("file must be a FileTransferInfo")
        if self.thumbnail is not None and not isinstance(self.thumbnail, FileTransferInfo):
            raise InvalidArgumentError("thumbnail must be a FileTransferInfo")
        if self.mls_file is not None:
            if not isinstance(self.mls_file, (bytes, bytearray, memoryview)):
                raise InvalidArgumentError("mls_file must be bytes")
            object.__setattr__(self, "mls_file", bytes(self.mls_file))
            if self.file.name != ENCRYPTED_FILE_NAME:
                raise InvalidArgumentError(
                    f"an MLS-encrypted file must be named {ENCRYPTED_FILE_NAME!r}"
                )

    @property
    def is_mls_encrypted(self) -> bool:
        """Whether the descriptor carries the RCC.16 ``<mls-file>`` marker."""
        return self.mls_file is not None

    def to_bytes(self) -> bytes:
        """Encode as a UTF-8 ``application/vnd.gsma.rcs-ft-http+xml`` document."""
        infos = [info for info in (self.thumbnail, self.file) if info is not None]
        audio = any(info.playing_length is not None for info in infos)
        namespaces = f' xmlns="{NS_FTHTTP}"' + (f' xmlns:am="{NS_RRAM}"' if audio else "")
        parts = [_XML_DECLARATION, f"<file{namespaces}>"]
        if self.thumbnail is not None:
            parts.append(self.thumbnail._encode(_TYPE_THUMBNAIL))
        parts.append(self.file._encode(_TYPE_FILE))
        if self.mls_file is not None:
            encoded = base64.b64encode(self.mls_file).decode("ascii")
            parts.append(f"<{MLS_FILE_ELEMENT}>{encoded}</{MLS_FILE_ELEMENT}>")
        parts.append("</file>")
        return "".join(parts).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> FileTransferDescriptor:
        """Decode a File Transfer over HTTP descriptor.

        Raises:
            FileTransferParseError: over :data:`MAX_XML_DOCUMENT_SIZE` bytes, not UTF-8 XML,
                a DOCTYPE or entity declaration, or not the structure described in the
                module docstring (including bad base64 in ``<mls-file>`` or an MLS file not
                named :data:`ENCRYPTED_FILE_NAME`).
        """
        error = FileTransferParseError
        root = _parse_xml(data, error, f"{{{NS_FTHTTP}}}file")
        infos: dict[str, FileTransferInfo] = {}
        mls_file: bytes | None = None
        for child in _children(root, NS_FTHTTP, error):
            name = _local(child)
            if name not in _FILE_CHILDREN:
                raise FileTransferParseError(f"unexpected element {name[:80]!r}")
            if name == MLS_FILE_ELEMENT:
                if mls_file is not None:
                    raise FileTransferParseError(f"{MLS_FILE_ELEMENT} repeated")
                mls_file = _base64(_text(child, error))
                continue
            kind = child.get("type")
            if kind not in (_TYPE_FILE, _TYPE_THUMBNAIL):
                raise FileTransferParseError(f"unknown file-info type {str(kind)[:40]!r}")
            if kind in infos:
                raise FileTransferParseError(f"file-info of type {kind} repeated")
            infos[kind] = FileTransferInfo._decode(child)
        if _TYPE_FILE not in infos:
            raise FileTransferParseError("descriptor without a file-info of type file")
        try:
            return cls(infos[_TYPE_FILE], infos.get(_TYPE_THUMBNAIL), mls_file)
        except InvalidArgumentError as exc:
            raise FileTransferParseError(str(exc)) from exc


def _base64(text: str) -> bytes:
    try:
        return base64.b64decode(_WHITESPACE_RE.sub("", text), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FileTransferParseError(f"{MLS_FILE_ELEMENT} is not base64") from exc
