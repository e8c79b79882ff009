"""The dry run of a big account's next batch (``contact-sync preview --next``).

    python -m bench.dry_run_speed [--contacts 1000000]

Runs an embedded redis-server; stores ``--contacts`` mirrored contacts of one account, all
pending, half of them synced before (a synced record each, a tenth of those with a field
to clear), and times :func:`shared.planning.dry_run.next_sync` over them, with its peak memory.
"""

from __future__ import annotations

import argparse
import resource
import time
from typing import Any

import redis

from shared import constants as keys
from shared.accounts import AccountConfig
from shared.planning.dry_run import next_sync
from shared.redis_client import connect
from shared.redis_server import EmbeddedRedis
from shared.state.contact_mirror import encode_mirror
from shared.state.synced_contacts import SyncedRecord

ACCOUNT = "big"
STEP = 10_000


def fill(client: redis.Redis, contacts: int) -> None:
    for start in range(0, contacts, STEP):
        pipe = client.pipeline(transaction=False)
        mirrors: dict[str, bytes] = {}
        times: dict[str, int] = {}
        synced: dict[Any, Any] = {}
        for n in range(start, min(start + STEP, contacts)):
            cid = f"C-{n}"
            contact = {"id": cid, "email": f"person{n}@example.com", "first_name": "Ann",
                       "role": "Buyer", "job_title": None if n % 20 == 0 else "Boss",
                       "properties": {"ltv": n}}
            mirrors[keys.contact(ACCOUNT, cid)] = encode_mirror(
                1_800_000_000.0 + n, bulk=False, deleted=False, origin="webhook",
                contact=contact, email_valid=True)
            times[cid] = 1_800_000_000 + n
            if n % 2 == 0:
                synced[cid] = SyncedRecord(
                    email=f"person{n}@example.com", fingerprint="0" * 16,
                    sent=["first_name", "properties.crm_contact_id", "properties.ltv",
                          "properties.role", "title"]).dump()
        pipe.mset(mirrors)
        pipe.zadd(keys.pending(ACCOUNT), times)
        pipe.zadd(keys.contact_times(ACCOUNT), times)
        if synced:
            pipe.hset(keys.synced_contacts(ACCOUNT), mapping=synced)
        pipe.execute()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    args = parser.parse_args()
    with EmbeddedRedis() as server:
        client = connect(server.url)
        fill(client, args.contacts)
        config = AccountConfig(name=ACCOUNT, klaviyo_base_url="http://unused")
        began = time.perf_counter()
        found = next_sync(client, config).as_dict()
        took = time.perf_counter() - began
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        counts = {k: v for k, v in found.items() if k not in ("contact_ids", "account")}
        print(f"{args.contacts:,} pending: {took:.1f} s, peak RSS {peak:.0f} MB, {counts}")


if __name__ == "__main__":
    main()
