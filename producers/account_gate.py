"""Refusing events for accounts that are not configured (issue 19, finding 7).

The webhook, ``publish()`` and the importer call :func:`check_accounts` after validating a
request and before storing any of it: one event for an unknown account refuses the whole
request, naming each such event's index and ``account_id``, and nothing is stored (see
:mod:`shared.configured_accounts` for what "configured" means and what the check costs).
"""

from __future__ import annotations

from collections.abc import Sequence

import redis

from producers.validation import FieldError, SchemaError
from shared.configured_accounts import UNKNOWN_ACCOUNT, unconfigured


class UnknownAccounts(SchemaError):
    """Events whose ``account_id`` is not a configured account."""


def check_accounts(client: redis.Redis, events: Sequence[tuple[str, str | None]]) -> None:
    """``events``: each event's ``(account_id, event_id)`` in request order. Raises
    :class:`UnknownAccounts` when any account is not configured, ``redis.RedisError`` when
    Redis is unreachable."""
    missing = unconfigured(client, (account for account, _ in events))
    if missing:
        raise UnknownAccounts([FieldError(index, "account_id", UNKNOWN_ACCOUNT, event_id)
                               for index, (account, event_id) in enumerate(events)
                               if account in missing])
