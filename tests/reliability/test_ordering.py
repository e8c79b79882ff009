"""One contact changed 1,000 times, the changes delivered shuffled over 50 requests to two
web processes while batches run: Klaviyo ends with the newest state (by ``occurred_at``),
as one profile."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import redis

from producers.signature import sign
from sandbox.inspect_client import SandboxClient
from tests.reliability.ledger import (
    ACCOUNT,
    batch_records,
    compare,
    report,
    seeded,
    wait_synced,
)
from tests.support.process_stack import ProcessStack, contact_event

CHANGES = 1000
REQUESTS = 50
EMAIL = "ordering-contact@example.com"


def _change(version: int) -> dict[str, Any]:
    at = datetime(2026, 11, 22, 9, 0, tzinfo=UTC) + timedelta(seconds=version)
    return contact_event(ACCOUNT, "ORD-1", at.strftime("%Y-%m-%dT%H:%M:%SZ"), email=EMAIL,
                         first_name=f"v{version}", properties={"version": version})


def _post(stack: ProcessStack, web: int, events: list[dict[str, Any]]) -> None:
    body = orjson.dumps({"events": events})
    port = stack.processes["web"][web].port
    answer = stack.http.post(f"http://127.0.0.1:{port}/v1/contact-events", content=body,
                             headers={"X-Sync-Signature": sign(stack.secret, body),
                                      "Content-Type": "application/json"})
    assert answer.status_code == 202, answer.text


def test_a_contact_changed_a_thousand_times_out_of_order_ends_in_its_newest_state(
    process_stack: ProcessStack, sandbox: SandboxClient, r: redis.Redis
) -> None:
    rand = seeded("ordering")
    process_stack.start("web", 2)
    for name in ("collector", "scheduler", "worker"):
        process_stack.start(name)
    changes = [_change(version) for version in range(1, CHANGES + 1)]
    rand.shuffle(changes)
    per_request = CHANGES // REQUESTS
    for n in range(REQUESTS):
        _post(process_stack, n % 2, changes[n * per_request:(n + 1) * per_request])
        time.sleep(0.1)  # spread over several batches (SYNC_INTERVAL is 2 s)

    newest = f"v{CHANGES}"
    took = wait_synced(sandbox, r, {EMAIL: newest}, timeout=120)
    outcome = compare(sandbox, {EMAIL: newest})
    assert (outcome.lost, outcome.duplicated, outcome.stale) == (0, 0, 0)
    profile = sandbox.profile_by_email(EMAIL)
    assert profile is not None
    assert profile["first_name"] == newest
    assert profile["properties"]["version"] == CHANGES
    batches = len(batch_records(r))
    report(f"1 contact changed {CHANGES} times, shuffled over {REQUESTS} requests to 2 web "
           f"processes ({batches} batches)", 1, outcome.lost, outcome.duplicated,
           f"{took:.0f} s to newest state")
