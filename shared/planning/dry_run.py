"""The dry run of an account's next batch (``contact-sync preview --next``): what it would do
now, decided by the batch's own planner (:func:`shared.planning.planner.plan_batch`) over the
account's pending contacts, a slice at a time, newest first, as the batch plans them. It
reads Redis only: it writes nothing and calls no Klaviyo endpoint at all.

Kinds counted (``create``/``update`` are profiles, the others contacts): ``create``,
``update``, ``list_join``, ``list_leave`` (deleted in the CRM, or outside the filters now,
and in a list the sync put them in), ``clear_fields`` (profiles), ``subscribe`` (always 0:
the sync never subscribes anyone), ``unsubscribe``, ``erase``; ``excluded`` by reason; up
to :data:`IDS_SHOWN` contact ids per kind. What the batch finds only once it runs is not
foreseen: a row Klaviyo refuses, an email change Klaviyo finds taken, a profile Klaviyo
already had (``create`` then shows as ``updated``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from shared import constants as keys
from shared.accounts import AccountConfig
from shared.fewer_collections import fewer_collections
from shared.phones import normalise_phone
from shared.planning.claims import Claim
from shared.planning.planner import Context, Member, Plan, plan_batch
from shared.redis_text import as_text
from shared.state import account_health as health
from shared.state import phone_owners
from shared.state.account_state import never_completed
from shared.state.contact_mirror import read_mirrors
from shared.state.synced_contacts import SyncedRecord, read_synced

KINDS = ("create", "update", "list_join", "list_leave", "clear_fields", "subscribe",
         "unsubscribe", "erase")
IDS_SHOWN = 100
SLICE = 5_000
SENT_ANYWAY = frozenset({"phone_dropped", "phone_shared", "mapping_error"})
"""Outcomes of contacts that are sent all the same (not excluded)."""


@dataclass
class NextSync:
    """What the next batch of ``account`` would do now."""

    account: str
    contacts: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    excluded: Counter[str] = field(default_factory=Counter)
    ids: dict[str, list[str]] = field(default_factory=lambda: {kind: [] for kind in KINDS})

    def add(self, kind: str, contact_ids: list[str], count: int | None = None) -> None:
        self.counts[kind] += len(contact_ids) if count is None else count
        shown = self.ids[kind]
        shown += contact_ids[:IDS_SHOWN - len(shown)]

    def as_dict(self) -> dict[str, Any]:
        return {"account": self.account, "contacts": self.contacts,
                **{kind: self.counts[kind] for kind in KINDS},
                "excluded": dict(sorted(self.excluded.items())), "contact_ids": self.ids}


def _tally(found: NextSync, plan: Plan, synced: dict[str, SyncedRecord]) -> None:
    for row in plan.rows:
        found.add("create" if row.first_time else "update", row.contact_ids, 1)
        if row.join_list:
            found.add("list_join", row.contact_ids)
        if row.unsubscribe:
            found.add("unsubscribe", row.contact_ids)
    found.add("list_leave", [cid for cid in plan.deletes if synced[cid].lists] + plan.leaves)
    for clearing in plan.clears:
        found.add("clear_fields", clearing.contact_ids, 1)
    found.add("erase", plan.erasures)
    for detail in plan.details.values():
        if detail["outcome"] not in SENT_ANYWAY:
            found.excluded[detail["outcome"]] += 1
    found.excluded["unchanged"] += plan.counts.get("unchanged", 0)


def next_sync(client: redis.Redis, config: AccountConfig,
              on_slice: Callable[[int], None] | None = None) -> NextSync:
    """The dry run of ``config``'s account (see the module docstring); ``on_slice`` is
    called with the contacts planned so far after each slice (a long run keeps its lock)."""
    with fewer_collections():
        return _next_sync(client, config, on_slice)


def _next_sync(client: redis.Redis, config: AccountConfig,
               on_slice: Callable[[int], None] | None) -> NextSync:
    account = config.name
    found = NextSync(account)
    initial = never_completed(client, account)
    list_id = config.default_list_id or ""
    missing = bool(list_id) and health.missing_list(client, account) == list_id
    # email -> its Claim as a tuple of strings, which the garbage collector stops tracking
    # (100,000 Claim objects it would walk again at every full collection)
    claims: dict[str, tuple[str, str, str]] = {}
    phone_claims: dict[str, str] = {}
    cap_taken, start = 0, 0
    while True:
        scored: list[Any] = client.zrange(keys.pending(account), start, start + SLICE - 1,
                                          desc=True, withscores=True)
        if not scored:
            return found
        ids = [as_text(m) for m, _ in scored]
        bulk: list[Any] = client.zmscore(keys.pending_bulk(account), ids)
        members = [Member(cid, float(score), flag is not None)
                   for cid, (_, score), flag in zip(ids, scored, bulk, strict=True)]
        contacts, unreadable = read_mirrors(client, account, ids)
        synced = read_synced(client, account, ids)
        phones = sorted({p.e164 for c in contacts.values()
                         if (p := normalise_phone(c.contact.phone, config.phone_region)).e164})
        known = phone_owners.owners_of(client, account, phones)
        known.update({ph: phone_claims[ph] for ph in phones if ph in phone_claims})
        owed = frozenset(health.owed(client, account, ids))
        context = Context(phone_owners=known, owed_list=owed, list_missing=missing,
                          unreadable=unreadable, cap_taken=cap_taken,
                          claims=lambda emails: {e: Claim(*claims[e])
                                                 for e in emails if e in claims})
        plan = plan_batch(config, members, contacts, synced, initial, context)
        claims.update((email, (claim.contact_id, claim.state, claim.fingerprint))
                      for email, claim in plan.claims.items())
        phone_claims.update(plan.phone_claims)
        cap_taken = plan.cap_taken
        found.contacts += len(ids)
        _tally(found, plan, synced)
        start += len(ids)
        if on_slice is not None:
            on_slice(found.contacts)
