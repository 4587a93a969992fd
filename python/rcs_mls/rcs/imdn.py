"""Instant message disposition notifications (RFC 5438), ``message/imdn+xml``.

An IMDN reports what happened to a message (RFC 5438 §7): delivery (``delivered``,
``failed``), display (``displayed``) or processing (``processed``, ``stored``), each also
``forbidden`` or ``error``. GSMA RCC.16 §7.7.2 extends a failed delivery notification with
the reason an MLS message could not be processed::

    <delivery-notification><status><failed>
      <mls-client-failure-reason><failed-to-decrypt/></mls-client-failure-reason>
    </failed></status></delivery-notification>

with the client reasons of :class:`MlsClientFailureReason` (§7.7.2.3, numbered as in the
binary encoding of §7.6.3.2) or, from the server, ``<mls-server-failure-reason>`` with one
of :class:`MlsServerFailureReason` (§7.7.2.1), never both.

Parsing is strict where RFC 5438 §10 (the schema) is: a root ``imdn`` in the namespace
``urn:ietf:params:xml:ns:imdn``; ``message-id`` and ``datetime`` (RFC 3339) required;
``recipient-uri``, ``original-recipient-uri`` and ``subject`` optional; exactly one
notification whose status is allowed for its kind; no element of this namespace
repeated or unknown; no stray text. Elements in other namespaces are the schema's
extension points and are skipped (and not kept). Element order is not enforced.

XML is read with :mod:`xml.etree.ElementTree` after refusing a document over
:data:`MAX_XML_DOCUMENT_SIZE` bytes and any document type declaration or entity
declaration (no external entities, no entity expansion), and only as UTF-8. The XML
helpers are shared with :mod:`rcs_mls.rcs.iscomposing` and
:mod:`rcs_mls.rcs.file_transfer`.
"""

from __future__ import annotations

import datetime as dt
import enum
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from rcs_mls.exceptions import ImdnParseError, InvalidArgumentError
from rcs_mls.rcs._xml import (
    _XML_DECLARATION,
    MAX_XML_DOCUMENT_SIZE,
    _blank,
    _check_xml_text,
    _children,
    _escape_text,
    _local,
    _parse_xml,
    _text,
    _unique,
)
from rcs_mls.rcs.cpim import format_datetime, parse_datetime

__all__ = [
    "CONTENT_TYPE_IMDN",
    "MAX_XML_DOCUMENT_SIZE",
    "NS_IMDN_XML",
    "Imdn",
    "ImdnStatus",
    "MlsClientFailureReason",
    "MlsServerFailureReason",
    "NotificationType",
]

#: The MIME type of an IMDN document (RFC 5438 §11.1).
CONTENT_TYPE_IMDN = "message/imdn+xml"
#: The XML namespace of IMDN documents (RFC 5438 §11.3).
NS_IMDN_XML = "urn:ietf:params:xml:ns:imdn"

# --- IMDN ------------------------------------------------------------------------------------


class NotificationType(enum.Enum):
    """The kind of notification (RFC 5438 §7.2), valued by its element name."""

    DELIVERY = "delivery-notification"
    DISPLAY = "display-notification"
    PROCESSING = "processing-notification"


class ImdnStatus(enum.Enum):
    """A notification status (RFC 5438 §7.2.1), valued by its element name."""

    DELIVERED = "delivered"
    FAILED = "failed"
    DISPLAYED = "displayed"
    PROCESSED = "processed"
    STORED = "stored"
    FORBIDDEN = "forbidden"
    ERROR = "error"


_ALLOWED_STATUS: dict[NotificationType, frozenset[ImdnStatus]] = {
    NotificationType.DELIVERY: frozenset(
        {ImdnStatus.DELIVERED, ImdnStatus.FAILED, ImdnStatus.FORBIDDEN, ImdnStatus.ERROR}
    ),
    NotificationType.DISPLAY: frozenset(
        {ImdnStatus.DISPLAYED, ImdnStatus.FORBIDDEN, ImdnStatus.ERROR}
    ),
    NotificationType.PROCESSING: frozenset(
        {ImdnStatus.PROCESSED, ImdnStatus.STORED, ImdnStatus.FORBIDDEN, ImdnStatus.ERROR}
    ),
}


class MlsClientFailureReason(enum.IntEnum):
    """Why a client could not process an MLS message (RCC.16 §7.7.2.3).

    The values are the binary codes of RCC.16 §7.6.3.2; :attr:`element` is the XML name.
    """

    MESSAGE_FROM_NON_MEMBER = 1
    INVALID_CREDENTIAL = 2
    INVALID_COMMIT = 3
    FAILED_TO_DECRYPT = 4
    COMMIT_IN_PRIVATEMESSAGE = 5

    @property
    def element(self) -> str:
        """The XML element name (``failed-to-decrypt``)."""
        return self.name.lower().replace("_", "-")


