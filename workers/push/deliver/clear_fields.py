"""The clear chunks of a batch: fields the CRM cleared are cleared in Klaviyo
(:mod:`shared.planning.clearing` decides what; this module does it).

One ``update_profile`` (``PATCH /api/profiles/{id}``) per profile: ``null`` for each profile
field (``title``, ``phone_number``...), ``meta.patch_properties.unset`` for the custom
properties; the shared limiter paces it at Klaviyo's 75/s, 750/min (``update_profile``),
so 100,000 clears take about 2 h 13 min (docs/PERFORMANCE.md). The profile is the one
the sync learnt for a contact or the email; the rest are looked up, 100 emails a call. A
profile Klaviyo no longer has (404) has nothing left to clear. ``clear_done`` keeps the
progress (a rate limit re-sends the chunk; it goes on at the next profile). On commit, a
cleared phone is released for its next owner (``phone_owners``), and the chunk counts
``cleared_fields`` (profiles cleared).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import redis

from shared.identity import IdentityMap
from shared.klaviyo.errors import Rejected
from shared.planning.clearing import Clearing
from shared.state import phone_owners
from shared.state.chunk_record import COUNT_PREFIX, ChunkField, ChunkStatus, version_of
from workers.push.deliver import chunk_records as chunks
from workers.push.deliver.identity_ops import lookup_profiles
from workers.runtime.actor_context import Klaviyo


def clear_body(profile_id: str, clearing: Clearing) -> dict[str, Any]:
    """The ``update_profile`` body clearing ``clearing``'s fields and properties."""
    data: dict[str, Any] = {"type": "profile", "id": profile_id,
                            "attributes": dict.fromkeys(clearing.fields)}
    if clearing.properties:
        data["meta"] = {"patch_properties": {"unset": clearing.properties}}
    return {"data": data}


def _profiles(klaviyo: Klaviyo, identity: IdentityMap, clears: Sequence[Clearing]
              ) -> dict[str, str]:
    """email -> profile id of the clearings' profiles that exist."""
    by_contact = identity.profiles_of_contacts(c.contact_ids[0] for c in clears)
    found = {c.email: by_contact[c.contact_ids[0]] for c in clears
             if c.contact_ids[0] in by_contact}
    found.update(identity.profiles_of_emails(c.email for c in clears if c.email not in found))
    missing = [c.email for c in clears if c.email not in found]
    if missing:
        looked = lookup_profiles(klaviyo, missing)
        identity.learn(emails=looked)
        found.update(looked)
    return found


def clear_profiles(client: redis.Redis, klaviyo: Klaviyo, account: str, key: str,
                   fields: dict[str, str]) -> None:
    """Clear the chunk's fields in Klaviyo, then commit the chunk. Raises
    :class:`shared.klaviyo.errors.RateLimited` with the progress so far kept."""
    version = version_of(fields)
    clears = [Clearing.from_json(row) for row in orjson.loads(fields[ChunkField.ROWS])]
    first = int(fields.get(ChunkField.CLEAR_DONE) or 0)
    profiles = _profiles(klaviyo, IdentityMap(client, account), clears[first:])
    for index in range(first, len(clears)):
        clearing = clears[index]
        profile_id = profiles.get(clearing.email)
        if profile_id is not None:
            try:
                klaviyo.gateway.call("update_profile", klaviyo.api.Profiles.update_profile,
                                     profile_id, clear_body(profile_id, clearing))
            except Rejected as refused:
                if refused.status != 404:
                    raise
        client.hset(key, ChunkField.CLEAR_DONE, index + 1)
    phones = {c.phone: c.contact_ids for c in clears if c.phone}
    released = phone_owners.held_by(client, account, phones)

    def write(pipe: Any) -> None:
        phone_owners.release(pipe, account, released)
        pipe.hset(key, mapping={COUNT_PREFIX + "cleared_fields": len(clears),
                                ChunkField.STATUS: ChunkStatus.COMMITTED})

    chunks.write_if_unchanged(client, key, version, write)
