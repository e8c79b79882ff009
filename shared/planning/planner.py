"""What a batch will do, decided from Redis state alone (no Klaviyo call): a :class:`Plan`.

Per member, in this order (each contact lands in exactly one outcome):

1. erased in the CRM -> erased in Klaviyo and in Redis (:mod:`workers.push.deliver.erase`);
   deleted in the CRM -> removed from the lists the sync put it in (if it was ever synced);
2. outside the account's filters (roles, company types; ``None`` = all; compared trimmed and
   case-insensitively) -> ``excluded_filter``; one the sync put in lists leaves them
   (``left_filters``, :func:`shared.planning.clearing.leaving`) and rejoins when it matches again;
3. empty or invalid email -> ``invalid_email`` (reason kept per contact);
4. the cap: when ``max_bulk_export`` > 0, the bulk members (every member on an account's
   initial import) sorted by ``occurred_at`` descending -- *most recently changed first* --
   the first N go on, the rest are ``held_back``; one-by-one changes are never capped;
5. contacts sharing a normalised email become ONE profile row: the newest ``occurred_at``
   state is sent, every contact of the group maps to the profile. A batch is planned a
   slice at a time, newest members first (:mod:`workers.push.plan.stream`): an email first seen
   in an earlier slice is a :class:`Claim`, and a later contact of it a :class:`Join`;
6. a contact whose profile cannot be sent (not encodable as JSON, over Klaviyo's 100 KB per
   profile) -> ``unencodable`` with the reason;
7. phones (docs/KLAVIYO.md §3): read into E.164 in the account's phone region; an
   unreadable one is left off (``phone_dropped``); one shared by two or more rows of the
   account (a switchboard) is never sent (``phone_shared``). A phone is never part of the
   profile row: it goes in the chunk's second, phone-only job, once Klaviyo has accepted
   the row (so the email owns its profile and the phone cannot pick another one);
8. a row whose fingerprint equals what was last sent for each of its contacts, whose phone
   is already there, that owes no list and clears nothing -> ``unchanged``, nothing sent;
9. an attribute (or the phone) sent before that the CRM no longer has -> a
   :class:`shared.planning.clearing.Clearing`, cleared by ``update_profile`` after the batch's
   import (bulk imports ignore nulls).

Steps 2-4 are :mod:`shared.screening` (the preview of the CLI and the account API runs them
too).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from shared.accounts import AccountConfig
from shared.events import BULK_ORIGINS, MirroredContact
from shared.field_map import FieldMap, mapped_attributes, parse_field_map
from shared.phones import normalise_phone
from shared.planning.claims import Claim, Join
from shared.planning.clearing import Clearing, leaving, sent_names, to_clear
from shared.planning.consent_wish import consent_wish, with_consent
from shared.screening import Member, matches_filters, preview, screen
from shared.state.synced_contacts import FINGERPRINT_HEX, SyncedRecord

MAX_PROFILE_BYTES = 100 * 1024
"""Klaviyo's limit per profile in a bulk import job."""
SHARED = "*"
"""The owner recorded for a phone that two or more contacts share."""


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
    join_list: bool = False
    """Goes in a chunk with the default list (first time, or owed it, and not unsubscribed)."""
    phone: str | None = None
    """E.164 phone to send in the phone-only job after the row is accepted (None: none)."""
    clear: Clearing | None = None
    """What Klaviyo holds that the CRM cleared (:mod:`shared.planning.clearing`)."""
    consent: dict[str, Any] | None = None
    """The consent the CRM sent with a time
    (:func:`shared.planning.consent_wish.consent_wish`)."""

    def to_json(self) -> dict[str, Any]:
        found = {"email": self.email, "contact_ids": self.contact_ids,
                 "fingerprint": self.fingerprint, "marketing": self.marketing,
                 "first_time": self.first_time, "unsubscribe": self.unsubscribe,
                 "join_list": self.join_list, "phone": self.phone,
                 "sent": sent_names(self.attributes),
                 "phone_cleared": bool(self.clear and self.clear.phone)}
        if self.consent:
            found["consent"] = self.consent
        return found


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
    clears: list[Clearing] = field(default_factory=list)
    leaves: list[str] = field(default_factory=list)
    """Contact ids outside the filters now that the sync put in lists: they leave them."""
    """Profiles with fields to clear (:mod:`workers.push.deliver.clear_fields`)."""
    erasures: list[str] = field(default_factory=list)
    """Contact ids erased (``contact.erased``): :mod:`workers.push.deliver.erase`."""
    held_back: list[str] = field(default_factory=list)
    details: dict[str, dict[str, str]] = field(default_factory=dict)
    """contact id -> {outcome, reason} for the contacts not sent (invalid, filtered, held,
    unencodable) and for those sent without their phone (phone_dropped, phone_shared)."""
    counts: dict[str, int] = field(default_factory=dict)
    phone_claims: dict[str, str] = field(default_factory=dict)
    """E.164 phone -> owning contact id, or :data:`SHARED`: to store in ``phone_owners``."""
    owe_list: list[str] = field(default_factory=list)
    """First-time contacts sent without the default list because Klaviyo refused it."""
    claims: dict[str, Claim] = field(default_factory=dict)
    """email -> the outcome of its row, for the slices still to come."""
    merged: list[Join] = field(default_factory=list)
    """Members joining a row an earlier slice sent: added to that row's contacts."""
    reopened: dict[str, list[Join]] = field(default_factory=dict)
    """email -> members joining a row an earlier slice found unchanged, while they are not:
    the row is planned again with them."""
    turned_shared: list[str] = field(default_factory=list)
    """Phones that had one owner and are now shared: no row of the batch may send them."""
    cap_taken: int = 0
    """Bulk members let through the cap so far, this slice and the ones before."""


