"""Cleared is cleared: what the CRM stopped sending (a field, a property, the phone, or
the match with the account's filters) is undone in Klaviyo too.

A bulk import job ignores nulls (docs/KLAVIYO.md section 11), so a field the CRM sends as
null, or a property it leaves out, would stay in Klaviyo for good. The synced record keeps
the NAMES of the attributes last sent non-null (``SyncedRecord.sent``; names, never
values: ``title``, ``properties.ltv``), so the planner knows what Klaviyo holds without
asking it: a name sent before and absent now is to be cleared, and so is the phone Klaviyo
confirmed when the CRM's phone is now empty. Only such contacts cost a call
(:mod:`workers.push.deliver.clear_fields`: ``update_profile`` with ``null`` for profile fields,
``meta.patch_properties.unset`` for properties). A record stored before names were kept
clears nothing until the contact has been synced once more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.state.synced_contacts import SyncedRecord

PROPERTY = "properties."
"""The prefix of a custom property's name in :func:`sent_names`."""


@dataclass(frozen=True)
class Clearing:
    """One profile's fields to clear: the profile fields (``title``, ``phone_number``...)
    and the custom properties, by name; the phone to release for its next owner."""

    email: str
    contact_ids: list[str]
    fields: list[str]
    properties: list[str]
    phone: str | None = None
    """The E.164 phone Klaviyo holds for the contact that the CRM cleared."""

    def __bool__(self) -> bool:
        return bool(self.fields or self.properties)

    def to_json(self) -> dict[str, Any]:
        return {"email": self.email, "contact_ids": self.contact_ids, "fields": self.fields,
                "properties": self.properties, "phone": self.phone}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Clearing:
        return cls(value["email"], list(value["contact_ids"]), list(value["fields"]),
                   list(value["properties"]), value.get("phone"))


def leaving(excluded: Iterable[str], synced: Mapping[str, SyncedRecord]) -> list[str]:
    """The contacts outside the filters that the sync put in lists: they leave them, as a
    CRM delete does (the profile and its consent kept), and are owed the default list
    again (``list_owed``), so they rejoin it when they match the filters again."""
    return [cid for cid in excluded
            if (record := synced.get(cid)) is not None and not record.deleted and record.lists]


def sent_names(attributes: Mapping[str, Any]) -> list[str]:
    """The names of the non-null attributes of a profile row (the email is never cleared)."""
    names = [name for name in attributes if name not in ("email", "properties")]
    names += [PROPERTY + key for key in attributes.get("properties") or {}]
    return sorted(names)


def to_clear(email: str, contact_ids: list[str], attributes: Mapping[str, Any],
             records: Sequence[SyncedRecord | None], phone_empty: bool) -> Clearing | None:
    """What to clear of the row's profile: names its contacts' records say were sent and
    ``attributes`` no longer hold; the phone when the CRM's is empty (None: nothing)."""
    before: set[str] = set()
    for record in records:
        if record is not None and not record.deleted and record.sent:
            before.update(record.sent)
    phone = next((r.phone for r in records if r is not None and not r.deleted and r.phone),
                 None) if phone_empty else None
    if not before and not phone:
        return None  # nothing sent before (a new contact): nothing to clear
    gone = sorted(before - set(sent_names(attributes)))
    fields = [name for name in gone if not name.startswith(PROPERTY)]
    if phone:
        fields.append("phone_number")
    clearing = Clearing(email, contact_ids, fields,
                        [name[len(PROPERTY):] for name in gone if name.startswith(PROPERTY)],
                        phone)
    return clearing if clearing else None