class MlsServerFailureReason(enum.Enum):
    """Why the server refused an MLS message (RCC.16 §7.7.2.1), valued by element name."""

    INCORRECT_ERA = "incorrect-era"
    INCORRECT_EPOCH = "incorrect-epoch"
    INCORRECT_EPOCH_AUTHENTICATOR = "incorrect-epoch-authenticator"
    EXPIRED_CREDENTIAL = "expired-credential"
    MISMATCHED_RCS_GROUP_STATE = "mismatched-rcs-group-state"
    UNPARSABLE_COMMIT = "unparsable-commit"
    MISMATCHED_CONFIRMATION_TAG = "mismatched-confirmation-tag"
    PENDING_PROPOSAL = "pending-proposal"
    TRANSIENT_ERROR = "transient-error"
    ENCRYPTION_NOT_AVAILABLE = "encryption-not-available"
    INVALID_COMMIT = "invalid-commit"

    @property
    def element(self) -> str:
        """The XML element name."""
        return self.value


_CLIENT_REASON = "mls-client-failure-reason"
_SERVER_REASON = "mls-server-failure-reason"
_CLIENT_BY_ELEMENT = {reason.element: reason for reason in MlsClientFailureReason}
_SERVER_BY_ELEMENT = {reason.element: reason for reason in MlsServerFailureReason}
_OPTIONAL_TEXT = ("recipient-uri", "original-recipient-uri", "subject")
_IMDN_CHILDREN = {
    "message-id",
    "datetime",
    *_OPTIONAL_TEXT,
    *(kind.value for kind in NotificationType),
}


def _ns(local: str) -> str:
    return f"{{{NS_IMDN_XML}}}{local}"


