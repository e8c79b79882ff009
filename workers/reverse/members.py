"""Member pulls (incremental, every interval) and the daily full pass (removals).

Incremental pull of one list::

    started = now
    since   = stored cursor - lookback            (nothing stored: every member)
    every page of get_profiles_for_list(filter=greater-or-equal(joined_group_at, since),
                                        sort=joined_group_at, 100 a page)
        -> echo filtered out -> published once (the members set decides, atomically)
    cursor  = started                             (never later than the pull's start)

``greater-or-equal`` and the lookback re-read the edge (a member who joins in the same
second as the cursor, a member Klaviyo shows a little late, clocks that disagree);
re-read members are dropped by the members set. A pull cut short (rate limit, error)
stores no cursor, so the next attempt starts from the old one: nothing is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from shared import constants as keys
from shared.redis_text import as_text, optional_float
from shared.state.list_echo import pushed_flags
from workers.reverse.crm_outbox import Member, Publisher
from workers.reverse.state import iso_seconds, list_cursor
from workers.runtime.actor_context import Klaviyo

MEMBERS_PAGE = 100
LOOKBACK_S = 600.0
"""How far before the stored cursor each pull starts reading again."""


@dataclass
class PullResult:
    """One list's pull: members read, published as new, skipped as the push side's own."""

    read: int = 0
    published: int = 0
    echoes: int = 0


def _member_pages(klaviyo: Klaviyo, list_id: str, since: float | None) -> Any:
    cursor: str | None = None
    filter_ = f"greater-or-equal(joined_group_at,{iso_seconds(since)})" if since else None
    while True:
        answer: Any = klaviyo.gateway.call(
            "get_profiles_for_list", klaviyo.api.Lists.get_profiles_for_list, list_id,
            filter=filter_, sort="joined_group_at", page_size=MEMBERS_PAGE,
            page_cursor=cursor, additional_fields_profile=["subscriptions"])
        yield [Member.from_resource(item) for item in (answer or {}).get("data") or []]
        cursor = ((answer or {}).get("links") or {}).get("next")
        if not cursor:
            return


def pull_list(client: redis.Redis, klaviyo: Klaviyo, publisher: Publisher, started: float,
              lookback: float = LOOKBACK_S) -> PullResult:
    """Pull the members who joined since the list's cursor; see the module docstring."""
    account, list_id = publisher.account, publisher.list_id
    cursor = optional_float(list_cursor(client, account, list_id).get("joined_group_at"))
    since = max(0.0, cursor - lookback) if cursor is not None else None
    result = PullResult()
    for page in _member_pages(klaviyo, list_id, since):
        result.read += len(page)
        echoes = pushed_flags(client, account, list_id, [m.email for m in page])
        for member, echo in zip(page, echoes, strict=True):
            if echo:
                result.echoes += 1
            elif publisher.added(member):
                result.published += 1
    key = keys.list_cursor(account, list_id)
    pipe = client.pipeline()
    pipe.hset(key, mapping={"joined_group_at": repr(started), "last_pull_at": repr(started)})
    pipe.hincrby(key, "members_pulled", result.published)
    pipe.execute()
    return result


def current_member_ids(klaviyo: Klaviyo, list_id: str) -> set[str]:
    """Every member's profile id (the relationship endpoint: ids only, 100 a page)."""
    found: set[str] = set()
    cursor: str | None = None
    while True:
        answer: Any = klaviyo.gateway.call(
            "get_profile_ids_for_list", klaviyo.api.Lists.get_profile_ids_for_list, list_id,
            page_size=MEMBERS_PAGE, page_cursor=cursor)
        found.update(str(item["id"]) for item in (answer or {}).get("data") or [])
        cursor = ((answer or {}).get("links") or {}).get("next")
        if not cursor:
            return found


def find_removals(client: redis.Redis, klaviyo: Klaviyo, publisher: Publisher) -> int:
    """The full pass: members we published who are no longer in the list become
    ``subscriber.removed``. Run after an incremental pull, in the same (serialised) pull
    of the account, so a member who joined meanwhile is simply not known yet."""
    current = current_member_ids(klaviyo, publisher.list_id)
    known: Any = client.smembers(keys.list_members(publisher.account, publisher.list_id))
    gone = sorted({as_text(k) for k in known} - current)
    return sum(1 for profile_id in gone if publisher.removed(profile_id))
