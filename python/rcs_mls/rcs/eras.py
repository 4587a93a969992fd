"""A conversation's previous era, kept for its late messages (RCC16.md §2).

An era advance re-creates the conversation as a new MLS group under the same group id.
Members that have not seen the new era's Welcome yet go on sending in the old group for
a while; their messages arrive after the receiver moved on. So the previous era's group
is not erased at the advance: it moves into an archive of the client's store
(:meth:`rcs_mls.Client.archive_group`: the same database, a key space of its own) and is
read from there, for :data:`~rcs_mls.rcs.profile.PREVIOUS_ERA_KEPT_SECONDS` at most,
then erased. One previous era is kept: a second advance erases the first.

What is read from it is narrow, because the old group is exactly what a removed device
and a replaying delivery service still hold keys or copies for: only application
messages (``message/mls``), with the old era's headers, an epoch authenticator the
receiver knew in that era, decrypted by OpenMLS in the archived group (a message is
read once: its key is used up there), and only from a device that was at its leaf in
the old group's last epoch and whose participant is in the new era. Commits, proposals
and receipts of the old era are refused: nothing in it changes the conversation any more.
"""

from __future__ import annotations

import base64
import contextlib
import math
import time
from dataclasses import dataclass
from typing import Any

from rcs_mls._native import Client, Group
from rcs_mls.exceptions import InvalidArgumentError
from rcs_mls.rcs import profile

__all__ = ["PreviousEra", "archive_name", "is_era_archive"]


_ARCHIVE_PREFIX = b"rcs-era/"


def archive_name(era: int) -> bytes:
    """The archive of the client's store that keeps a conversation's era ``era`` (the
    group id tells conversations apart inside it)."""
    return _ARCHIVE_PREFIX + str(era).encode("ascii")


def is_era_archive(name: bytes) -> bool:
    """Whether ``name`` is an archive :func:`archive_name` makes."""
    return name.startswith(_ARCHIVE_PREFIX)


@dataclass
class PreviousEra:
    """The era before the current one, still read until :attr:`expires`."""

    era: int
    #: The archived MLS group of that era.
    group: Group
    #: The epoch authenticators this device knew in that era, by epoch.
    authenticators: dict[int, bytes]
    #: Unix time after which the era is no longer read (and is erased).
    expires: float

    @classmethod
    def kept(
        cls, client: Client, group_id: bytes, era: int, authenticators: dict[int, bytes]
    ) -> PreviousEra:
        """The era ``era`` of ``group_id``, just archived (by :meth:`Client.archive_group`
        or :meth:`StagedWelcome.join` with ``archive_previous``)."""
        return cls(
            era,
            client.load_archived_group(archive_name(era), group_id),
            dict(authenticators),
            time.time() + profile.PREVIOUS_ERA_KEPT_SECONDS,
        )

    def expired(self, now: float | None = None) -> bool:
        """Whether the kept window is over."""
        return (time.time() if now is None else now) >= self.expires

    def forget(self, client: Client) -> None:
        """Erase the archived group and its secrets (absent already is fine)."""
        with contextlib.suppress(InvalidArgumentError):
            client.delete_archived_group(archive_name(self.era), self.group.group_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "era": self.era,
            "expires": self.expires,
            "authenticators": {
                str(epoch): base64.b64encode(a).decode("ascii")
                for epoch, a in self.authenticators.items()
            },
        }

    @classmethod
    def from_json(cls, client: Client, group_id: bytes, saved: Any) -> PreviousEra | None:
        """The previous era as :meth:`to_json` saved it, or None when its archive is gone.

        Raises:
            ValueError, KeyError, TypeError: not what :meth:`to_json` wrote.
        """
        if not isinstance(saved, dict) or not isinstance(saved["authenticators"], dict):
            raise TypeError("not a saved previous era")
        era, expires = saved["era"], saved["expires"]
        if type(era) is not int or era < 0 or type(expires) not in (int, float):
            raise TypeError("not a saved previous era")
        if not math.isfinite(expires):
            raise ValueError("not a saved previous era")
        # Never later than a window from now: a store cannot keep an era open for good.
        expires = min(float(expires), time.time() + profile.PREVIOUS_ERA_KEPT_SECONDS)
        authenticators = {
            int(epoch): base64.b64decode(a, validate=True)
            for epoch, a in saved["authenticators"].items()
        }
        try:
            group = client.load_archived_group(archive_name(era), group_id)
        except InvalidArgumentError:
            return None
        return cls(era, group, authenticators, expires)
