"""The collector: reads contact events from the stream and coalesces them per contact.

For each entry of :data:`shared.constants.EVENTS_STREAM` (consumer group
:data:`shared.constants.COLLECTOR_GROUP`) the event's account gets, in one Lua script
(``apply_event.lua``): the newest state of the contact (by the CRM's ``occurred_at``, not
by arrival), its id in the pending set, and in the bulk subset when it came from a bulk
export. An entry the producers wrote with the event's compact mirror and stamped with
this release's rules is stored as it is, grouped by account: no JSON parsed, nothing
validated per event (an older or unstamped entry is parsed and validated, and its mirror
made here, alike). An entry is acknowledged only after it is applied; applying twice
changes nothing, so a collector killed at any point loses nothing: its unacknowledged
entries are claimed by a live collector after ``claim_idle_ms``. Acknowledged entries are
trimmed from the stream, never one that is still pending or not yet read.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import redis
from pydantic import ValidationError
from redis.exceptions import NoScriptError
from redis.typing import EncodableT, FieldT

from shared import constants as keys
from shared.events import Origin
from shared.lua_scripts import lua_script
from shared.redis_client import RedisOutage, client_address
from shared.redis_cluster import OUTAGE_ERRORS
from shared.state import due_accounts
from shared.state.contact_mirror import MIRROR_FIELD, event_mirror
from shared.state.heartbeats import Heart
from shared.validation_errors import describe
from shared.wire_events import EVENT_RULES, WireEvent, occurred_at_epoch, trusted_event, wire_event

log = logging.getLogger(__name__)
APPLY_EVENT = lua_script(__file__, "apply_event.lua")

ORIGINS: frozenset[str] = frozenset({"webhook", "import", "publish", "resync"})
DEFAULT_ACCOUNT = "default"
DEAD_CONSUMER_SECONDS = 3600
"""A consumer with nothing pending, idle this long, is removed from the group."""

Entry = tuple[str, dict[str, str]]
Item = tuple[str, str, str | bytes, dict[str, str]]
"""One event to apply: its entry id, contact id, compact mirror, and the entry's fields
(dead-lettered as they came if the script refuses it)."""
ByAccount = dict[str, list[Item]]


@dataclass
class _Prepared:
    """A batch read and parsed, its pipeline built but not sent."""

    entry_ids: list[str]
    by_account: ByAccount
    pipe: Any


class BadEntry(ValueError):
    """A stream entry that is not a valid event; the message names fields, never values."""


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def parse_entry(fields: dict[str, str]) -> tuple[WireEvent, Origin]:
    """The event (validated as :class:`shared.events.ContactEvent`, kept as a dict: see
    :mod:`shared.wire_events`) and origin of one stream entry, or :class:`BadEntry`. An
    entry stamped with this release's rules was validated at the edge: it is only parsed
    (a third of the collector's time went into validating every entry again)."""
    origin = fields.get("origin")
    if origin not in ORIGINS:
        raise BadEntry(f"origin: missing or not one of {sorted(ORIGINS)}")
    raw = fields.get("event")
    if raw is None:
        raise BadEntry("event: missing")
    if fields.get("rules") == EVENT_RULES:  # validated at the edge by these very rules
        try:
            return trusted_event(raw), origin  # type: ignore[return-value]
        except (ValueError, KeyError, TypeError):
            pass  # not what the edge wrote after all: validated below
    try:
        event = wire_event(raw)
    except ValidationError as error:
        raise BadEntry(f"event: {describe(error, root='event', detail='type')}") from None
    return event, origin  # type: ignore[return-value]


def entry_item(entry_id: str, fields: dict[str, str]) -> tuple[str, Item]:
    """The account and :data:`Item` of one stream entry, or :class:`BadEntry`: the
    producers' compact mirror as it is when the entry is stamped with these rules (the
    hot path: a few dict lookups), else the mirror of the event parsed and validated."""
    mirror = fields.get(MIRROR_FIELD)
    if mirror is not None and fields.get("rules") == EVENT_RULES:
        account, contact_id = fields.get("account"), fields.get("contact")
        if account and contact_id:
            return account, (entry_id, contact_id, mirror, fields)
    event, origin = parse_entry(fields)
    contact = event["contact"]
    return event["account_id"], (entry_id, contact["id"], event_mirror(
        occurred_at_epoch(event), event["type"], contact, origin), fields)


def _next_id(entry_id: str) -> str:
    """The smallest stream id after ``entry_id``."""
    ms, _, seq = entry_id.partition("-")
    return f"{ms}-{int(seq or 0) + 1}"


class Collector:
    """One collector process's consumer (see the module docstring)."""

    def __init__(
        self,
        redis_client: redis.Redis,
        consumer_name: str | None = None,
        *,
        block_ms: int = 1000,
        count: int = 500,
        claim_idle_ms: int = 30_000,
        claim_every: float = 5.0,
        trim_every: float = 1.0,
        stream: str = keys.EVENTS_STREAM,
    ) -> None:
        self.redis = redis_client
        self.stream = stream
        """The ingest stream this consumer reads (one shard's: shared/ingest_shards.py)."""
        self.consumer = consumer_name or default_consumer_name()
        self.block_ms = block_ms
        self.count = count
        self.claim_idle_ms = claim_idle_ms
        self.claim_every = claim_every
        self._last_claim = float("-inf")
        self.trim_every = trim_every
        self._apply = APPLY_EVENT.on(redis_client)
        self._apply_sha = str(self._apply.sha)
        self._group_ready = False
        self._last_trim = float("-inf")
        self._untrimmed = False
        """Entries were acknowledged since the stream was last trimmed."""

    # --- the loop ------------------------------------------------------------------------
    def ensure_group(self) -> None:
        try:
            self.redis.xgroup_create(self.stream, keys.COLLECTOR_GROUP, id="0",
                                     mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._apply_sha = str(self.redis.script_load(self._apply.script))
        self._group_ready = True

    def run_once(self) -> int:
        """Handle one batch of entries (claimed from a dead consumer, else new ones);
        returns how many were handled."""
        entries = self._next_entries()
        if not entries:
            if self._untrimmed:
                self._ack_and_trim([])  # idle: trim what the last batches acknowledged
            return 0
        self._handle(entries)
        return len(entries)

    def run_overlapped(self, go_on: Callable[[int], bool]) -> int:
        """:meth:`run_once` again and again while ``go_on(handled)`` is true, except that
        the next batch is read and prepared (parsed, its script calls built) while Redis
        applies the current one, in a second thread: Redis works on the other core
        meanwhile. Batches are applied and acknowledged in the order they were read, each
        only after the one before, so nothing changes for last-write-wins or for a kill.
        Returns how many entries were handled."""
        total = 0
        with ThreadPoolExecutor(1, thread_name_prefix="collector-apply") as applier:
            inflight: Future[None] | None = None
            try:
                while True:
                    entries = self._next_entries()
                    prepared = self._prepare(entries) if entries else None
                    if inflight is not None:
                        inflight.result()
                        inflight = None
                    if prepared is None and self._untrimmed:
                        self._ack_and_trim([])
                    if prepared is not None:
                        inflight = applier.submit(self._commit, prepared)
                    total += len(entries)
                    if not go_on(len(entries)):
                        break
            finally:
                if inflight is not None:
                    inflight.result()
        return total

    def run_forever(self, stop_event: threading.Event) -> None:
        """Run until ``stop_event`` is set; the current batch is always finished first."""
        log.info("collector %s started", self.consumer)
        heart = Heart(self.redis, "collector")
        outage = RedisOutage("collector", client_address(self.redis), log)

        def go_on(_handled: int) -> bool:
            heart.beat()
            outage.recovered()
            return not stop_event.is_set()

        while not stop_event.is_set():
            try:
                heart.beat()
                self.run_overlapped(go_on)
            except OUTAGE_ERRORS as error:  # a cluster's failover too
                stop_event.wait(outage.failed(error))  # logged once, growing waits
            except redis.ResponseError as error:
                if "NOGROUP" not in str(error):
                    raise
                log.warning("collector: the consumer group is gone; creating it again")
                self._group_ready = False
        with contextlib.suppress(redis.RedisError):
            heart.stop()
        log.info("collector %s stopped", self.consumer)

    # --- reading -------------------------------------------------------------------------
    def _next_entries(self) -> list[Entry]:
        """Claimed entries of a dead consumer when a claim is due and finds some, else new
        ones (waiting up to ``block_ms``)."""
        if not self._group_ready:
            self.ensure_group()
        entries = self._claim() if self._claim_due() else []
        return entries or self._read()

    def _claim_due(self) -> bool:
        now = time.monotonic()
        if now - self._last_claim < self.claim_every:
            return False
        self._last_claim = now
        return True

    def _claim(self) -> list[Entry]:
        """Entries that another consumer read but did not acknowledge for ``claim_idle_ms``."""
        answer = self.redis.xautoclaim(
            self.stream, keys.COLLECTOR_GROUP, self.consumer,
            min_idle_time=self.claim_idle_ms, start_id="0-0", count=self.count,
        )
        claimed = [(entry_id, fields) for entry_id, fields in answer[1] if fields is not None]
        if claimed:
            log.info("collector %s claimed %d stale entries", self.consumer, len(claimed))
        self._forget_dead_consumers()
        return claimed

    def _forget_dead_consumers(self) -> None:
        for consumer in self.redis.xinfo_consumers(self.stream, keys.COLLECTOR_GROUP):
            idle_s = int(consumer["idle"]) / 1000
            if (consumer["name"] != self.consumer and int(consumer["pending"]) == 0
                    and idle_s > DEAD_CONSUMER_SECONDS):
                self.redis.xgroup_delconsumer(
                    self.stream, keys.COLLECTOR_GROUP, consumer["name"]
                )

    def _read(self) -> list[Entry]:
        answer: Any = self.redis.xreadgroup(
            keys.COLLECTOR_GROUP, self.consumer, {self.stream: ">"},
            count=self.count, block=self.block_ms or None,
        )
        if not answer:
            return []
        # RESP2 answers [[stream, entries]], RESP3 {stream: entries}
        entries = answer[self.stream] if isinstance(answer, dict) else answer[0][1]
        return list(entries)

    # --- applying ------------------------------------------------------------------------
    def _handle(self, entries: list[Entry]) -> None:
        self._commit(self._prepare(entries))

    def _prepare(self, entries: list[Entry]) -> _Prepared:
        """Parse ``entries`` and build (not send) the pipeline that applies them."""
        by_account: ByAccount = defaultdict(list)
        dead: list[tuple[str, dict[str, str], str]] = []
        for entry_id, fields in entries:
            try:
                account, item = entry_item(entry_id, fields)
            except BadEntry as error:
                dead.append((entry_id, fields, str(error)))
                continue
            by_account[account].append(item)
        return _Prepared([entry_id for entry_id, _ in entries], by_account,
                         self._pipeline(by_account, dead))

    def _commit(self, prepared: _Prepared) -> None:
        """Send a prepared batch, then acknowledge its entries."""
        failed = self._execute(prepared.pipe, prepared.by_account)
        if failed:
            # A script error (should not happen): apply that account's entries one by one,
            # so the others go through and the culprit is dead-lettered, not retried forever.
            self._apply_one_by_one({account: prepared.by_account[account]
                                    for account in failed})
        self._ack_and_trim(prepared.entry_ids)

    def _apply_all(
        self,
        by_account: ByAccount,
        dead: list[tuple[str, dict[str, str], str]],
    ) -> list[str]:
        """Apply the events and dead-letter the bad entries in one round trip; returns the
        accounts whose script failed (connection errors propagate: nothing is acked)."""
        return self._execute(self._pipeline(by_account, dead), by_account)

    def _pipeline(
        self,
        by_account: ByAccount,
        dead: list[tuple[str, dict[str, str], str]],
    ) -> Any:
        pipe = self.redis.pipeline(transaction=False)
        for account, items in by_account.items():
            self._queue_apply(pipe, account, items)
        for account in by_account:  # after its pending set (due_accounts' protocol)
            due_accounts.note_pending(pipe, account)
        accounts = [a for a in by_account if a != DEFAULT_ACCOUNT]
        if accounts:
            pipe.sadd(keys.ACCOUNTS_SET, *accounts)
        for entry_id, fields, error in dead:
            log.warning("dead-lettered stream entry %s: %s", entry_id, error)
            record: dict[FieldT, EncodableT] = {"entry_id": entry_id, "error": error,
                                                "at": repr(time.time())}
            record.update(fields)
            oldest_kept = int((time.time() - keys.EVENTS_DEAD_RETENTION_S) * 1000)
            pipe.xadd(keys.EVENTS_DEAD, record, minid=str(oldest_kept), approximate=False)
        return pipe

    def _execute(self, pipe: Any, by_account: ByAccount) -> list[str]:
        results = pipe.execute(raise_on_error=False)
        for result in results[len(by_account):]:
            if isinstance(result, Exception):
                raise result
        unloaded = [account for account, result in zip(by_account, results, strict=False)
                    if isinstance(result, NoScriptError)]
        if unloaded:  # Redis restarted or its scripts were flushed: load it, apply again
            self._apply_sha = str(self.redis.script_load(self._apply.script))
            return self._apply_all({account: by_account[account] for account in unloaded}, [])
        return [account for account, result in zip(by_account, results, strict=False)
                if isinstance(result, Exception)]

    def _queue_apply(self, pipe: Any, account: str, items: list[Item]) -> None:
        prefix = keys.contact(account, "")
        script_keys = [keys.contact_times(account), keys.pending(account),
                       keys.pending_bulk(account), keys.contact_facets(account)]
        args: list[str | bytes] = [str(len(prefix))]  # ASCII: characters = bytes
        for _entry_id, contact_id, mirror, _fields in items:
            script_keys.append(prefix + contact_id)
            args.append(mirror)
        # EVALSHA itself, not through redis-py's Script: a pipeline of Script calls asks
        # SCRIPT EXISTS first, one more round trip per batch (NOSCRIPT is handled above).
        # As a plain command: a Redis Cluster pipeline refuses its evalsha() method but
        # routes the command by its keys (all of one account: one slot).
        pipe.execute_command("EVALSHA", self._apply_sha, len(script_keys), *script_keys, *args)

    def _apply_one_by_one(self, by_account: ByAccount) -> None:
        for account, items in by_account.items():
            for item in items:
                if self._apply_all({account: [item]}, []):
                    self._apply_all({}, [(item[0], item[3], "apply: script error")])

    def _ack_and_trim(self, entry_ids: list[str]) -> None:
        """Acknowledge ``entry_ids``; then, at most every ``trim_every`` seconds (or when
        idle), drop acknowledged entries: everything before the oldest entry that is
        pending in the group, or not yet delivered to it. Both are read in the MULTI of the
        acknowledgement, so an entry read meanwhile is after the group's last-delivered id
        and stays."""
        now = time.monotonic()
        if entry_ids and now - self._last_trim < self.trim_every:
            self.redis.xack(self.stream, keys.COLLECTOR_GROUP, *entry_ids)
            self._untrimmed = True
            return
        pipe = self.redis.pipeline(transaction=True)
        if entry_ids:
            pipe.xack(self.stream, keys.COLLECTOR_GROUP, *entry_ids)
        pipe.xinfo_groups(self.stream)
        pipe.xpending(self.stream, keys.COLLECTOR_GROUP)
        *_, groups, pending = pipe.execute()
        if isinstance(pending, list):  # a Redis Cluster MULTI answers XPENDING unparsed
            pending = {"pending": pending[0], "min": pending[1]}
        self._last_trim, self._untrimmed = now, False
        if len(groups) != 1:
            return  # another group reads this stream too: leave trimming to its owner
        last_delivered = str(groups[0]["last-delivered-id"])
        minid = str(pending["min"]) if pending["pending"] else _next_id(last_delivered)
        self.redis.xtrim(self.stream, minid=minid, approximate=False)
