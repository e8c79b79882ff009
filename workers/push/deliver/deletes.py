"""The delete chunks of a batch: contacts deleted in the CRM leave the lists the sync put
them in. A Klaviyo profile is never deleted; the synced record is kept (lists emptied,
marked deleted) so a contact that comes back is not treated as new. The leave chunks
(``kind`` ``leave``) are the same for contacts that stopped matching the account's filters,
counted ``left_filters``: not marked deleted, owed the default list (``list_owed``) so they
rejoin it when they match again; a filter change that moves many out takes this same
chunked, resumable path.

A batch's deletes are spread over chunks of at most
:data:`workers.push.plan.chunking.MAX_DELETES` contacts (``SYNC_CHUNK_MAX_DELETES`` lowers
it), so that one list removal call (Klaviyo takes 1,000 profiles per call) serves a chunk's
members of a list. Only
contacts the sync put in a list need Klaviyo at all. Each step keeps its progress in the
chunk hash, so a rate limit or a killed worker resumes where it stopped, never from zero:

1. ``lookup``: the emails of listed contacts whose profile id is not known (the ids of big
   import jobs are not read: docs/KLAVIYO.md), looked up 100 per call; after each call
   the ids found are learnt (identity maps) and ``lookup_done`` moves on.
2. ``lists_done``: the (list, offset) removal calls already answered. A list Klaviyo no
   longer has (404 on the call and on the list itself) has nobody left to remove; any other
   refusal fails the message (Dramatiq retries it, progress kept).
3. the records and the count ``removed_from_lists`` are written with the status
   ``committed`` in one MULTI, only if no other delivery committed first.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
import redis

from shared.identity import IdentityMap
from shared.klaviyo.errors import Rejected
from shared.state.account_health import owe_list
from shared.state.chunk_record import COUNT_PREFIX, ChunkField, ChunkKind, ChunkStatus, version_of
from shared.state.synced_contacts import SyncedRecord, read_synced, write_synced
from workers.push.deliver import chunk_records as chunks
from workers.push.deliver.identity_ops import PAGE, lookup_page
from workers.runtime.actor_context import Klaviyo

LIST_CALL_MAX = 1000
log = logging.getLogger(__name__)


def _known(identity: IdentityMap, listed: dict[str, SyncedRecord]) -> dict[str, str]:
    """contact -> profile id, from the identity maps (by contact, then by email)."""
    profiles = identity.profiles_of_contacts(listed)
    unknown = [cid for cid in listed if cid not in profiles]
    by_email = identity.profiles_of_emails({listed[cid].email for cid in unknown})
    profiles.update({cid: by_email[listed[cid].email] for cid in unknown
                     if listed[cid].email in by_email})
    return profiles


def _look_up(client: redis.Redis, klaviyo: Klaviyo, identity: IdentityMap, key: str,
             fields: dict[str, str], listed: dict[str, SyncedRecord],
             profiles: dict[str, str]) -> None:
    """Step 1: fills ``profiles`` with what Klaviyo knows of the rest, 100 emails a call."""
    if "lookup" in fields:
        emails: list[str] = orjson.loads(fields[ChunkField.LOOKUP])
    else:
        emails = sorted({r.email for cid, r in listed.items() if cid not in profiles})
        client.hset(key, mapping={ChunkField.LOOKUP: orjson.dumps(emails),
                                  ChunkField.LOOKUP_DONE: 0})
    contacts_of: dict[str, list[str]] = {}
    for cid, record in listed.items():
        if cid not in profiles:
            contacts_of.setdefault(record.email, []).append(cid)
    for start in range(int(fields.get(ChunkField.LOOKUP_DONE) or 0), len(emails), PAGE):
        part = emails[start:start + PAGE]
        found = lookup_page(klaviyo, part)
        learnt = {cid: pid for email, pid in found.items() for cid in contacts_of.get(email, ())}
        with client.pipeline(transaction=True) as pipe:
            identity.learn(contacts=learnt, emails=found, pipe=pipe)
            pipe.hset(key, ChunkField.LOOKUP_DONE, start + len(part))
            pipe.execute()
        profiles.update(learnt)


def _list_exists(klaviyo: Klaviyo, list_id: str) -> bool:
    """After a 404 on a removal: is it the list that is gone (not a profile of the call)?"""
    try:
        klaviyo.gateway.call("get_list", klaviyo.api.Lists.get_list, list_id)
    except Rejected as refused:
        if refused.status == 404:
            return False
        raise
    return True


def _remove(client: redis.Redis, klaviyo: Klaviyo, key: str, fields: dict[str, str],
            listed: dict[str, SyncedRecord], profiles: dict[str, str]) -> None:
    """Step 2: one call per list (and 1,000 profiles), each answered call noted."""
    done: set[str] = set(orjson.loads(fields.get(ChunkField.LISTS_DONE) or "[]"))
    by_list: dict[str, set[str]] = {}
    for cid, record in listed.items():
        if cid in profiles:
            for list_id in record.lists:
                by_list.setdefault(list_id, set()).add(profiles[cid])
    for list_id, members in sorted(by_list.items()):
        ids = sorted(members)
        for start in range(0, len(ids), LIST_CALL_MAX):
            step = f"{list_id}:{start}"
            if step in done:
                continue
            body = {"data": [{"type": "profile", "id": pid}
                             for pid in ids[start:start + LIST_CALL_MAX]]}
            try:
                klaviyo.gateway.call("remove_profiles_from_list",
                                     klaviyo.api.Lists.remove_profiles_from_list, list_id, body)
            except Rejected as refused:
                if refused.status != 404 or _list_exists(klaviyo, list_id):
                    raise
                log.warning("list %s is gone from Klaviyo: its deleted contacts are out of it",
                            list_id)
            done.add(step)
            client.hset(key, ChunkField.LISTS_DONE, orjson.dumps(sorted(done)))


def remove_deleted(client: redis.Redis, klaviyo: Klaviyo, account: str, key: str,
                   fields: dict[str, str]) -> None:
    """Take the chunk's deleted contacts out of their lists and commit the chunk. Raises
    :class:`shared.klaviyo.errors.RateLimited` with the progress so far kept."""
    version = version_of(fields)
    records = read_synced(client, account, orjson.loads(fields[ChunkField.ROWS]))
    listed = {cid: record for cid, record in records.items() if record.lists}
    identity = IdentityMap(client, account)
    profiles = _known(identity, listed)
    _look_up(client, klaviyo, identity, key, fields, listed, profiles)
    _remove(client, klaviyo, key, fields, listed, profiles)
    removed = sum(1 for cid in listed if cid in profiles)

    leave = fields.get(ChunkField.KIND) == ChunkKind.LEAVE

    def write(pipe: Any) -> None:
        write_synced(pipe, account, {
            cid: record.model_copy(update={"lists": [], "deleted": not leave, "fingerprint": ""})
            for cid, record in records.items()})
        if leave:  # they rejoin the default list when they match again
            owe_list(pipe, account, listed)
        count = "left_filters" if leave else "removed_from_lists"
        pipe.hset(key, mapping={COUNT_PREFIX + count: removed,
                                ChunkField.STATUS: ChunkStatus.COMMITTED})

    chunks.write_if_unchanged(client, key, version, write)
