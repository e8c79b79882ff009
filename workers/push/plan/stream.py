"""Plan a batch a slice at a time, so that a worker's memory is bounded whatever its size.

The members are read newest first (``ZRANGE ... REV`` by ``occurred_at``), :data:`SLICE` at
a time, planned by :func:`shared.planning.planner.plan_batch`, and their rows encoded into
two chunk builders (with the default list, without it;
:class:`workers.push.plan.chunking.ChunkBuilder`).
Every :data:`COMMIT_MEMBERS` members, and when the run's time is up, one MULTI writes what
the slices decided -- the full chunks, details, counts, claims of emails, the partly
filled chunks (carried in the plan hash) and the member cursor -- only if the cursor is
still the one this run started from (the plan's records:
:mod:`shared.state.plan_record`). A worker killed mid-plan therefore loses nothing and
plans nothing twice: the next delivery resumes from the last commit. A run stops after
:data:`RUN_SECONDS` and re-sends ``sync_batch``, far from the actor's 5-minute limit.

Rules that span the batch hold across slices: the cap counts the bulk members let through
(newest first, so the most recently changed win); a normalised email is claimed by its first
(newest) contact in ``plan:emails`` and later contacts of it join that row
(:mod:`workers.push.plan.final` folds them in once all members are read); a phone claimed by a row
of an earlier slice and met again is shared, and no chunk of the batch sends it.

A first sync (the account has no synced contact yet: no email can change, nothing synced
can be deleted) posts its chunks as they are committed, while later slices are planned:
each chunk is handed to ``upsert_chunk`` right after the commit that wrote it
(:func:`workers.push.deliver.chunk.post_chunks`; no chunk of deletes: nothing is synced),
and the batch's ``chunks_sent`` says how far that went.
What later slices may still find about a posted chunk's rows (a shared email's other
members, a phone shared across slices) changes only what is recorded once Klaviyo answered,
and that waits for the plan to be complete (:mod:`workers.push.plan.final`). Other
batches send their chunks once planned, after the email changes (``sync_batch``).

Memory bound per worker, whatever the batch size: one slice of parsed mirrors (5,000 x
~5 KB), the encoded rows of at most :data:`COMMIT_MEMBERS` members (full chunks of
<= 4.5 MB each, two partial ones) and their details: ~100 MB measured at the peak.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis

from shared import constants as keys
from shared.accounts import AccountConfig
from shared.phones import normalise_phone
from shared.planning.claims import Claim, Join
from shared.planning.clearing import Clearing
from shared.planning.planner import Context, Member, Plan, plan_batch
from shared.redis_text import as_text
from shared.settings import get_settings
from shared.state import account_health as health
from shared.state import held_back, phone_owners, plan_record
from shared.state.account_state import never_completed
from shared.state.batch_details import record_details
from shared.state.batch_record import add_counts, is_planned, set_chunks_sent, set_chunks_total
from shared.state.chunk_record import ChunkKind, chunk_id, chunk_key
from shared.state.contact_mirror import read_mirrors
from shared.state.plan_record import PlanProgress, carry_field, read_plan
from shared.state.synced_contacts import SyncedRecord, none_synced, read_synced
from workers.push.deliver.chunk import post_chunks
from workers.push.plan import final as plan_final
from workers.push.plan.chunking import (
    ChunkBuilder,
    clear_chunks,
    delete_chunks,
    erase_chunks,
    join_json,
    limits,
    profile_resource,
    split_json,
)
from workers.runtime.actor_context import account_config

SLICE = 5_000
"""Members read, parsed and planned at once (``SYNC_PLAN_SLICE`` lowers it: tests)."""
COMMIT_MEMBERS = 50_000
"""Members planned between two commits (``SYNC_PLAN_COMMIT_MEMBERS`` lowers it)."""
RUN_SECONDS = 120.0
"""Planning time of one ``sync_batch`` run before it re-sends itself."""
TARGETS = ("list", "bare")


@dataclass
class _Window:
    """What the slices since the last commit decided, written in one MULTI."""

    chunks: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    erasures: list[str] = field(default_factory=list)
    clears: list[Clearing] = field(default_factory=list)
    leaves: list[str] = field(default_factory=list)
    details: dict[str, dict[str, str]] = field(default_factory=dict)
    held_back: list[str] = field(default_factory=list)
    phone_claims: dict[str, str] = field(default_factory=dict)
    owe_list: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    email_changes: list[bytes] = field(default_factory=list)
    claims: dict[str, Claim] = field(default_factory=dict)
    joins: list[Join] = field(default_factory=list)
    turned_shared: list[str] = field(default_factory=list)
    members: int = 0


class StreamPlanner:
    """One run of planning one batch (see the module docstring)."""

    def __init__(self, client: redis.Redis, account: str, batch_id: str) -> None:
        self.client, self.account, self.batch_id = client, account, batch_id
        self.config: AccountConfig = account_config(client, account)
        progress = read_plan(client, account, batch_id) or self._begin()
        self.committed = progress.cursor
        self.cursor = self.committed
        self.cap_taken = progress.cap_taken
        self.chunks = progress.chunks
        self.initial = progress.initial
        self.list_missing = progress.list_missing
        self.final = progress.final
        self.streams = progress.streams
        list_id = progress.list_id
        tuning = get_settings().tuning
        max_profiles, max_bytes = limits(tuning)
        self.builders = {
            target: ChunkBuilder(list_id if target == "list" else "", max_profiles, max_bytes,
                                 split_json(progress.carried(target, "payload")),
                                 split_json(progress.carried(target, "rows")))
            for target in TARGETS}
        self.slice = min(SLICE, tuning.plan_slice or SLICE)
        self.commit_every = min(COMMIT_MEMBERS, tuning.plan_commit_members or COMMIT_MEMBERS)
        self.window = _Window()
        self.size = int(client.zcard(keys.batch_members(account, batch_id)))
        self.has_bulk = bool(client.exists(keys.batch_members_bulk(account, batch_id)))

    def _begin(self) -> PlanProgress:
        """The settings the whole plan uses, fixed when it starts (once: a delivery racing
        this one finds them written and uses them)."""
        initial = never_completed(self.client, self.account)
        streams = none_synced(self.client, self.account)
        list_id = self.config.default_list_id or ""
        missing = bool(list_id) and health.missing_list(self.client, self.account) == list_id
        account, batch_id = self.account, self.batch_id
        with self.client.pipeline(transaction=True) as pipe:
            try:
                plan_record.watch(pipe, account, batch_id)
                if (not plan_record.has_begun(pipe, account, batch_id)
                        and not is_planned(pipe, account, batch_id)):
                    pipe.multi()
                    plan_record.begin(pipe, account, batch_id, list_id=list_id,
                                      initial=initial, list_missing=missing, streams=streams)
                    pipe.execute()
            except redis.WatchError:
                pass
        return read_plan(self.client, account, batch_id) or PlanProgress()

    def run(self, deadline: float) -> str:
        """Plan until done (``done``), out of time (``more``: re-send), or another delivery
        moved the plan on (``lost``: stop)."""
        if not self.final:
            while self.cursor < self.size:
                self._slice()
                out_of_time = time.monotonic() >= deadline
                full = self.streams and bool(self.window.chunks)  # to be posted at once
                if self.window.members >= self.commit_every or out_of_time or full:
                    if not self._commit(final=False):
                        return "lost"
                    if out_of_time:
                        return "more"
            if not self._commit(final=True):
                return "lost"
        return plan_final.finish(self.client, self.account, self.batch_id, self.initial)

    # --- one slice -----------------------------------------------------------------------
    def _slice(self) -> None:
        client, account = self.client, self.account
        scored: list[Any] = client.zrange(keys.batch_members(account, self.batch_id),
                                          self.cursor, self.cursor + self.slice - 1, desc=True,
                                          withscores=True)
        ids = [as_text(m) for m, _ in scored]
        bulk: list[Any] = (client.zmscore(keys.batch_members_bulk(account, self.batch_id), ids)
                           if self.has_bulk and ids else [None] * len(ids))
        members = [Member(cid, float(score), flag is not None)
                   for cid, (_, score), flag in zip(ids, scored, bulk, strict=True)]
        contacts, unreadable = read_mirrors(client, account, ids)
        synced = read_synced(self.client, self.account, ids)
        phones = sorted({p.e164 for c in contacts.values()
                         if (p := normalise_phone(c.contact.phone, self.config.phone_region)).e164})
        owed = frozenset(health.owed(client, account, ids))
        context = Context(phone_owners=self._phone_owners(phones), owed_list=owed,
                          list_missing=self.list_missing, unreadable=unreadable,
                          cap_taken=self.cap_taken, claims=self._claims)
        plan = plan_batch(self.config, members, contacts, synced, self.initial, context)
        if plan.reopened:
            self._reopen(plan, contacts, synced, context)
        self._absorb(plan)
        self.cursor += len(ids)
        self.cap_taken = plan.cap_taken
        self.window.members += len(ids)
        if not ids:  # the member set shrank under us: nothing more to read
            self.size = self.cursor

    def _phone_owners(self, phones: list[str]) -> dict[str, str]:
        if not phones:
            return {}
        owners = phone_owners.owners_of(self.client, self.account, phones)
        owners.update({ph: self.window.phone_claims[ph] for ph in phones
                       if ph in self.window.phone_claims})
        return owners

    def _claims(self, emails: list[str] | Any) -> dict[str, Claim]:
        """Emails claimed by earlier slices: this window's, then the committed ones."""
        found = {e: self.window.claims[e] for e in emails if e in self.window.claims}
        rest = [e for e in emails if e not in found]
        if rest:
            claimed = plan_record.claims_of(self.client, self.account, self.batch_id, rest)
            found.update({e: Claim.decode(text) for e, text in claimed.items()})
        return found

    def _reopen(self, plan: Plan, contacts: dict[str, Any],
                synced: dict[str, SyncedRecord], context: Context) -> None:
        """Rows an earlier slice found unchanged that a changed member of this slice joins:
        planned again, the claimed (newest) contact's state with the joining members.
        Rare: a shared email whose contacts fall in different slices."""
        claims = self._claims(list(plan.reopened))
        for email, joins in plan.reopened.items():
            winner = claims[email].contact_id
            mirrors, _ = read_mirrors(self.client, self.account, [winner])
            score = self.client.zscore(keys.batch_members(self.account, self.batch_id),
                                       winner)
            group = [Member(winner, float(score or 0), False)] + [
                Member(j.contact_id, j.occurred_at, False) for j in joins]
            again = plan_batch(self.config, group, {**contacts, **mirrors},
                               {**synced, **read_synced(self.client, self.account, [winner])},
                               False,
                               Context(phone_owners=context.phone_owners,
                                       owed_list=context.owed_list,
                                       list_missing=context.list_missing))
            if again.rows:
                plan.rows += again.rows
                plan.counts["unchanged"] -= 1  # the claimed contact, counted before
                plan.phone_claims.update(again.phone_claims)
                plan.owe_list += again.owe_list
                plan.clears += again.clears
                plan.claims[email] = Claim(winner, "row")
            else:
                plan.counts["unchanged"] += len(joins)

    def _absorb(self, plan: Plan) -> None:
        window = self.window
        list_id = self.builders["list"].list_id
        for row in plan.rows:
            builder = self.builders["list" if list_id and row.join_list else "bare"]
            full = builder.add(orjson.dumps(profile_resource(row.attributes)),
                               orjson.dumps(row.to_json()))
            if full:
                window.chunks.append(full)
        window.deletes += plan.deletes
        window.erasures += plan.erasures
        window.clears += plan.clears
        window.leaves += plan.leaves
        window.details.update(plan.details)
        window.held_back += plan.held_back
        window.phone_claims.update(plan.phone_claims)
        window.owe_list += plan.owe_list
        window.counts.update(plan.counts)
        window.email_changes += [orjson.dumps(c.__dict__) for c in plan.email_changes]
        window.claims.update(plan.claims)
        window.joins += plan.merged
        window.turned_shared += plan.turned_shared

    # --- commit ----------------------------------------------------------------------------
    def _commit(self, final: bool) -> bool:
        """Write the window (and, when ``final``, the partly filled chunks as chunks) if no
        other delivery committed since this run read the cursor."""
        window, client = self.window, self.client
        chunks = list(window.chunks)
        if final:
            chunks += [b.cut() for b in self.builders.values() if b.payload]
        chunks += delete_chunks(window.deletes)
        chunks += erase_chunks(window.erasures)
        chunks += clear_chunks(window.clears)
        chunks += delete_chunks(window.leaves, ChunkKind.LEAVE)
        account, batch_id = self.account, self.batch_id
        with client.pipeline(transaction=True) as pipe:
            watched: Any = pipe
            try:
                plan_record.watch(pipe, account, batch_id)
                if (plan_record.committed_cursor(pipe, account, batch_id) != self.committed
                        or is_planned(pipe, account, batch_id)):
                    return False
                pipe.multi()
                for index, chunk in enumerate(chunks, start=self.chunks):
                    watched.hset(chunk_key(account, batch_id, index), mapping=chunk)
                self._write_window(pipe)
                carry = {carry_field(target, part): join_json(items)
                         for target, builder in self.builders.items()
                         for part, items in (("payload", builder.payload),
                                             ("rows", builder.rows))}
                plan_record.write_progress(pipe, account, batch_id, cursor=self.cursor,
                                           cap_taken=self.cap_taken,
                                           chunks=self.chunks + len(chunks), carry=carry,
                                           final=final)
                set_chunks_total(pipe, account, batch_id, self.chunks + len(chunks))
                plan_record.keep(pipe, account, batch_id)
                pipe.execute()
            except redis.WatchError:
                return False
        if self.streams:  # a first sync: post them now (module docstring)
            new = range(self.chunks, self.chunks + len(chunks))
            post_chunks(account, batch_id, [chunk_id(index) for index in new])
            set_chunks_sent(client, account, batch_id, self.chunks + len(chunks))
        self.committed, self.chunks = self.cursor, self.chunks + len(chunks)
        self.window = _Window()
        return True

    def _write_window(self, pipe: Any) -> None:
        window, account, batch_id = self.window, self.account, self.batch_id
        record_details(pipe, account, batch_id, window.details)
        held_back.hold_back(pipe, account, window.held_back, time.time())
        phone_owners.claim(pipe, account, window.phone_claims)
        health.owe_list(pipe, account, window.owe_list)
        add_counts(pipe, account, batch_id, window.counts)
        plan_record.add_email_changes(pipe, account, batch_id, window.email_changes)
        plan_record.add_claims(pipe, account, batch_id,
                               {e: c.encode() for e, c in window.claims.items()})
        plan_record.add_joins(pipe, account, batch_id, window.joins)
        plan_record.add_shared_phones(pipe, account, batch_id, window.turned_shared)
