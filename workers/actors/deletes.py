"""The delete chunk of a batch: contacts deleted in the CRM leave the lists the sync put
them in. A Klaviyo profile is never deleted; the synced record is kept (lists emptied,
marked deleted) so a contact that comes back is not treated as new."""

from __future__ import annotations

from typing import Any

import orjson
import redis

from shared import constants as keys
from shared.identity import IdentityMap
from workers.actors.common import Klaviyo
from workers.actors.identity_ops import lookup_profiles
from workers.batch_planner import SyncedRecord

LIST_CALL_MAX = 1000


def remove_deleted(client: redis.Redis, klaviyo: Klaviyo, account: str,
                   fields: dict[str, str]) -> dict[str, int]:
    """Take the chunk's deleted contacts out of their lists; the chunk's counts. Raises
    :class:`shared.klaviyo.errors.RateLimited` before anything is recorded."""
    contact_ids: list[str] = orjson.loads(fields["rows"])
    raw: list[Any] = client.hmget(keys.synced_contacts(account), contact_ids)  # type: ignore[assignment]
    records = {cid: SyncedRecord.load(r)
               for cid, r in zip(contact_ids, raw, strict=True) if r}
    identity = IdentityMap(client, account)
    profiles = identity.profiles_of_contacts(records)
    by_email = identity.profiles_of_emails(r.email for c, r in records.items()
                                           if c not in profiles)
    missing = [r.email for c, r in records.items()
               if c not in profiles and r.email not in by_email]
    by_email.update(lookup_profiles(klaviyo, missing) if missing else {})
    by_list: dict[str, list[str]] = {}
    for cid, record in records.items():
        profile_id = profiles.get(cid) or by_email.get(record.email)
        for list_id in record.lists if profile_id else []:
            by_list.setdefault(list_id, []).append(profile_id or "")
    removed: set[str] = set()
    for list_id, ids in sorted(by_list.items()):
        for start in range(0, len(ids), LIST_CALL_MAX):
            body = {"data": [{"type": "profile", "id": pid}
                             for pid in ids[start:start + LIST_CALL_MAX]]}
            klaviyo.gateway.call("remove_profiles_from_list",
                                 klaviyo.api.Lists.remove_profiles_from_list, list_id, body)
            removed.update(ids[start:start + LIST_CALL_MAX])
    with client.pipeline(transaction=True) as pipe:
        for cid, record in records.items():
            kept = record.model_copy(update={"lists": [], "deleted": True, "fingerprint": ""})
            pipe.hset(keys.synced_contacts(account), cid, kept.dump())
        pipe.execute()
    count = sum(1 for cid, r in records.items()
                if (profiles.get(cid) or by_email.get(r.email)) in removed)
    return {"removed_from_lists": count}
