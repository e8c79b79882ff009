"""How long the account API's preview takes on a large account, against a baseline.

    python -m bench.preview_latency [--contacts 100000]

An embedded redis-server; ``--contacts`` contact events of one account (the contract's
example shape) appended as the webhook does and applied by a real collector, so the
account's mirror is what production holds. Then, timed in the same run:

* ``preview_counts`` (:mod:`shared.account_service.preview`, what
  ``GET /v1/accounts/{a}/preview`` and ``contact-sync preview`` run) for the saved filters;
* the baseline: ``MGET`` of every mirror key in slices of 1,000, nothing parsed -- the
  least any count that reads the mirror can cost.

The preview reads every mirror (O(contacts) per request): the figure says how far that is
from "fast on a 1M-contact account", which kept-as-they-change counts fix.
"""

from __future__ import annotations

import argparse
import time

from bench.ingest_throughput import make_event
from bench.push_throughput import bench_stack
from producers.event_stream import append_events
from shared import constants as keys
from shared.events import ContactEvent
from shared.state.contact_mirror import mirrored_ids

ACCOUNT = "acct-preview"


def _feed(client: object, contacts: int) -> None:
    batch: list[ContactEvent] = []
    for n in range(contacts):
        item = make_event(n)
        item["account_id"] = ACCOUNT
        batch.append(ContactEvent.model_validate(item))
        if len(batch) == 1000:
            append_events(client, batch, "webhook")  # type: ignore[arg-type]
            batch = []
    append_events(client, batch, "webhook")  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    args = parser.parse_args()
    with bench_stack() as (client, _redis_url, url, key):
        from shared.account_service.preview import preview_counts
        from shared.accounts import AccountStore
        from shared.settings import get_settings
        from workers.intake.collector import Collector

        settings = get_settings()
        AccountStore(client, settings).add(ACCOUNT, key, klaviyo_base_url=url)
        _feed(client, args.contacts)
        collector = Collector(client, "bench", block_ms=0, count=500, claim_every=1e9)
        collector.ensure_group()
        while collector.run_once():
            pass
        ids = list(mirrored_ids(client, ACCOUNT))
        started = time.perf_counter()
        for start in range(0, len(ids), 1000):
            client.mget([keys.contact(ACCOUNT, cid) for cid in ids[start:start + 1000]])
        baseline_s = time.perf_counter() - started
        started = time.perf_counter()
        counts = preview_counts(client, settings, ACCOUNT)
        preview_s = time.perf_counter() - started
    print(f"{len(ids):,} mirrored contacts: preview_counts {preview_s:.2f} s "
          f"(matching {counts.matching:,}, would_send {counts.would_send:,}); baseline MGET "
          f"of every mirror {baseline_s:.2f} s (ratio {preview_s / baseline_s:.1f}x); "
          f"at this rate 1,000,000 contacts take ~{preview_s * 1e6 / len(ids):.0f} s")


if __name__ == "__main__":
    main()
