"""Nothing one contact holds stalls its account (docs/KLAVIYO.md §7)."""

from __future__ import annotations

import json
import time
from typing import Any

import dramatiq
import redis

from shared import constants as keys
from tests.workers.dramatiq_harness import wait_for
from tests.workers.push_harness import PushAccount
from workers.actors.chunk import upsert_chunk
from workers.batch_lifecycle import account_state, batch_info, start_batch


def test_a_contact_stored_with_an_integer_beyond_64_bits_is_excluded_and_the_rest_sync(
        r: redis.Redis, sandbox: Any, worker: dramatiq.Worker) -> None:
    acct = PushAccount(r, sandbox)
    acct.change("C1")
    acct.change("C2")
    # as a collector of an older release stored it, before the webhook refused such ints
    stored = json.loads(r.get(keys.contact(acct.name, "C1")) or "{}")
    raw = json.dumps(stored).replace('"properties": {}', '"properties": {"big": ' +
                                     str(2 ** 70) + "}")
    assert str(2 ** 70) in raw
    r.set(keys.contact(acct.name, "C1"), raw)
    info = acct.sync()
    details = {cid: json.loads(v) for cid, v in info["details"].items()}
    assert details["C1"]["outcome"] == "unencodable"
    assert "contact.properties.big" in details["C1"]["reason"]
    assert info["report"]["unencodable"] == 1 and info["report"]["created"] == 1
    assert sorted(acct.by_email()) == ["c2@example.com"]


def test_a_profile_over_klaviyos_100_kb_is_excluded_with_its_size(
        r: redis.Redis, sandbox: Any, worker: dramatiq.Worker) -> None:
    acct = PushAccount(r, sandbox)
    acct.change("C1", properties={f"note{i}": "x" * 1000 for i in range(110)})
    acct.change("C2")
    info = acct.sync()
    details = {cid: json.loads(v) for cid, v in info["details"].items()}
    assert details["C1"]["outcome"] == "unencodable"
    assert "over Klaviyo's limit of 102,400" in details["C1"]["reason"]
    assert sorted(acct.by_email()) == ["c2@example.com"]


def test_a_batch_whose_chunk_fails_for_good_is_failed_and_its_contacts_wait_for_the_next(
        r: redis.Redis, sandbox: Any, worker: dramatiq.Worker) -> None:
    acct = PushAccount(r, sandbox)
    acct.change("C1")
    acct.change("C2")
    assert start_batch(r, acct.name, "b-poison", time.time()) == 2
    r.hset(keys.batch(acct.name, "b-poison"), mapping={"planned": "1", "chunks_total": 1})
    r.hset(keys.chunk(acct.name, "b-poison", "c00000"),
           mapping={"kind": "import", "status": "planned", "rows": "not json", "payload": "[]"})
    upsert_chunk.send_with_options(args=(acct.name, "b-poison", "c00000"), max_retries=0)
    wait_for(lambda: batch_info(r, acct.name, "b-poison").get("status") == "failed")
    assert "upsert_chunk failed for good" in batch_info(r, acct.name, "b-poison")["report"][
        "error"]
    state = account_state(r, acct.name)
    assert "running" not in state, "the account is free for its next batch"
    assert sorted(r.zrange(keys.pending(acct.name), 0, -1)) == ["C1", "C2"]
    assert r.hlen(keys.rejected(acct.name)) == 0
    info = acct.sync()  # the next batch sends them
    assert info["report"]["created"] == 2
