"""The consent pull: what people changed of their consent inside Klaviyo reaches the CRM.

Once per pull of the account (every ``SYNC_LIST_PULL_INTERVAL``), incremental like the
member pull::

    started = now
    since   = stored cursor - lookback        (nothing stored: started - lookback)
    for each filter of SOURCES:               (get_profiles, 100 a page,
        every page of profiles matching it        additional-fields[profile]=subscriptions)
            -> each profile's email and SMS state (shared.consent.klaviyo_state)
            -> compared with the ledger, changes published once (shared.consent.ledger)
    cursor  = started

``updated`` moves whenever Klaviyo changes a profile, consent included; the two suppression
filters are the ones Klaviyo documents for email suppressions (a bounce or a complaint),
read as well so that a suppression is found even if it left ``updated`` alone. A profile read
twice (by two filters, or again after the lookback) publishes nothing the second time: the
ledger decides, atomically. Only profiles changed since the cursor are read, and only their
ledger records are looked at: a pull costs calls and Redis work in proportion to the changes,
never to the account's size. A pull cut short (rate limit, error) stores no cursor, so the
next attempt starts from the old one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis

from shared import constants as keys
from shared.consent.klaviyo_state import email_state, sms_state, subscriptions_of
from shared.consent.ledger import LedgerPage, SeenProfile
from shared.redis_text import optional_float
from workers.actors.common import Klaviyo
from workers.reverse.state import iso_seconds, pull_state

PAGE = 100
"""Profiles per call (Klaviyo's most for get_profiles)."""
LOOKBACK_S = 600.0
"""How far before the stored cursor each pull starts reading again."""
_SUPPRESSIONS = "subscriptions.email.marketing"
SOURCES: tuple[tuple[str, str], ...] = (
    ("greater-than(updated,{since})", "updated"),
    (f"greater-or-equal({_SUPPRESSIONS}.suppression.timestamp,{{since}})",
     f"{_SUPPRESSIONS}.suppression.timestamp"),
    (f"greater-or-equal({_SUPPRESSIONS}.list_suppressions.timestamp,{{since}})",
     f"{_SUPPRESSIONS}.list_suppressions.timestamp"),
)
"""(filter, sort) of each read: every profile changed since ``since``."""
CURSOR_FIELD = "consent_cursor"
"""In :func:`shared.constants.pull_state`: epoch s of the last complete consent pull's start."""
log = logging.getLogger(__name__)


@dataclass
class ConsentPullResult:
    """One consent pull: calls made, profiles read, changes published."""

    calls: int = 0
    read: int = 0
    published: int = 0


def _profile(item: dict[str, Any], default_list: str | None) -> SeenProfile:
    attrs = item.get("attributes") or {}
    subscriptions = subscriptions_of(item)
    return SeenProfile(
        profile_id=str(item["id"]), email=attrs.get("email"), phone=attrs.get("phone_number"),
        channels={"email": email_state(subscriptions, default_list),
                  "sms": sms_state(subscriptions)})


def _pages(klaviyo: Klaviyo, filter_: str, sort: str,
           result: ConsentPullResult) -> Iterator[list[dict[str, Any]]]:
    cursor: str | None = None
    while True:
        answer: Any = klaviyo.gateway.call(
            "get_profiles", klaviyo.api.Profiles.get_profiles, filter=filter_, sort=sort,
            page_size=PAGE, page_cursor=cursor, additional_fields_profile=["subscriptions"])
        result.calls += 1
        yield list((answer or {}).get("data") or [])
        cursor = ((answer or {}).get("links") or {}).get("next")
        if not cursor:
            return


def pull_consent(client: redis.Redis, klaviyo: Klaviyo, account: str, started: float,
                 lookback: float = LOOKBACK_S) -> ConsentPullResult:
    """One consent pull of the account; see the module docstring."""
    result = ConsentPullResult()
    if not client.hlen(keys.consent_ledger(account)):
        return result  # the CRM sent nobody yet: nothing to compare
    cursor = optional_float(pull_state(client, account).get(CURSOR_FIELD))
    since = iso_seconds(max(0.0, (cursor if cursor is not None else started) - lookback))
    default_list = klaviyo.account.default_list_id
    ledger = LedgerPage(client, account, started)
    for filter_, sort in SOURCES:
        for page in _pages(klaviyo, filter_.format(since=since), sort, result):
            result.read += len(page)
            result.published += ledger.publish([_profile(item, default_list) for item in page])
    client.hset(keys.pull_state(account), CURSOR_FIELD, repr(started))
    if result.published:
        log.info("consent pull of %s: %d profiles read in %d calls, %d changes published",
                 account, result.read, result.calls, result.published)
    return result
