"""Consent pull at size: one account of 1,000,000 synced contacts (their consent ledger in
Redis), of which 10,000 change their consent in Klaviyo; one consent pull, timed.

    python -m bench.consent_pull [--contacts 1000000] [--changed 10000] [--unchanged 20000]

Runs an embedded redis-server and the sandbox (its own process, rate limits off). The ledger
holds ``--contacts`` records (what the push side writes as it sends them). The sandbox holds
the ``--changed`` profiles, half unsubscribed and half hard-bounced after the cursor, and
``--unchanged`` more profiles of synced contacts last updated before it: profiles Klaviyo
does not return for the pull's filters, so whether the sandbox holds the other 970,000 or
not changes nothing of the pull's calls (it would only make the sandbox slower to answer).
Prints the pull's calls, profiles read, changes published, its time, the ledger's memory,
and the time Klaviyo's published limit for ``get_profiles`` (750/min steady) allows for the
calls.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import httpx

from bench.push_throughput import bench_stack
from shared import constants as keys
from shared.consent.ledger import LedgerPage, SentContact, record_sent
from shared.klaviyo.client import build_client
from shared.klaviyo.rate_limiter import LIMITS
from workers.actors.common import account_config, klaviyo_for
from workers.reverse.consent_pull import CURSOR_FIELD, pull_consent

LEDGER_STEP = 10_000
IMPORT_STEP = 10_000


def email(i: int) -> str:
    return f"person{i}@example.com"


def write_ledger(client: Any, account: str, contacts: int, now: float) -> float:
    """The ledger of ``contacts`` sent contacts; seconds taken."""
    started = time.perf_counter()
    for start in range(0, contacts, LEDGER_STEP):
        record_sent(client, account, (SentContact(email(i), f"C{i}")
                                      for i in range(start, min(contacts, start + LEDGER_STEP))),
                    now)
    return time.perf_counter() - started


def import_profiles(key: str, url: str, first: int, count: int) -> list[str]:
    """Profiles of the bench emails ``first..first+count`` in the sandbox; their ids."""
    api = build_client(key, url)
    ids: list[str] = []
    for start in range(first, first + count, IMPORT_STEP):
        rows = [{"type": "profile", "attributes": {"email": email(i)}}
                for i in range(start, min(first + count, start + IMPORT_STEP))]
        job: Any = api.Profiles.bulk_import_profiles({"data": {
            "type": "profile-bulk-import-job",
            "attributes": {"profiles": {"data": rows}}}})
        job_id = job["data"]["id"]
        while True:
            found: Any = api.Profiles.get_bulk_import_profiles_job(job_id)
            if found["data"]["attributes"]["status"] == "complete":
                break
            time.sleep(0.2)
        cursor = None
        while True:
            page: Any = api.Profiles.get_profiles_for_bulk_import_profiles_job(
                job_id, page_size=100, page_cursor=cursor)
            ids += [str(item["id"]) for item in page["data"]]
            cursor = (page.get("links") or {}).get("next")
            if not cursor:
                break
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--changed", type=int, default=10_000)
    parser.add_argument("--unchanged", type=int, default=20_000)
    args = parser.parse_args()
    with bench_stack() as (client, _redis_url, url, key):
        from shared.accounts import AccountStore
        from shared.settings import get_settings

        AccountStore(client, get_settings()).add("bench", key, klaviyo_base_url=url)
        httpx.put(f"{url}/__sandbox/jobs", json={"mode": "instant"})
        import_profiles(key, url, args.changed, args.unchanged)
        changed = import_profiles(key, url, 0, args.changed)
        before = int(client.info("memory")["used_memory"])
        ledger_s = write_ledger(client, "bench", args.contacts, time.time() - 3600)
        ledger_bytes = int(client.info("memory")["used_memory"]) - before
        time.sleep(1.1)  # Klaviyo's filters have second precision
        client.hset(keys.pull_state("bench"), CURSOR_FIELD, repr(time.time()))
        time.sleep(1.1)
        with httpx.Client(base_url=f"{url}/__sandbox/accounts/{key}") as control:
            for n, profile_id in enumerate(changed):
                control.post(f"/profiles/{profile_id}/consent",
                             json={"action": "unsubscribe" if n % 2 else "bounce"})
        klaviyo = klaviyo_for(client, account_config(client, "bench"))
        calls_before = sum(httpx.get(f"{url}/__sandbox/calls", params={"key": key}).json()
                           .get("get_profiles", {}).values())
        spent = {"ledger": 0.0}
        publish = LedgerPage.publish

        def timed_publish(page: LedgerPage, profiles: Any) -> int:
            begun = time.perf_counter()
            try:
                return publish(page, profiles)
            finally:
                spent["ledger"] += time.perf_counter() - begun

        LedgerPage.publish = timed_publish  # type: ignore[method-assign,assignment]
        started = time.perf_counter()
        result = pull_consent(client, klaviyo, "bench", time.time(), lookback=0)
        pull_s = time.perf_counter() - started
        LedgerPage.publish = publish  # type: ignore[method-assign]
        calls = sum(httpx.get(f"{url}/__sandbox/calls", params={"key": key}).json()
                    .get("get_profiles", {}).values()) - calls_before
        budget_s = calls / LIMITS["get_profiles"].steady * 60
        print(f"ledger: {args.contacts:,} contacts in {ledger_s:.1f} s, "
              f"{ledger_bytes / args.contacts:.0f} bytes each "
              f"({ledger_bytes / 2**20:.0f} MB)")
        print(f"consent pull: {result.calls} calls ({calls} get_profiles seen by Klaviyo), "
              f"{result.read:,} profiles read, {result.published:,} changes published, "
              f"{pull_s:.2f} s, of which {spent['ledger']:.2f} s comparing with the ledger and "
              f"publishing (the rest: Klaviyo's answers, here the sandbox's, and reading them)")
        print(f"Klaviyo's steady limit for get_profiles "
              f"({LIMITS['get_profiles'].steady}/min) allows those calls in "
              f"{budget_s:.1f} s")
        print(f"stream entries: {client.xlen(keys.subscribers_stream('bench')):,}")


if __name__ == "__main__":
    main()
