"""What a chunk of the push side does about consent, beside its bulk import.

Profiles stage (:func:`email_consent`, once the import job is complete, before the chunk's
unsubscribes):

1. the chunk's contacts go into the consent ledger (:mod:`shared.consent.ledger`), so the
   consent pull knows which profiles the CRM sent;
2. rows whose CRM consent has a time (``marketing: subscribed`` + ``marketing_consented_at``)
   are checked against Klaviyo: one ``get_profiles`` of up to 100 emails with
   ``additional-fields[profile]=subscriptions`` per 100 such rows (never a read of every
   profile). **Newest wins**: a profile whose unsubscribe, spam complaint or suppression in
   Klaviyo is newer than the CRM's consent time is not subscribed (counted
   ``consent_older_than_klaviyo``); a hard bounce or invalid email stays suppressed
   (``consent_hard_bounced``); the others are subscribed as a historical import
   (``historical_import: true``, ``consented_at``: no double opt-in, no "Added to list"
   flow), in the default list when the account has one (``consent_subscribed``);
3. the ledger records what the sync is itself setting *before* it sends it (its
   unsubscribes, its subscribes), so a pull never reports the sync's own doing back.

Rows with SMS consent but no sendable phone are counted ``sms_excluded`` with the reason.

SMS (:func:`sms_consent`: in the phones stage, once the phone job put each phone on its own
profile; in the profiles stage for a phone already on the profile): SMS consent with a time
subscribes the phone the same way (guarded by Klaviyo's SMS consent
time: ``consent_older_than_klaviyo``), ``sms_marketing: unsubscribed`` unsubscribes it.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from shared.consent.klaviyo_state import as_time, subscriptions_of
from shared.consent.ledger import SentContact, record_sent
from shared.emails import normalise_email
from shared.klaviyo.errors import Rejected
from workers.actors.chunk_records import CHUNK_COUNT
from workers.actors.common import Klaviyo

UNSUBSCRIBED_KEY = "unsubscribed:UNSUBSCRIBE"
"""What Klaviyo shows after the sync's own email unsubscribe (consent and suppression)."""
SUBSCRIBED_KEY = "subscribed:"
PAGE = 100
LIFTED = ("UNSUBSCRIBE", "SPAM_COMPLAINT", "SPAM_REPORT", "USER_SUPPRESSED")
"""Suppressions Klaviyo's subscribe job lifts: newest-wins is the sync's to keep."""
STAYING = ("HARD_BOUNCE", "INVALID_EMAIL")
"""Suppressions a subscribe does not lift."""
NO_PHONE = "SMS consent without a sendable phone (missing, not valid, or shared)"
Row = dict[str, Any]
Outcome = tuple[dict[str, dict[str, str]], Counter[str]]


def _lookup(klaviyo: Klaviyo, emails: Sequence[str]) -> dict[str, dict[str, Any]]:
    """normalised email -> that profile's ``subscriptions`` (100 emails a call)."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(emails), PAGE):
        part = list(emails[start:start + PAGE])
        answer: Any = klaviyo.gateway.call(
            "get_profiles", klaviyo.api.Profiles.get_profiles,
            filter=f"any(email,{json.dumps(part)})", page_size=PAGE,
            additional_fields_profile=["subscriptions"])
        for item in (answer or {}).get("data") or []:
            email = normalise_email((item.get("attributes") or {}).get("email") or "")
            if email:
                found[email] = dict(subscriptions_of(item))
    return found


def _against(channel: dict[str, Any], reasons: Iterable[str]) -> datetime | None:
    """The newest time Klaviyo recorded against marketing on a channel: its unsubscribe
    and the given suppressions."""
    times = [as_time(s.get("timestamp")) for s in channel.get("suppression") or []
             if s.get("reason") in reasons]
    if channel.get("consent") == "UNSUBSCRIBED":
        times.append(as_time(channel.get("consent_timestamp")))
    found = [t for t in times if t is not None]
    return max(found) if found else None


def _decide(marketing: dict[str, Any], wanted: datetime, counts: Counter[str],
            email: bool) -> bool:
    """Whether the CRM's consent of ``wanted`` may subscribe (newest wins)."""
    if email and any(s.get("reason") in STAYING for s in marketing.get("suppression") or []):
        counts["consent_hard_bounced"] += 1
        return False
    against = _against(marketing, LIFTED)
    if against is not None and against > wanted:
        counts["consent_older_than_klaviyo"] += 1
        return False
    return True