@dataclass(frozen=True)
class Context:
    """What a plan needs beyond the members, read from Redis by the batch actor."""

    phone_owners: Mapping[str, str] = field(default_factory=dict)
    """E.164 -> contact id or :data:`SHARED`, for the phones of the batch's contacts."""
    owed_list: frozenset[str] = frozenset()
    """Contacts of the batch owed the default list (it was missing when they synced)."""
    list_missing: bool = False
    """The default list is set but Klaviyo refused it: chunks go without it."""
    unreadable: Mapping[str, str] = field(default_factory=dict)
    """contact id -> why its mirrored state could not be read."""
    cap_taken: int = 0
    """Bulk members earlier slices let through the cap."""
    claims: Callable[[Sequence[str]], Mapping[str, Claim]] | None = None
    """Looks up the emails earlier slices claimed (None: this is the whole batch)."""


def profile_attributes(mirrored: MirroredContact, email: str,
                       field_map: FieldMap | None = None) -> dict[str, Any]:
    """The Klaviyo profile attributes of a contact, without the phone (sent apart): the
    account's field map's (values that would not convert left off: :func:`mapping_errors`
    says which), or the default profile."""
    if field_map is not None:
        return mapped_attributes(mirrored.contact, email, field_map)[0]
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
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "title": contact.job_title,
        "organization": company.name if company else None,
        "properties": {k: v for k, v in properties.items() if v is not None},
    }
    return {k: v for k, v in attributes.items() if v is not None}


