"""The contacts the bulk export cap held back: the sorted set
:func:`shared.constants.held_back` (contact id -> when a plan last held it back).

The one module that writes it: the plan holds back the bulk members over the cap
(:func:`hold_back`, ``workers/push/plan/stream.py``); a chunk's commit releases the contacts
it synced (``workers/push/deliver/chunk_records.py``) and an erasure the erased ones
(:mod:`shared.state.erasures`), both through :func:`release`. Forgetting the account deletes
it whole (:mod:`shared.state.account_purge`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared import constants as keys


def hold_back(pipe: Any, account: str, contact_ids: Iterable[str], now: float) -> None:
    """Note that the cap held these contacts back (in ``pipe``)."""
    held = dict.fromkeys(contact_ids, now)
    if held:
        pipe.zadd(keys.held_back(account), held)


def release(pipe: Any, account: str, contact_ids: Iterable[str]) -> None:
    """These contacts are no longer held back: synced, or erased (in ``pipe``)."""
    ids = list(contact_ids)
    if ids:
        pipe.zrem(keys.held_back(account), *ids)
