"""Continuity across eras: a conversation re-created as a new MLS group (an era advance,
RCC16.md §2: "an era advance is a brand-new MLS group under the same group id") carries
proof that whoever created it was a member of the group it replaces.

RCC.16 names the extensions (0xF010 continuity token, 0xF011 its commitment; "32 random
bytes; downgrade protection when a group is re-created") but the text of its rules is not
available here. This is the form this package uses, every choice **[guess]**:

* the token is *derived* from the group being replaced, ``MLS-Exporter(CONTINUITY_LABEL,
  uint32 new_era, 32)`` of its current epoch, so that every member of that epoch knows it
  and nobody else (the delivery service, which could otherwise re-create a conversation
  under its own control, cannot);
* the new group's GroupContext carries the commitment, 0xF011 = ``opaque<V>`` of
  ``SHA-256(varint(len L) || L || varint(len T) || T)`` with ``L = b"continuity_token"``
  (the commitment form of RCC.16 Annex C);
* the new group's Welcome (never the GroupInfo the server keeps) carries the token, 0xF010
  = ``opaque<V>`` of the 32 bytes, so a member can check both against its own state.

A member of the old group accepts the new era only if both match the token it derives
itself (:func:`verify`); a device that was never in the old group cannot check and joins
it as a new conversation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Final

from rcs_mls._native import Group
from rcs_mls.exceptions import MembershipError, ParseError
from rcs_mls.rcs import profile
from rcs_mls.rcs.payload import decode_varint, encode_varint

__all__ = ["CONTINUITY_LABEL", "TOKEN_LENGTH", "extensions", "token", "verify"]

#: [guess] The exporter label of the continuity token.
CONTINUITY_LABEL: Final = "RCS continuity token"
#: The commitment label (RCC.16 Annex C form).
COMMITMENT_LABEL: Final = b"continuity_token"
#: RCC16.md: 32 bytes.
TOKEN_LENGTH: Final = 32


def _opaque(value: bytes) -> bytes:
    return encode_varint(len(value)) + value


def _commitment(value: bytes) -> bytes:
    digest = hashlib.sha256(_opaque(COMMITMENT_LABEL) + _opaque(value)).digest()
    return _opaque(digest)


def token(old: Group, new_era: int) -> bytes:
    """The continuity token for re-creating ``old``'s conversation at ``new_era``."""
    return old.export_secret(CONTINUITY_LABEL, new_era.to_bytes(4, "big"), TOKEN_LENGTH)


def extensions(value: bytes) -> tuple[tuple[int, bytes], tuple[int, bytes]]:
    """``(GroupContext extension 0xF011, Welcome-only extension 0xF010)`` for a token."""
    return (
        (profile.EXT_CONTINUITY_COMMITMENT, _commitment(value)),
        (profile.EXT_CONTINUITY_TOKEN, _opaque(value)),
    )


def verify(
    old: Group,
    new_era: int,
    group_context_extensions: Iterable[tuple[int, bytes]],
    welcome_extensions: Iterable[tuple[int, bytes]],
) -> None:
    """Check that a Welcome into ``new_era`` of ``old``'s conversation was made by a
    member of ``old``'s current epoch.

    Raises:
        MembershipError: the era does not follow, a continuity extension is missing, or
            the token or commitment is not the one this member derives.
    """
    current = _era(old.extensions)
    if current is None or new_era <= current:
        raise MembershipError(f"era {new_era} does not follow this conversation's era {current}")
    expected = token(old, new_era)
    carried = dict(welcome_extensions).get(profile.EXT_CONTINUITY_TOKEN)
    committed = dict(group_context_extensions).get(profile.EXT_CONTINUITY_COMMITMENT)
    if carried is None or committed is None:
        raise MembershipError("a new era without a continuity token: not from a member")
    if _unframe(carried) != expected or committed != _commitment(expected):
        raise MembershipError("the continuity token is not this conversation's")


def _era(exts: Iterable[tuple[int, bytes]]) -> int | None:
    data = dict(exts).get(profile.EXT_ERA)
    return None if data is None or len(data) != 4 else int.from_bytes(data, "big")


def _unframe(value: bytes) -> bytes | None:
    try:
        length, offset = decode_varint(value, 0)
    except ParseError:
        return None
    return value[offset:] if offset + length == len(value) else None
