"""Discovery: every page of an account's Klaviyo lists (10 a page), new lists recorded with
the time they were found, lists no longer there marked gone (and found again if they come
back). Only lists discovery knows are pulled, so a list created during the day waits for
the next discovery (nightly or ``contact-sync lists discover``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import redis

from shared import constants as keys
from shared.klaviyo.lists import all_lists
from workers.reverse.state import KnownList, known_lists, save_lists
from workers.runtime.actor_context import Klaviyo

log = logging.getLogger(__name__)


@dataclass
class Discovery:
    """What one discovery found (list ids)."""

    seen: int = 0
    new: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)


def klaviyo_lists(klaviyo: Klaviyo) -> dict[str, str]:
    """list id -> name, following every page (:func:`shared.klaviyo.lists.all_lists`)."""
    return {item.id: item.name for item in all_lists(klaviyo.gateway, klaviyo.api)}


def discover(client: redis.Redis, klaviyo: Klaviyo, account: str, now: float) -> Discovery:
    """Read every list from Klaviyo, then record what changed since the last discovery."""
    current = klaviyo_lists(klaviyo)
    known = {item.id: item for item in known_lists(client, account)}
    result = Discovery(seen=len(current))
    changed: list[KnownList] = []
    for list_id, name in current.items():
        before = known.get(list_id)
        if before is None:
            result.new.append(list_id)
            changed.append(KnownList(id=list_id, name=name, found_at=now))
        elif not before.active or before.name != name:
            if before.name != name:
                result.renamed.append(list_id)
            changed.append(before.model_copy(update={"name": name, "gone_at": None}))
    for list_id, before in known.items():
        if before.active and list_id not in current:
            result.gone.append(list_id)
            changed.append(before.model_copy(update={"gone_at": now}))
    save_lists(client, account, changed)
    client.hset(keys.pull_state(account), "discovered_at", repr(now))
    log.info("discovery of %s: %d lists, %d new, %d gone", account, result.seen,
             len(result.new), len(result.gone))
    return result
