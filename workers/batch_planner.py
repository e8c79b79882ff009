"""What a batch will do, decided from Redis state alone (no Klaviyo call): a :class:`Plan`.

Per member, in this order (each contact lands in exactly one outcome):

1. deleted in the CRM -> removed from the lists the sync put it in (if it was ever synced);
2. outside the account's filters (roles, company types; ``None`` = all; compared trimmed and
   case-insensitively) -> ``excluded_filter``;
3. empty or invalid email -> ``invalid_email`` (reason kept per contact);
4. the cap: when ``max_bulk_export`` > 0, the bulk members (every member on an account's
   initial import) sorted by ``occurred_at`` descending -- *most recently changed first* --
   the first N go on, the rest are ``held_back``; one-by-one changes are never capped;
5. contacts sharing a normalised email become ONE profile row: the newest ``occurred_at``
   state is sent, every contact of the group maps to the profile;
6. a row whose fingerprint equals what was last sent for each of its contacts ->
   ``unchanged``, nothing sent.

:func:`preview` runs steps 2-4 for ``contact-sync preview``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel

from shared.accounts import AccountConfig
from shared.emails import check_email
from shared.events import BULK_ORIGINS, MirroredContact


class SyncedRecord(BaseModel):
    """What was last sent to Klaviyo for one contact (hash ``synced_contacts``)."""

    email: str
    marketing: str = "unknown"
    lists: list[str] = []
    fingerprint: str = ""
    deleted: bool = False


@dataclass(frozen=True)
class Member:
    contact_id: str
    occurred_at: float
    bulk: bool


@dataclass
class Row:
    """One profile to upsert (one normalised email)."""

    email: str
    contact_ids: list[str]
    attributes: dict[str, Any]
    fingerprint: str
    marketing: str
    first_time: bool
    unsubscribe: bool
    """Send an email-marketing unsubscribe after the upsert."""

    def to_json(self) -> dict[str, Any]:
        return {"email": self.email, "contact_ids": self.contact_ids,
                "fingerprint": self.fingerprint, "marketing": self.marketing,
                "first_time": self.first_time, "unsubscribe": self.unsubscribe}


@dataclass(frozen=True)
class EmailChange:
    contact_id: str
    old_email: str
    new_email: str


@dataclass
class Plan:
    rows: list[Row] = field(default_factory=list)
    email_changes: list[EmailChange] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    """Contact ids to take out of their lists."""
    held_back: list[str] = field(default_factory=list)
    details: dict[str, dict[str, str]] = field(default_factory=dict)
    """contact id -> {outcome, reason} for the contacts not sent (invalid, filtered, held)."""
    counts: dict[str, int] = field(default_factory=dict)


def _norm(value: str | None) -> str:
    return (value or "").strip().casefold()


def matches_filters(account: AccountConfig, contact: MirroredContact) -> bool:
    roles, types = account.contact_roles, account.company_types
    if roles is not None and _norm(contact.contact.role) not in {_norm(r) for r in roles}:
        return False
    company_type = contact.contact.company.type if contact.contact.company else None
    return types is None or _norm(company_type) in {_norm(t) for t in types}


def profile_attributes(mirrored: MirroredContact, email: str) -> dict[str, Any]:
    """The Klaviyo profile attributes of a contact. The phone is sent as given (trimmed):
    Klaviyo decides, and its refusal is recorded with its reason."""
    contact = mirrored.contact
    company = contact.company
    properties = {
        **contact.properties,
        "crm_contact_id": contact.id,
        "role": contact.role,
        "company_type": company.type if company else None,
    }
    attributes = {
        "email": email,
        "phone_number": contact.phone.strip() if contact.phone and contact.phone.strip()
        else None,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "title": contact.job_title,
        "organization": company.name if company else None,
        "properties": {k: v for k, v in properties.items() if v is not None},
    }
    return {k: v for k, v in attributes.items() if v is not None}


def fingerprint(attributes: Mapping[str, Any], marketing: str) -> str:
    data = orjson.dumps({"a": attributes, "m": marketing}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha1(data).hexdigest()


@dataclass
class _Screened:
    eligible: list[tuple[Member, MirroredContact, str]]
    excluded_filter: list[str]
    invalid: dict[str, str]
    held_back: list[str]


def _screen(account: AccountConfig, members: Iterable[Member],
            contacts: Mapping[str, MirroredContact], initial: bool) -> _Screened:
    """Steps 2-4 over the members that are not deleted."""
    out = _Screened([], [], {}, [])
    capped: list[tuple[Member, MirroredContact, str]] = []
    for member in members:
        mirrored = contacts.get(member.contact_id)
        if mirrored is None or mirrored.deleted:
            continue
        if not matches_filters(account, mirrored):
            out.excluded_filter.append(member.contact_id)
            continue
        check = check_email(mirrored.contact.email)
        if check.email is None:
            out.invalid[member.contact_id] = check.reason or "invalid email"
            continue
        item = (member, mirrored, check.email)
        bulk = initial or member.bulk or mirrored.origin in BULK_ORIGINS
        (capped if bulk and account.max_bulk_export > 0 else out.eligible).append(item)
    capped.sort(key=lambda item: (-item[0].occurred_at, item[0].contact_id))
    out.eligible.extend(capped[: account.max_bulk_export])
    out.held_back = [item[0].contact_id for item in capped[account.max_bulk_export:]]
    return out


def plan_batch(account: AccountConfig, members: list[Member],
               contacts: Mapping[str, MirroredContact],
               synced: Mapping[str, SyncedRecord], initial: bool) -> Plan:
    plan = Plan()
    for member in members:
        mirrored = contacts.get(member.contact_id)
        record = synced.get(member.contact_id)
        if mirrored is not None and mirrored.deleted and record and not record.deleted:
            plan.deletes.append(member.contact_id)
    screened = _screen(account, members, contacts, initial)
    for cid in screened.excluded_filter:
        plan.details[cid] = {"outcome": "excluded_filter", "reason": "outside the filters"}
    for cid, reason in screened.invalid.items():
        plan.details[cid] = {"outcome": "invalid_email", "reason": reason}
    for cid in screened.held_back:
        plan.details[cid] = {"outcome": "held_back", "reason": "over the bulk export cap"}
    plan.held_back = screened.held_back

    groups: dict[str, list[tuple[Member, MirroredContact]]] = {}
    for member, mirrored, email in screened.eligible:
        groups.setdefault(email, []).append((member, mirrored))
        record = synced.get(member.contact_id)
        if record and not record.deleted and record.email != email:
            plan.email_changes.append(EmailChange(member.contact_id, record.email, email))
    unchanged = 0
    for email, group in groups.items():
        group.sort(key=lambda item: (-item[0].occurred_at, item[0].contact_id))
        winner = group[0][1]
        attributes = profile_attributes(winner, email)
        marketing = winner.contact.marketing
        print_ = fingerprint(attributes, marketing)
        ids = [m.contact_id for m, _ in group]
        records = [synced.get(cid) for cid in ids]
        if all(r is not None and not r.deleted and r.fingerprint == print_ for r in records):
            unchanged += len(ids)
            continue
        sent_unsubscribed = any(r is not None and r.marketing == "unsubscribed"
                                for r in records)
        plan.rows.append(Row(
            email=email, contact_ids=ids, attributes=attributes, fingerprint=print_,
            marketing=marketing, first_time=all(r is None for r in records),
            unsubscribe=marketing == "unsubscribed" and not sent_unsubscribed))
    plan.counts = {
        "contacts": len(members),
        "excluded_filter": len(screened.excluded_filter),
        "invalid_email": len(screened.invalid),
        "held_back": len(screened.held_back),
        "unchanged": unchanged,
    }
    return plan


@dataclass(frozen=True)
class Preview:
    matching: int
    """Contacts matching the filters (unsubscribed ones included)."""
    invalid_email: int
    over_cap: int

    @property
    def would_send(self) -> int:
        return self.matching - self.invalid_email - self.over_cap


def preview(account: AccountConfig, members: list[Member],
            contacts: Mapping[str, MirroredContact], initial: bool) -> Preview:
    """What a batch of ``members`` would send: counts only, no Klaviyo call."""
    screened = _screen(account, members, contacts, initial)
    matching = len(screened.eligible) + len(screened.invalid) + len(screened.held_back)
    return Preview(matching, len(screened.invalid), len(screened.held_back))