def _consented_at(wanted: datetime) -> str:
    """The time sent as ``consented_at``: never later than now (Klaviyo refuses a future
    time; the CRM's clock may run a little ahead, which the webhook allows)."""
    latest = datetime.now(UTC) - timedelta(seconds=1)
    return min(wanted, latest).isoformat()


def _subscribe(klaviyo: Klaviyo, rows: list[tuple[dict[str, Any], str]], channel: str,
               list_id: str | None) -> None:
    """Historical-import subscribes, 100 a job (with the default list when given; a list
    Klaviyo refuses is dropped and the job sent without it)."""
    for start in range(0, len(rows), PAGE):
        profiles = [{"type": "profile", "attributes": {
            **identity, "subscriptions": {channel: {"marketing": {
                "consent": "SUBSCRIBED", "consented_at": at}}}}}
            for identity, at in rows[start:start + PAGE]]
        body: dict[str, Any] = {"data": {
            "type": "profile-subscription-bulk-create-job",
            "attributes": {"historical_import": True, "profiles": {"data": profiles}}}}
        if list_id:
            body["data"]["relationships"] = {"list": {"data": {"type": "list", "id": list_id}}}
        try:
            klaviyo.gateway.call("bulk_subscribe_profiles",
                                 klaviyo.api.Profiles.bulk_subscribe_profiles, body)
        except Rejected:
            if not list_id:
                raise
            body["data"].pop("relationships")
            klaviyo.gateway.call("bulk_subscribe_profiles",
                                 klaviyo.api.Profiles.bulk_subscribe_profiles, body)


def _phone(row: Row) -> str | None:
    """The row's sendable E.164 phone: sent in this chunk's phone stage, or confirmed on its
    profile before (then the plan put it in the row's consent)."""
    found = row.get("phone") or (row.get("consent") or {}).get("phone")
    return str(found) if found else None


def _wanted(row: Row, name: str) -> datetime | None:
    raw = (row.get("consent") or {}).get(name)
    return as_time(raw) if raw else None


def email_consent(client: redis.Redis, klaviyo: Klaviyo, account: str,
                  rows: Sequence[Row]) -> Outcome:
    """The profiles stage's consent (see the module docstring); details and counts for the
    batch report."""
    details: dict[str, dict[str, str]] = {}
    counts: Counter[str] = Counter()
    for row in rows:
        if (row.get("consent") or {}).get("sms") and not _phone(row):
            counts["sms_excluded"] += len(row["contact_ids"])
            details.update({cid: {"outcome": "sms_excluded", "reason": NO_PHONE}
                            for cid in row["contact_ids"]})
    asking = [row for row in rows if _wanted(row, "email_at")]
    state = _lookup(klaviyo, [row["email"] for row in asking]) if asking else {}
    subscribe: list[Row] = []
    for row in asking:
        marketing = (state.get(row["email"]) or {}).get("email", {}).get("marketing") or {}
        if _decide(marketing, _wanted(row, "email_at") or datetime.now(UTC), counts, True):
            subscribe.append(row)
        else:
            details.update({cid: {"outcome": "consent_older_than_klaviyo",
                                  "reason": "Klaviyo holds a newer unsubscribe or suppression"}
                            for cid in row["contact_ids"]})
    chosen = {id(row) for row in subscribe}
    record_sent(client, account, (
        SentContact(email=row["email"], contact_id=cid,
                    email_key=(UNSUBSCRIBED_KEY if row.get("unsubscribe") else
                               SUBSCRIBED_KEY if id(row) in chosen else None))
        for row in rows for cid in row.get("contact_ids") or ()), time.time())
    if subscribe:
        _subscribe(klaviyo, [({"email": row["email"]},
                              _consented_at(_wanted(row, "email_at") or datetime.now(UTC)))
                             for row in subscribe], "email", klaviyo.account.default_list_id)
        counts["consent_subscribed"] += sum(len(row["contact_ids"]) for row in subscribe)
    return details, counts


