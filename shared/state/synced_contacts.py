"""The synced contacts record: the hash :func:`shared.constants.synced_contacts`, contact id
-> what was last sent to Klaviyo for it (a :class:`SyncedRecord`).

Its one owner: the planner reads it (:func:`read_synced`, to tell an unchanged contact or an
email change), the chunk's commit writes what Klaviyo took (:func:`write_synced`), a delete
keeps the record with its lists emptied, so a contact that comes back is not new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import redis
from pydantic import BaseModel

from shared import constants as keys
from shared.state.contact_mirror import CODE_MARKETING, MARKETING_CODES

FINGERPRINT_HEX = 16
"""Hex digits of a fingerprint kept: 64 bits, so a changed profile is taken for unchanged
with a chance of 2**-64 (the old one compared with the new, contact by contact)."""


class SyncedRecord(BaseModel):
    """What was last sent to Klaviyo for one contact.

    Stored compactly (:meth:`dump`, :meth:`load`): a JSON array by position, ``[email,
    marketing code, lists, fingerprint, phone, deleted 0/1(, sent)]``, about half the JSON object
    it replaces; a record stored as that object still loads (its fingerprint cut to
    :data:`FINGERPRINT_HEX` digits, so an unchanged contact stays unchanged)."""

    email: str
    marketing: str = "unknown"
    lists: list[str] = []
    fingerprint: str = ""
    """Of the profile row (without the phone, which is sent apart)."""
    phone: str | None = None
    """The E.164 phone Klaviyo confirmed for the contact's profile."""
    deleted: bool = False
    sent: list[str] | None = None
    """The names of the attributes last sent non-null (``title``, ``properties.ltv``...;
    never a value): what to clear when the CRM stops sending one
    (:mod:`shared.planning.clearing`). None for a record stored before names were kept."""

    @classmethod
    def load(cls, raw: bytes | str) -> SyncedRecord:
        """A stored record, of either form."""
        value = orjson.loads(raw)
        if isinstance(value, dict):
            record = cls.model_validate(value)
            return record.model_copy(
                update={"fingerprint": record.fingerprint[:FINGERPRINT_HEX]})
        email, marketing, lists, fingerprint_, phone, deleted, *sent = value
        return cls.model_construct(
            email=email, marketing=CODE_MARKETING.get(marketing, marketing), lists=lists,
            fingerprint=fingerprint_, phone=phone, deleted=bool(deleted),
            sent=sent[0] if sent else None)

    def dump(self) -> bytes:
        """The stored form (``sent`` a seventh position, when known)."""
        stored = [self.email, MARKETING_CODES.get(self.marketing, self.marketing),
                  self.lists, self.fingerprint, self.phone, int(self.deleted)]
        return orjson.dumps(stored if self.sent is None else [*stored, self.sent])


def read_synced(client: redis.Redis, account: str, contact_ids: Sequence[str]
                ) -> dict[str, SyncedRecord]:
    """The records of those of ``contact_ids`` that were ever synced (one ``HMGET``)."""
    if not contact_ids:
        return {}
    raw: list[Any] = client.hmget(keys.synced_contacts(account), contact_ids)
    return {cid: SyncedRecord.load(found)
            for cid, found in zip(contact_ids, raw, strict=True) if found is not None}


def write_synced(pipe: Any, account: str, records: Mapping[str, SyncedRecord]) -> None:
    """Queue the new records of these contacts on ``pipe`` (one ``HSET``)."""
    if records:
        pipe.hset(keys.synced_contacts(account),
                  mapping={cid: record.dump() for cid, record in records.items()})


def none_synced(client: redis.Redis, account: str) -> bool:
    """True while no contact of the account was ever synced (its first sync)."""
    return int(client.hlen(keys.synced_contacts(account))) == 0
