"""Forgetting an erased contact (GDPR art. 17) in Redis: every record that holds its email,
phone or name, or names it, goes; only its tombstone stays.

The tombstone is the contact's mirror as ``contact.erased`` left it
(:mod:`shared.state.contact_mirror`, deleted flag ``2``): the id (in its key) and the time
of the erasure, nothing else; with its entry in ``contacts:times``. The collector keeps
refusing, by last-write-wins, any change older than it (and queues the id, so the next
batch counts it ``erased``); a newer change brings the contact back as a new one.

:func:`forget_contacts` runs once Klaviyo took the deletion request
(:mod:`workers.push.deliver.erase`), because until then the identifiers it needs (the profile id,
the email) must stay. It removes, for the given contacts:

* the per-contact records of the account: identity maps (by contact, by email), the phone
  claim the contact holds (``phone_owners``; a phone claimed as shared by several contacts
  names none of them and stays), what was last synced, the rejection, the cap's hold, the
  owed list, the emails the push side noted in each list it put the contact in, the
  contact's email in the consent ledger (:mod:`shared.consent.ledger`);
* the contact's details in every batch report the account keeps (at most 100 batches);
* entries of three streams, found by one pass over each, bounded as follows:
  the events stream (``sync:events``: the collector trims what it acknowledged, so this is
  the collector's backlog, seconds of traffic of every account), the dead letters
  (``sync:events:dead``: entries the collector could not read; matched on their
  ``account``/``contact`` fields or their parsed ``event``), and the account's pulled list
  members (``subscribers``, at most 1,000,000 entries, matched on the profile id).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import redis

from shared import constants as keys
from shared import ingest_shards
from shared.emails import normalise_email
from shared.identity import IdentityMap
from shared.redis_text import as_text
from shared.state import held_back, phone_owners
from shared.state.account_health import settle_owed
from shared.state.contact_mirror import MIRROR_FIELD

STREAM_PAGE = 1000
"""Entries read per XRANGE while looking for an erased contact's entries."""


@dataclass(frozen=True)
class Trace:
    """What Redis may hold of one erased contact, known before it is forgotten."""

    contact_id: str
    erased_at: float
    """The erasure's ``occurred_at`` (epoch s): stream entries of the contact up to it go,
    a later one (the person came back to the CRM) stays."""
    email: str | None = None
    """Normalised, as last synced (the identity map's and the pushed lists' key)."""
    phone: str | None = None
    """E.164, as last synced (the phone claim's key)."""
    profile_id: str | None = None
    lists: Sequence[str] = field(default_factory=tuple)


def _scan_stream(client: redis.Redis, stream: str,
                 matches: Callable[[dict[str, str]], bool]) -> list[str]:
    """Ids of the entries of ``stream`` that ``matches``, a page at a time."""
    found: list[str] = []
    start = "-"
    while True:
        page: Any = client.xrange(stream, start, "+", count=STREAM_PAGE)
        for entry_id, fields in page:
            if matches({as_text(k): as_text(v) for k, v in fields.items()}):
                found.append(as_text(entry_id))
        if len(page) < STREAM_PAGE:
            return found
        start = "(" + as_text(page[-1][0])


def _entry_of(fields: dict[str, str]) -> tuple[str | None, str | None, float | None]:
    """(account, contact id, occurred_at epoch) of an events-stream or dead-letter entry,
    each None when it cannot be read (a dead letter's event may be anything)."""
    account, contact_id, at = fields.get("account"), fields.get("contact"), None
    mirror = fields.get(MIRROR_FIELD)
    if mirror is not None:
        with contextlib.suppress(ValueError):
            at = float(mirror.partition("|")[0])
    raw = fields.get("event")
    if raw is not None and (account is None or contact_id is None or at is None):
        try:
            event = orjson.loads(raw)
            account = account or event.get("account_id")
            contact_id = contact_id or (event.get("contact") or {}).get("id")
            at = datetime.fromisoformat(event["occurred_at"]).timestamp()
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
            pass
    return account, contact_id, at


def _event_names(account: str, erased: dict[str, float]) -> Callable[[dict[str, str]], bool]:
    """Matches an entry of a contact of ``erased`` (id -> erasure time) of ``account`` that
    is not newer than its erasure (an entry whose time cannot be read counts as older)."""

    def matches(fields: dict[str, str]) -> bool:
        entry_account, contact_id, at = _entry_of(fields)
        if entry_account != account or contact_id not in erased:
            return False
        return at is None or at <= erased[contact_id]

    return matches


def forget_contacts(client: redis.Redis, account: str, traces: Iterable[Trace]) -> None:
    """Remove every trace of ``traces``' contacts from Redis but their tombstones (see the
    module docstring). Idempotent: a second run finds nothing left to remove."""
    gone = list(traces)
    if not gone:
        return
    ids = [t.contact_id for t in gone]
    claimed = phone_owners.held_by(client, account, {t.phone: ids for t in gone if t.phone})
    batch_ids: Any = client.lrange(keys.batches(account), 0, -1)
    with client.pipeline(transaction=True) as pipe:
        emails = [t.email for t in gone if t.email]
        IdentityMap(client, account).forget(pipe, contact_ids=ids, emails=emails)
        for name in (keys.synced_contacts, keys.rejected):
            pipe.hdel(name(account), *ids)
        held_back.release(pipe, account, ids)
        settle_owed(pipe, account, ids)
        if emails:
            # The consent ledger (shared/consent/ledger.py) is keyed by the email.
            pipe.hdel(keys.consent_ledger(account), *{normalise_email(e) for e in emails})
        for trace in gone:
            for list_id in trace.lists:
                if trace.email:
                    pipe.srem(keys.list_pushed(account, list_id), trace.email)
        phone_owners.release(pipe, account, claimed)
        for batch_id in batch_ids:
            pipe.hdel(keys.batch_details(account, as_text(batch_id)), *ids)
        pipe.execute()
    names = _event_names(account, {t.contact_id: t.erased_at for t in gone})
    for stream in (*ingest_shards.streams(), keys.EVENTS_DEAD):  # every ingest shard
        entries = _scan_stream(client, stream, names)
        if entries:
            client.xdel(stream, *entries)
    profiles = {t.profile_id for t in gone if t.profile_id}
    if profiles:
        stream = keys.subscribers_stream(account)
        entries = _scan_stream(client, stream, lambda f: f.get("profile_id") in profiles)
        if entries:
            client.xdel(stream, *entries)
