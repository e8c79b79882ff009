"""Which accounts are *configured*: the producers store events only for those.

An account is configured when it was created through ``contact-sync accounts add``, the
account API (``PUT /v1/accounts/{account}``) or an OAuth connection: it is a member of
:data:`shared.constants.ACCOUNTS_SET` and has its settings hash
(:func:`shared.constants.account_config`). ``default`` (the environment's account) always
is. Before issue 19 every unknown ``account_id`` in an event made the collector create an
account (four keys and a scheduler warning each), so junk ids could slow the real accounts'
batches.

The check reads Redis each time, with no per-process cache: it is one round trip per
request whatever its size (one ``SMISMEMBER`` for the distinct names of the request and
one ``EXISTS`` each, pipelined), and a deleted account is refused from the moment
:func:`shared.state.account_purge.forget_account` takes it out of the set -- its first step.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis

from shared import constants as keys
from shared.accounts import DEFAULT_ACCOUNT

UNKNOWN_ACCOUNT = (
    "no account of this name is configured; create it first (contact-sync accounts add, "
    "or PUT /v1/accounts/{account_id}), then send its events again"
)
"""The error message of an event whose account is not configured (never the value)."""


def unconfigured(client: redis.Redis, names: Iterable[str]) -> set[str]:
    """The names among ``names`` that are not configured accounts (empty: all are).

    One round trip for any number of names; raises ``redis.RedisError`` when Redis is
    unreachable."""
    distinct = sorted(set(names) - {DEFAULT_ACCOUNT})
    if not distinct:
        return set()
    with client.pipeline(transaction=False) as pipe:
        pipe.smismember(keys.ACCOUNTS_SET, distinct)
        for name in distinct:
            pipe.exists(keys.account_config(name))
        members, *stored = pipe.execute()
    return {name for name, member, has_settings in zip(distinct, members, stored, strict=True)
            if not (member and has_settings)}