@dataclass(frozen=True)
class Imdn:
    """An IMDN document (RFC 5438 §7), with the RCC.16 MLS failure reasons.

    ``datetime`` must carry a UTC offset. A failure reason, client or server, is allowed
    only on a failed delivery notification, and only one of them.

    Raises:
        InvalidArgumentError: a field has the wrong type, text XML cannot carry, an empty or
            whitespace-padded id or URI, a status not allowed for the notification, or a
            misplaced failure reason.
    """

    message_id: str
    datetime: dt.datetime
    notification: NotificationType
    status: ImdnStatus
    recipient_uri: str | None = None
    original_recipient_uri: str | None = None
    subject: str | None = None
    client_failure_reason: MlsClientFailureReason | None = None
    server_failure_reason: MlsServerFailureReason | None = None

    def __post_init__(self) -> None:
        _check_xml_text(self.message_id, "message_id", token=True)
        format_datetime(self.datetime)
        if not isinstance(self.notification, NotificationType):
            raise InvalidArgumentError("notification must be a NotificationType")
        if not isinstance(self.status, ImdnStatus):
            raise InvalidArgumentError("status must be an ImdnStatus")
        if self.status not in _ALLOWED_STATUS[self.notification]:
            raise InvalidArgumentError(
                f"status {self.status.value} not allowed in a {self.notification.value}"
            )
        for name in ("recipient_uri", "original_recipient_uri"):
            value = getattr(self, name)
            if value is not None:
                _check_xml_text(value, name, token=True)
        if self.subject is not None:
            _check_xml_text(self.subject, "subject")
        client, server = self.client_failure_reason, self.server_failure_reason
        if client is not None and not isinstance(client, MlsClientFailureReason):
            raise InvalidArgumentError("client_failure_reason must be an MlsClientFailureReason")
        if server is not None and not isinstance(server, MlsServerFailureReason):
            raise InvalidArgumentError("server_failure_reason must be an MlsServerFailureReason")
        if client is not None and server is not None:
            raise InvalidArgumentError(
                "either mls-server-failure-reason or mls-client-failure-reason, not both"
            )
        if (client is not None or server is not None) and not (
            self.notification is NotificationType.DELIVERY and self.status is ImdnStatus.FAILED
        ):
            raise InvalidArgumentError("an MLS failure reason needs a failed delivery status")

    @property
    def failure_reason(self) -> MlsClientFailureReason | MlsServerFailureReason | None:
        """The MLS failure reason, client or server, or None."""
        if self.client_failure_reason is not None:
            return self.client_failure_reason
        return self.server_failure_reason

    def to_bytes(self) -> bytes:
        """Encode as a UTF-8 ``message/imdn+xml`` document."""
        parts = [
            _XML_DECLARATION,
            f'<imdn xmlns="{NS_IMDN_XML}">',
            f"<message-id>{_escape_text(self.message_id)}</message-id>",
            f"<datetime>{format_datetime(self.datetime)}</datetime>",
        ]
        for name, value in zip(
            _OPTIONAL_TEXT,
            (self.recipient_uri, self.original_recipient_uri, self.subject),
            strict=True,
        ):
            if value is not None:
                parts.append(f"<{name}>{_escape_text(value)}</{name}>")
        status = f"<{self.status.value}/>"
        if self.client_failure_reason is not None:
            reason = f"<{self.client_failure_reason.element}/>"
            status = f"<failed><{_CLIENT_REASON}>{reason}</{_CLIENT_REASON}></failed>"
        elif self.server_failure_reason is not None:
            reason = f"<{self.server_failure_reason.element}/>"
            status = f"<failed><{_SERVER_REASON}>{reason}</{_SERVER_REASON}></failed>"
        kind = self.notification.value
        parts.append(f"<{kind}><status>{status}</status></{kind}></imdn>")
        return "".join(parts).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Imdn:
        """Decode a ``message/imdn+xml`` document.

        Raises:
            ImdnParseError: the document is over :data:`MAX_XML_DOCUMENT_SIZE` bytes, is not
                UTF-8 XML, declares a DOCTYPE or entity, or does not follow RFC 5438 §10 and
                RCC.16 §7.7.2 as described in the module docstring.
        """
        root = _parse_xml(data, ImdnParseError, _ns("imdn"))
        found = _unique(
            _children(root, NS_IMDN_XML, ImdnParseError), _IMDN_CHILDREN, ImdnParseError
        )
        for required in ("message-id", "datetime"):
            if required not in found:
                raise ImdnParseError(f"IMDN without {required}")
        kinds = [kind for kind in NotificationType if kind.value in found]
        if len(kinds) != 1:
            raise ImdnParseError("an IMDN holds exactly one notification")
        kind = kinds[0]
        status, client, server = _read_notification(found[kind.value])
        optional = {
            name: _text(found[name], ImdnParseError, strip=name != "subject")
            for name in _OPTIONAL_TEXT
            if name in found
        }
        try:
            return cls(
                message_id=_text(found["message-id"], ImdnParseError),
                datetime=parse_datetime(_text(found["datetime"], ImdnParseError)),
                notification=kind,
                status=status,
                recipient_uri=optional.get("recipient-uri"),
                original_recipient_uri=optional.get("original-recipient-uri"),
                subject=optional.get("subject"),
                client_failure_reason=client,
                server_failure_reason=server,
            )
        except InvalidArgumentError as exc:
            raise ImdnParseError(str(exc)) from exc


def _read_notification(
    notification: ET.Element,
) -> tuple[ImdnStatus, MlsClientFailureReason | None, MlsServerFailureReason | None]:
    children = _children(notification, NS_IMDN_XML, ImdnParseError)
    if [_local(child) for child in children] != ["status"]:
        raise ImdnParseError("a notification holds exactly one status element")
    values = _children(children[0], NS_IMDN_XML, ImdnParseError)
    if len(values) != 1:
        raise ImdnParseError("a status holds exactly one status value")
    try:
        status = ImdnStatus(_local(values[0]))
    except ValueError as exc:
        raise ImdnParseError(f"unknown status {_local(values[0])[:80]!r}") from exc
    reasons = _children(values[0], NS_IMDN_XML, ImdnParseError)
    if not reasons:
        return status, None, None
    if status is not ImdnStatus.FAILED or len(reasons) != 1:
        raise ImdnParseError(f"unexpected content in status {status.value}")
    wrapper = _local(reasons[0])
    inner = _children(reasons[0], NS_IMDN_XML, ImdnParseError)
    if len(inner) != 1 or len(inner[0]) or not _blank(inner[0].text):
        raise ImdnParseError(f"{wrapper[:80]} holds exactly one empty reason element")
    name = _local(inner[0])
    if wrapper == _CLIENT_REASON and name in _CLIENT_BY_ELEMENT:
        return status, _CLIENT_BY_ELEMENT[name], None
    if wrapper == _SERVER_REASON and name in _SERVER_BY_ELEMENT:
        return status, None, _SERVER_BY_ELEMENT[name]
    raise ImdnParseError(f"unknown failure reason {wrapper[:80]}/{name[:80]}")
