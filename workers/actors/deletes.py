"""The delete chunks of a batch: contacts deleted in the CRM leave the lists the sync put
them in. A Klaviyo profile is never deleted; the synced record is kept (lists emptied,
marked deleted) so a contact that comes back is not treated as new. The leave chunks
(``kind`` ``leave``) are the same for contacts that stopped matching the account's filters,
counted ``left_filters``: not marked deleted, owed the default list (``list_owed``) so they
rejoin it when they match again; a filter change that moves many out takes this same
chunked, resumable path.

A batch's deletes are spread over chunks of at most :data:`MAX_DELETES` contacts
(:func:`delete_chunks`; ``SYNC_CHUNK_MAX_DELETES`` lowers it), so that one list removal
call (Klaviyo takes 1,000 profiles per call) serves a chunk's members of a list. Only
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
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import redis

from shared import constants as keys
from shared.identity import IdentityMap
from shared.klaviyo.errors import Rejected
from shared.settings import get_settings
from shared.state.batch_records import ChunkStatus
from workers.actors import chunk_records as chunks
from workers.actors.common import Klaviyo
from workers.actors.identity_ops import PAGE, lookup_page
from workers.batch_planner import SyncedRecord

MAX_DELETES = 1000
"""Contacts per delete chunk (``SYNC_CHUNK_MAX_DELETES`` lowers it)."""
LIST_CALL_MAX = 1000
log = logging.getLogger(__name__)


def delete_chunks(contact_ids: Sequence[str], kind: str = "delete"
                  ) -> Iterator[dict[str, Any]]:
    """The chunk hashes of a batch's deleted contacts (``kind`` ``leave``: of its contacts
    that left the filters), at most :data:`MAX_DELETES` each."""
    size = min(MAX_DELETES, get_settings().tuning.chunk_max_deletes or MAX_DELETES)
    for start in range(0, len(contact_ids), size):
        yield {"kind": kind, "status": ChunkStatus.PLANNED, "list_id": "",
               "rows": orjson.dumps(list(contact_ids[start:start + size]))}


def _records(client: redis.Redis, account: str, contact_ids: list[str]
             ) -> dict[str, SyncedRecord]:
    raw: list[Any] = client.hmget(keys.synced_contacts(account), contact_ids)  # type: ignore[assignment]
    return {cid: SyncedRecord.load(r)
            for cid, r in zip(contact_ids, raw, strict=True) if r}


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
        emails: list[str] = orjson.loads(fields["lookup"])
    else:
        emails = sorted({r.email for cid, r in listed.items() if cid not in profiles})
        client.hset(key, mapping={"lookup": orjson.dumps(emails), "lookup_done": 0})
    contacts_of: dict[str, list[str]] = {}
    for cid, record in listed.items():
        if cid not in profiles:
            contacts_of.setdefault(record.email, []).append(cid)
    for start in range(int(fields.get("lookup_done") or 0), len(emails), PAGE):
        part = emails[start:start + PAGE]
        found = lookup_page(klaviyo, part)
        learnt = {cid: pid for email, pid in found.items() for cid in contacts_of.get(email, ())}
        with client.pipeline(transaction=True) as pipe:
            identity.learn(contacts=learnt, emails=found, pipe=pipe)
            pipe.hset(key, "lookup_done", start + len(part))
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
    done: set[str] = set(orjson.loads(fields.get("lists_done") or "[]"))
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
            client.hset(key, "lists_done", orjson.dumps(sorted(done)))


def remove_deleted(client: redis.Redis, klaviyo: Klaviyo, account: str, key: str,
                   fields: dict[str, str]) -> None:
    """Take the chunk's deleted contacts out of their lists and commit the chunk. Raises
    :class:`shared.klaviyo.errors.RateLimited` with the progress so far kept."""
    version = fields.get("version") or "0"
    records = _records(client, account, orjson.loads(fields["rows"]))
    listed = {cid: record for cid, record in records.items() if record.lists}
    identity = IdentityMap(client, account)
    profiles = _known(identity, listed)
    _look_up(client, klaviyo, identity, key, fields, listed, profiles)
    _remove(client, klaviyo, key, fields, listed, profiles)
    removed = sum(1 for cid in listed if cid in profiles)

    leave = fields.get("kind") == "leave"

    def write(pipe: Any) -> None:
        for cid, record in records.items():
            kept = record.model_copy(update={"lists": [], "deleted": not leave,
                                             "fingerprint": ""})
            pipe.hset(keys.synced_contacts(account), cid, kept.dump())
        if leave and listed:  # they rejoin the default list when they match again
            pipe.sadd(keys.list_owed(account), *listed)
        count = "left_filters" if leave else "removed_from_lists"
        pipe.hset(key, mapping={chunks.CHUNK_COUNT + count: removed,
                                "status": ChunkStatus.COMMITTED})

    chunks.write_if_unchanged(client, key, version, write)
