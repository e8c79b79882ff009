"""A first sync of 300,000 contacts with a default list, through the real processes
(collector, scheduler, a ``dramatiq`` worker) and the sandbox: one batch, planned a slice
at a time over several runs of ``sync_batch``, puts every contact in the list once (issue
"Big accounts"; the million runs as a bench: ``python -m bench.push_throughput``)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import redis

from producers.event_stream import append_wire_events
from sandbox.inspect_client import SandboxClient
from shared import constants as keys
from shared.klaviyo.client import build_client
from shared.state.synced_contacts import SyncedRecord
from shared.wire_events import WireEvent, wire_event
from tests.support.process_stack import ProcessStack, wait_until
from workers.push.lifecycle import last_completed

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("big_batch"),
              pytest.mark.timeout(1800)]

CONTACTS = 300_000
ACCOUNT = "default"


def _event(n: int) -> WireEvent:
    """One event, validated as the webhook validates it."""
    return wire_event(orjson.dumps({
        "event_id": f"evt-{n}", "account_id": ACCOUNT, "type": "contact.upserted",
        "occurred_at": f"2026-11-22T10:{n // 6000 % 60:02d}:{n // 100 % 60:02d}Z",
        "contact": {"id": f"C{n}", "email": f"person{n}@example.com", "first_name": "Ann",
                    "last_name": f"Lee {n}", "job_title": "Buyer", "role": "Decision Maker",
                    "company": {"id": f"CO{n % 500}", "name": f"Company {n % 500}",
                                "type": "Customer"},
                    "properties": {"region": "North", "tier": n % 3}}}))


def test_a_first_sync_of_300000_contacts_with_a_default_list_puts_each_in_the_list_once(
        process_stack: ProcessStack, sandbox: SandboxClient, r: redis.Redis) -> None:
    assert sandbox.key is not None
    answer: Any = build_client(sandbox.key, sandbox.url).Lists.create_list(
        {"data": {"type": "list", "attributes": {"name": "Everyone"}}})
    list_id = str(answer["data"]["id"])
    process_stack.env.update({"SYNC_DEFAULT_LIST_ID": list_id, "SYNC_INTERVAL": "3600"})
    for start in range(0, CONTACTS, 1000):
        append_wire_events(r, [_event(n) for n in range(start, start + 1000)], "import")
    process_stack.start("collector")
    wait_until(lambda: r.zcard(keys.pending(ACCOUNT)) == CONTACTS, 900,
               "every event applied by the collector")
    process_stack.start("worker")
    process_stack.start("scheduler")
    done = wait_until(lambda: last_completed(r, ACCOUNT), 1500, "the batch to complete")

    report = done["report"]
    assert report["contacts"] == CONTACTS  # one batch held them all
    assert (report["created"], report["updated"], report["rejected"]) == (CONTACTS, 0, 0)
    (the_list,) = [item for item in sandbox.lists() if item["id"] == list_id]
    members = [m["profile_id"] for m in the_list["members"]]
    assert len(members) == len(set(members)) == CONTACTS
    joined = 0
    for _, record in r.hscan_iter(keys.synced_contacts(ACCOUNT), count=10_000):
        joined += list_id in SyncedRecord.load(record).lists
    assert joined == CONTACTS  # each contact's own record says it joined
