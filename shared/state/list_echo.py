"""No echo: members the push side itself put in a list are not published as sign-ups.

The push side records the normalised emails of a bulk import's rows in
:func:`shared.constants.list_pushed` *before* it sends the import with that list, so a
pull can never see such a member before the record exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import redis

from shared import constants as keys
from shared.emails import normalise_email


def record_pushed(client: redis.Redis, account: str, list_id: str, emails: Iterable[str]) -> None:
    """Remember that the push side is putting these emails in ``list_id``."""
    normalised = sorted({normalise_email(email) for email in emails if email})
    if normalised:
        client.sadd(keys.list_pushed(account, list_id), *normalised)


def pushed_flags(client: redis.Redis, account: str, list_id: str,
                 emails: Sequence[str | None]) -> list[bool]:
    """For each email, whether the push side put it in the list."""
    wanted = [normalise_email(email) if email else "" for email in emails]
    if not any(wanted):
        return [False] * len(wanted)
    found = client.smismember(keys.list_pushed(account, list_id), wanted)
    return [bool(flag) and bool(email) for flag, email in zip(found, wanted, strict=True)]
