"""Asking Klaviyo whether an account's key and default list are real, before storing them.

A wrong key or an unknown list would otherwise show up only later, as contacts refused in
every batch. One call through the official SDK and the shared gateway (rate limiter,
metrics, error mapping): ``get_list`` when there is a list to check (it proves the key
too: a wrong key is 401 before the list is looked up), otherwise ``get_lists`` with a
page of one. ``--no-check`` skips it (offline set-up, a Klaviyo that is down).

A transient answer (a 429, a 5xx, a dropped connection, the CDN's HTML 403) is asked again,
up to :data:`CHECK_ATTEMPTS` times, paced as the sync is: after a 429 as long as Klaviyo
(or the shared limiter) says, otherwise 1 s, 2 s, 4 s (the gateway's guesses for a 429
without ``Retry-After``); only then is Klaviyo called unreachable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from shared.accounts import AccountConfig
from shared.klaviyo.access import access_for
from shared.klaviyo.errors import AccountRefused, KlaviyoError, RateLimited, Rejected, Transient
from shared.klaviyo.gateway import DEFAULT_RETRY_AFTER, MAX_GUESSED_WAIT

NO_CHECK = "or give --no-check to store it without asking Klaviyo"
CHECK_ATTEMPTS = 4
"""Calls of the check before a transient answer counts as Klaviyo being unreachable."""
MAX_CHECK_WAIT_S = 30.0
"""At most this long is waited between tries, in all (a request or a command waits)."""


class CheckFailed(Exception):
    """Klaviyo refused the key or the list, or could not be asked; one line, no secret.

    ``code``: Klaviyo's error code (``""`` when Klaviyo could not be asked); ``field``:
    what was refused, ``api_key`` or ``default_list_id``."""

    def __init__(self, message: str, *, code: str = "", field: str = "api_key") -> None:
        super().__init__(message)
        self.code = code
        self.field = field


@dataclass(frozen=True)
class Checked:
    """What Klaviyo confirmed, and a warning worth printing (``None``: nothing to say)."""

    key: bool
    list_id: str | None
    warning: str | None = None


def _refusal(error: Rejected, list_id: str | None, hint: str) -> CheckFailed | str:
    """A refusal to print and stop on, or a warning (text) to print and go on with."""
    said = f"{error.status} {error.code}".strip()
    if isinstance(error, AccountRefused) and error.status == 401:
        return CheckFailed(f"Klaviyo refused the key ({said}): nothing stored; check the "
                           f"key, {hint}", code=error.code)
    if isinstance(error, AccountRefused):  # 403: the key works, but lacks this scope
        what = f"whether list {list_id!r} exists" if list_id else "its lists"
        return (f"warning: Klaviyo accepted the key but would not show {what} ({said}): "
                f"the key lacks lists:read, which list discovery needs")
    if list_id and error.status == 404:
        return CheckFailed(f"Klaviyo has no list {list_id!r} in this key's account ({said}): "
                           f"nothing stored; check the list id, {hint}", code=error.code,
                           field="default_list_id")
    return CheckFailed(f"Klaviyo refused the check ({said}): nothing stored; {hint}",
                       code=error.code)


def with_retries(ask: Callable[[], Any], sleep: Callable[[float], None] = time.sleep) -> Any:
    """``ask()``, again after a transient answer (see the module docstring); the last
    answer's error propagates."""
    waited = 0.0
    for attempt in range(CHECK_ATTEMPTS):
        try:
            return ask()
        except (RateLimited, Transient) as error:
            wait = (error.retry_in if isinstance(error, RateLimited)
                    else min(DEFAULT_RETRY_AFTER * 2 ** attempt, MAX_GUESSED_WAIT))
            if attempt == CHECK_ATTEMPTS - 1 or waited + wait > MAX_CHECK_WAIT_S:
                raise
            sleep(wait)
            waited += wait
    raise AssertionError("unreachable")  # pragma: no cover


def check_with_klaviyo(client: redis.Redis, config: AccountConfig, list_id: str | None,
                       hint: str = NO_CHECK) -> Checked:
    """Ask Klaviyo about the account's key (and ``list_id``); raises :class:`CheckFailed`
    (its message ends with ``hint``: what else the caller may do). An OAuth account is
    asked over its Bearer token."""
    api, gateway = access_for(client, config)

    def ask() -> Any:
        if list_id:
            return gateway.call("get_list", api.Lists.get_list, list_id)
        return gateway.call("get_lists", api.Lists.get_lists, page_size=1)

    try:
        with_retries(ask)
    except Rejected as error:
        found = _refusal(error, list_id, hint)
        if isinstance(found, CheckFailed):
            raise found from None
        return Checked(key=True, list_id=None, warning=found)
    except RateLimited as error:
        raise CheckFailed(f"Klaviyo asks to wait {error.retry_in:.0f} s before the check: "
                          f"nothing stored; try again, {hint}") from None
    except KlaviyoError as error:
        raise CheckFailed(f"could not reach Klaviyo at {config.klaviyo_base_url} to check "
                          f"the key ({error}, {CHECK_ATTEMPTS} tries): nothing stored; "
                          f"try again, {hint}") from None
    return Checked(key=True, list_id=list_id)