def fingerprint(attributes: Mapping[str, Any], marketing: str) -> str:
    data = orjson.dumps({"a": attributes, "m": marketing}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha1(data).hexdigest()[:FINGERPRINT_HEX]


def unencodable_reason(attributes: Mapping[str, Any]) -> str | None:
    """Why a profile cannot go to Klaviyo (not JSON, over 100 KB), or None."""
    try:
        size = len(orjson.dumps({"type": "profile", "attributes": attributes}))
    except (TypeError, orjson.JSONEncodeError) as error:
        return f"cannot be encoded as JSON ({type(error).__name__}: {str(error)[:80]})"
    if size > MAX_PROFILE_BYTES:
        return f"profile is {size:,} bytes, over Klaviyo's limit of {MAX_PROFILE_BYTES:,}"
    return None


@dataclass
class _Candidate:
    """A row before phones are settled and unchanged rows dropped."""

    row: Row
    records: list[SyncedRecord | None]
    phone: str | None


def _note(plan: Plan, ids: Iterable[str], outcome: str, reason: str) -> None:
    for cid in ids:
        plan.details[cid] = {"outcome": outcome, "reason": reason}
        plan.counts[outcome] = plan.counts.get(outcome, 0) + 1


def _candidates(account: AccountConfig, plan: Plan, eligible: Iterable[
        tuple[Member, MirroredContact, str]], synced: Mapping[str, SyncedRecord],
        context: Context) -> list[_Candidate]:
    """Step 5-6: one candidate row per normalised email; email changes noted."""
    groups: dict[str, list[tuple[Member, MirroredContact]]] = {}
    for member, mirrored, email in eligible:
        groups.setdefault(email, []).append((member, mirrored))
        record = synced.get(member.contact_id)
        if record and not record.deleted and record.email != email:
            plan.email_changes.append(EmailChange(member.contact_id, record.email, email))
    out: list[_Candidate] = []
    list_ok = bool(account.default_list_id) and not context.list_missing
    field_map = parse_field_map(account.field_map)
    claimed = context.claims(list(groups)) if context.claims and groups else {}
    for email, group in groups.items():
        group.sort(key=lambda item: (-item[0].occurred_at, item[0].contact_id))
        if email in claimed:
            _join(plan, claimed[email], email, [m for m, _ in group], synced, context)
            continue
        winner = group[0][1]
        ids = [m.contact_id for m, _ in group]
        if field_map is not None:
            attributes, errors = mapped_attributes(winner.contact, email, field_map)
            if errors:
                _note(plan, ids, "mapping_error",
                      "; ".join(f"{target}: {reason}" for target, reason in errors))
        else:
            attributes = profile_attributes(winner, email)
        problem = unencodable_reason(attributes)
        if problem:
            plan.claims[email] = Claim(ids[0], "unencodable")
            _note(plan, ids, "unencodable", problem)
            continue
        marketing = winner.contact.marketing
        records = [synced.get(cid) for cid in ids]
        first_time = all(r is None for r in records)
        owed = any(cid in context.owed_list for cid in ids)
        wants_list = (first_time or owed) and marketing != "unsubscribed"
        if wants_list and account.default_list_id and context.list_missing:
            plan.owe_list += ids
        sent_unsubscribed = any(r is not None and r.marketing == "unsubscribed"
                                for r in records)
        phone = normalise_phone(winner.contact.phone, account.phone_region)
        if phone.reason:
            _note(plan, ids, "phone_dropped", phone.reason)
        consent = consent_wish(winner.contact)
        out.append(_Candidate(Row(
            email=email, contact_ids=ids, attributes=attributes,
            fingerprint=fingerprint(attributes, with_consent(marketing, consent)),
            marketing=marketing, first_time=first_time,
            unsubscribe=marketing == "unsubscribed" and not sent_unsubscribed,
            join_list=wants_list and list_ok,
            clear=to_clear(email, ids, attributes, records, not winner.contact.phone),
            consent=consent), records, phone.e164))
    return out


def _join(plan: Plan, claim: Claim, email: str, members: list[Member],
          synced: Mapping[str, SyncedRecord], context: Context) -> None:
    """Members of an email an earlier slice claimed: each joins the claimed row."""
    for member in members:
        cid = member.contact_id
        record = synced.get(cid)
        join = Join(cid, email, member.occurred_at, record is None, cid in context.owed_list,
                    record is not None and record.marketing == "unsubscribed")
        if claim.state == "unencodable":
            _note(plan, [cid], "unencodable",
                  "shares its email with a contact whose profile cannot be sent")
        elif claim.state == "row":
            plan.merged.append(join)
        elif (record is not None and not record.deleted and not join.owed
              and record.fingerprint == claim.fingerprint):
            plan.counts["unchanged"] = plan.counts.get("unchanged", 0) + 1
        else:
            plan.reopened.setdefault(email, []).append(join)


def _settle_phones(plan: Plan, candidates: list[_Candidate], context: Context) -> None:
    """Step 7: a phone goes to the one row that owns it; a shared one to nobody."""
    rows_of: dict[str, list[_Candidate]] = {}
    for candidate in candidates:
        if candidate.phone:
            rows_of.setdefault(candidate.phone, []).append(candidate)
    for phone, users in rows_of.items():
        owner = context.phone_owners.get(phone)
        ids = users[0].row.contact_ids
        if len(users) > 1 or owner == SHARED or (owner is not None and owner not in ids):
            if owner not in (None, SHARED) and not any(owner in u.row.contact_ids
                                                       for u in users):
                plan.turned_shared.append(phone)
            plan.phone_claims[phone] = SHARED
            for user in users:
                _note(plan, user.row.contact_ids, "phone_shared",
                      "the phone is shared by several contacts of the account")
            continue
        if owner is None:
            plan.phone_claims[phone] = ids[0]
        user = users[0]
        if any(r is None or r.phone != phone for r in user.records):
            user.row.phone = phone
        elif user.row.consent and "sms" in user.row.consent:
            user.row.consent["phone"] = phone  # on the profile already: SMS consent uses it


def plan_batch(account: AccountConfig, members: list[Member],
               contacts: Mapping[str, MirroredContact],
               synced: Mapping[str, SyncedRecord], initial: bool,
               context: Context | None = None) -> Plan:
    context = context or Context()
    plan = Plan()
    for member in members:
        mirrored = contacts.get(member.contact_id)
        record = synced.get(member.contact_id)
        if mirrored is not None and mirrored.erased:
            plan.erasures.append(member.contact_id)
        elif mirrored is not None and mirrored.deleted and record and not record.deleted:
            plan.deletes.append(member.contact_id)
    screened = screen(account, members, contacts, initial, context.cap_taken)
    plan.cap_taken = context.cap_taken + sum(
        1 for member, mirrored, _ in screened.eligible
        if account.max_bulk_export > 0
        and (initial or member.bulk or mirrored.origin in BULK_ORIGINS))
    for cid in screened.excluded_filter:
        plan.details[cid] = {"outcome": "excluded_filter", "reason": "outside the filters"}
    plan.leaves = leaving(screened.excluded_filter, synced)
    for cid, reason in screened.invalid.items():
        plan.details[cid] = {"outcome": "invalid_email", "reason": reason}
    for cid in screened.held_back:
        plan.details[cid] = {"outcome": "held_back", "reason": "over the bulk export cap"}
    plan.held_back = screened.held_back
    plan.counts = {"unencodable": 0, "phone_dropped": 0, "phone_shared": 0, "unchanged": 0}
    for cid, reason in context.unreadable.items():
        _note(plan, [cid], "unencodable", reason)
    candidates = _candidates(account, plan, screened.eligible, synced, context)
    _settle_phones(plan, candidates, context)
    unchanged = 0
    for candidate in candidates:
        row = candidate.row
        if row.clear:
            plan.clears.append(row.clear)
        if (not row.join_list and row.phone is None and not row.clear
                and all(r is not None and not r.deleted and r.fingerprint == row.fingerprint
                        for r in candidate.records)):
            unchanged += len(row.contact_ids)
            plan.claims[row.email] = Claim(row.contact_ids[0], "unchanged", row.fingerprint)
            continue
        plan.claims[row.email] = Claim(row.contact_ids[0], "row")
        plan.rows.append(row)
    plan.counts.update({
        "contacts": len(members),
        "excluded_filter": len(screened.excluded_filter),
        "invalid_email": len(screened.invalid),
        "held_back": len(screened.held_back),
        "unchanged": unchanged + plan.counts["unchanged"],
    })
    return plan


__all__ = ["Context", "EmailChange", "Member", "Plan", "Row", "fingerprint",
           "matches_filters", "plan_batch", "preview", "profile_attributes"]
