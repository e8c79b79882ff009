"""Whether Klaviyo takes an account's credentials: the ``connection*`` fields of the
account's state hash (:func:`shared.constants.state`), written by workers when Klaviyo
refuses a key (``refused``) or an OAuth refresh (``reconnect_needed``), and cleared by a
new key or connection. Here, in shared, so that the OAuth callback of ``web`` and the
workers write them the same way. Codes and Klaviyo's sentences only: no personal data.
"""

from __future__ import annotations

from typing import Any

from shared import constants as keys
from shared.state.account_state import StateField

CONNECTION_FIELDS = (StateField.CONNECTION, StateField.CONNECTION_CODE,
                     StateField.CONNECTION_DETAIL, StateField.CONNECTION_SINCE)
PARKED_STATES = ("refused", "reconnect_needed")


def park(pipe: Any, account: str, state: str, code: str, detail: str, now: float) -> None:
    """Record a refusal in ``pipe`` (the first refusal's time is kept while it lasts)."""
    pipe.hsetnx(keys.state(account), "connection_since", repr(now))
    pipe.hset(keys.state(account), mapping={
        "connection": state, "connection_code": code, "connection_detail": detail[:300]})
    pipe.sadd(keys.REFUSED_ACCOUNTS, account)


def clear(pipe: Any, account: str) -> None:
    """The account's credentials work (again), in ``pipe``."""
    pipe.hdel(keys.state(account), *CONNECTION_FIELDS)
    pipe.srem(keys.REFUSED_ACCOUNTS, account)