def _sms_unsubscribe(klaviyo: Klaviyo, rows: Sequence[Row]) -> None:
    for start in range(0, len(rows), PAGE):
        body = {"data": {"type": "profile-subscription-bulk-delete-job", "attributes": {
            "profiles": {"data": [{"type": "profile", "attributes": {
                "phone_number": _phone(row),
                "subscriptions": {"sms": {"marketing": {"consent": "UNSUBSCRIBED"}}}}}
                for row in rows[start:start + PAGE]]}}}}
        klaviyo.gateway.call("bulk_unsubscribe_profiles",
                             klaviyo.api.Profiles.bulk_unsubscribe_profiles, body)


def sms_consent(client: redis.Redis, klaviyo: Klaviyo, account: str,
                rows: Sequence[Row]) -> Counter[str]:
    """SMS consent of rows whose phone is on their profile (Klaviyo took it in this
    chunk's phone stage, or earlier); counts for the report."""
    counts: Counter[str] = Counter()
    asking = [row for row in rows if _phone(row) and (row.get("consent") or {}).get("sms")]
    if not asking:
        return counts
    leaving = [row for row in asking if row["consent"]["sms"] == "unsubscribed"]
    joining = [row for row in asking if _wanted(row, "sms_at")]
    state = _lookup(klaviyo, [row["email"] for row in joining]) if joining else {}
    subscribe = [row for row in joining if _decide(
        (state.get(row["email"]) or {}).get("sms", {}).get("marketing") or {},
        _wanted(row, "sms_at") or datetime.now(UTC), counts, False)]
    record_sent(client, account, [
        *(SentContact(row["email"], cid, sms_key="unsubscribed:")
          for row in leaving for cid in row["contact_ids"]),
        *(SentContact(row["email"], cid, sms_key=SUBSCRIBED_KEY)
          for row in subscribe for cid in row["contact_ids"])], time.time())
    if leaving:
        _sms_unsubscribe(klaviyo, leaving)
        counts["sms_unsubscribed"] += sum(len(row["contact_ids"]) for row in leaving)
    if subscribe:
        _subscribe(klaviyo, [({"email": row["email"], "phone_number": _phone(row)},
                              _consented_at(_wanted(row, "sms_at") or datetime.now(UTC)))
                             for row in subscribe], "sms", None)
        counts["sms_subscribed"] += sum(len(row["contact_ids"]) for row in subscribe)
    return counts


def profiles_taken(client: redis.Redis, klaviyo: Klaviyo, account: str, rows: Sequence[Row],
                   notes: Outcome) -> None:
    """The profiles stage's hook: :func:`email_consent`, its details and counts added to the
    chunk's ``notes`` (recorded with the rest of the stage)."""
    details, counts = email_consent(client, klaviyo, account, rows)
    counts.update(sms_consent(client, klaviyo, account,
                              [row for row in rows if not row.get("phone")]))
    notes[0].update(details)
    notes[1].update(counts)


def phones_taken(client: redis.Redis, klaviyo: Klaviyo, account: str, chunk_key: str,
                 rows: Sequence[Row]) -> None:
    """The phones stage's hook: :func:`sms_consent`, its counts added to the chunk's."""
    counts = sms_consent(client, klaviyo, account, rows)
    if counts:
        pipe = client.pipeline(transaction=False)
        for name, value in counts.items():
            pipe.hincrby(chunk_key, CHUNK_COUNT + name, value)
        pipe.execute()
