"""Who holds each phone of an account: the hash :func:`shared.constants.phone_owners`
(E.164 -> the contact id sent with it, or ``*`` once several contacts share it).

The one module that reads and writes it: the plan reads the owners of a slice's phones
(:func:`owners_of`; the preview of the next batch too) and claims the phones its rows send
(:func:`claim`, ``workers/push/plan/stream.py``); a contact whose phone the CRM cleared
(``workers/push/deliver/clear_fields.py``), or that was erased (:mod:`shared.state.erasures`),
releases the phones it holds (:func:`held_by`, :func:`release`). A shared phone names
none of its contacts and stays. Forgetting the account deletes it whole
(:mod:`shared.state.account_purge`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import redis

from shared import constants as keys
from shared.redis_text import as_text


def owners_of(client: redis.Redis, account: str, phones: Sequence[str]) -> dict[str, str]:
    """Phone -> its owner (a contact id, or ``*``), for those of ``phones`` claimed."""
    if not phones:
        return {}
    values: list[Any] = client.hmget(keys.phone_owners(account), list(phones))
    return {ph: as_text(v) for ph, v in zip(phones, values, strict=True) if v}


def held_by(client: redis.Redis, account: str,
            holders: Mapping[str, Collection[str]]) -> list[str]:
    """Those of the phones (phone -> contact ids) that one of their contact ids holds."""
    phones = list(holders)
    owners = owners_of(client, account, phones)
    return [phone for phone in phones if owners.get(phone) in holders[phone]]


def claim(pipe: Any, account: str, claims: Mapping[str, str]) -> None:
    """Phone -> its new owner (a contact id, or ``*``), in ``pipe``."""
    if claims:
        pipe.hset(keys.phone_owners(account), mapping=dict(claims))


def release(pipe: Any, account: str, phones: Iterable[str]) -> None:
    """These phones are free for their next owner (in ``pipe``)."""
    freed = list(phones)
    if freed:
        pipe.hdel(keys.phone_owners(account), *freed)
