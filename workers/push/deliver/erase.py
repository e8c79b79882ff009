"""The erase chunks of a batch: contacts erased in the CRM (``contact.erased``, GDPR art. 17)
are erased in Klaviyo, then forgotten in Redis (:mod:`shared.state.erasures`).

The batch planner puts every member whose mirror is an erasure's tombstone here
(:func:`workers.push.plan.chunking.erase_chunks`, at most
:data:`workers.push.plan.chunking.MAX_ERASURES` a chunk). Per contact, in order:

1. its Klaviyo profile is found from what the sync recorded: the profile id it learnt for
   the contact, else the one learnt for its email, else the email itself (Klaviyo then
   deletes every profile with that email); a contact the sync never sent has none and costs
   no call;
2. ``request_profile_deletion`` (``POST /api/data-privacy-deletion-jobs``, 202; Klaviyo
   deletes asynchronously; 3/s, 60/m, paced by the shared limiter: a spent budget re-sends
   the chunk, its progress kept). A 404 means there is nothing left to delete;
3. only then is it forgotten in Redis (the identifiers above were needed until Klaviyo took
   the request), the contacts Klaviyo took so far together (one pass over the streams), and
   ``erase_done`` moves on: a rate limit resumes at the next contact; a worker killed
   between a request and this step asks Klaviyo again (harmless: 202 or 404).

The chunk commits with the count ``erased`` (every contact of the chunk: erased now, or a
change older than an erasure that the collector refused and queued).
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import redis

from shared import constants as keys
from shared.identity import IdentityMap
from shared.klaviyo.errors import Rejected
from shared.state.chunk_record import COUNT_PREFIX, ChunkField, ChunkStatus, version_of
from shared.state.erasures import Trace, forget_contacts
from shared.state.synced_contacts import SyncedRecord
from workers.push.deliver import chunk_records as chunks
from workers.runtime.actor_context import Klaviyo

OPERATION = "request_profile_deletion"


def trace_of(client: redis.Redis, account: str, contact_id: str) -> Trace:
    """What Redis holds of the contact (see :class:`shared.state.erasures.Trace`)."""
    with client.pipeline(transaction=False) as pipe:
        pipe.hget(keys.synced_contacts(account), contact_id)
        pipe.zscore(keys.contact_times(account), contact_id)
        raw, erased_at = pipe.execute()
    record = SyncedRecord.load(raw) if raw else None
    email = record.email if record else None
    return Trace(contact_id, float(erased_at) if erased_at is not None else time.time(),
                 email=email, phone=record.phone if record else None,
                 profile_id=IdentityMap(client, account).profile_of(contact_id, email),
                 lists=tuple(record.lists) if record else ())


def deletion_body(trace: Trace) -> dict[str, Any] | None:
    """The ``request_profile_deletion`` body for the contact's profile (one identifier:
    Klaviyo refuses several), or None when the sync never sent it."""
    if trace.profile_id:
        profile: dict[str, Any] = {"type": "profile", "id": trace.profile_id, "attributes": {}}
    elif trace.email:
        profile = {"type": "profile", "attributes": {"email": trace.email}}
    else:
        return None
    return {"data": {"type": "data-privacy-deletion-job",
                     "attributes": {"profile": {"data": profile}}}}


def request_deletion(klaviyo: Klaviyo, body: dict[str, Any]) -> None:
    """Ask Klaviyo to delete the profile; a 404 (nothing left) is done too. Raises
    :class:`shared.klaviyo.errors.RateLimited` when the budget is spent."""
    try:
        klaviyo.gateway.call(OPERATION, klaviyo.api.Data_Privacy.request_profile_deletion,
                             body)
    except Rejected as refused:
        if refused.status != 404:
            raise


def erase_contacts(client: redis.Redis, klaviyo: Klaviyo, account: str, key: str,
                   fields: dict[str, str]) -> None:
    """Erase the chunk's contacts in Klaviyo and Redis, then commit the chunk."""
    version = version_of(fields)
    contact_ids: list[str] = orjson.loads(fields[ChunkField.ROWS])
    first = int(fields.get(ChunkField.ERASE_DONE) or 0)
    asked: list[Trace] = []
    try:
        for contact_id in contact_ids[first:]:
            trace = trace_of(client, account, contact_id)
            body = deletion_body(trace)
            if body is not None:
                request_deletion(klaviyo, body)
            asked.append(trace)
    finally:  # a rate limit (or any refusal) keeps what Klaviyo already took
        forget_contacts(client, account, asked)
        client.hset(key, ChunkField.ERASE_DONE, first + len(asked))

    def write(pipe: Any) -> None:
        pipe.hset(key, mapping={COUNT_PREFIX + "erased": len(contact_ids),
                                ChunkField.STATUS: ChunkStatus.COMMITTED})

    chunks.write_if_unchanged(client, key, version, write)
