"""A real sync through the Procfile's processes, JSON logs on, Sentry pointed at a local
capturing endpoint, Klaviyo answering some calls with 503: then every log line, every Sentry
envelope, every Dramatiq message ever seen in Redis (queues, delay queues, dead letters)
and the operator commands' output are scanned for the emails, phones, names and keys used.

A second account has a wrong Klaviyo key (stored encrypted, via ``accounts add
--no-check``): Klaviyo answers 401, the account is parked as refused, and that must reach
the operator (status) without the key.
"""

from __future__ import annotations

import secrets
import subprocess
from typing import Any

import redis
import sentry_sdk

from shared import constants as keys
from tests.security.leak_scan import CONTACT_SYNC, DramatiqSnapshots, cli, dump_keys, leaks
from tests.support.process_stack import ProcessStack, contact_event, wait_until
from tests.support.sentry_envelopes import Envelopes

TOKEN = secrets.token_hex(4)
GOOD = 24
"""Contacts of the account ``default`` (the sandbox key of the test)."""
BAD_KEY_ACCOUNT, BAD_KEY = "badkey", f"pk_wrong{TOKEN}0123456789abcdef"
BAD_PHONE = "+1 555 0199 123"


def person(n: int) -> dict[str, Any]:
    return {"email": f"zelda.{TOKEN}.{n}@example.com", "phone": f"+44770090{n:04d}",
            "first_name": "Zelda", "last_name": f"Quillfeather{TOKEN}{n}",
            "role": "Buyer", "marketing": "subscribed"}


def test_no_email_phone_name_or_key_in_logs_sentry_messages_or_cli_output(
    process_stack: ProcessStack, sandbox: Any, r: redis.Redis, envelopes: Envelopes,
) -> None:
    stack = process_stack
    stack.env.update({"SYNC_LOG_FORMAT": "json", "SENTRY_DSN": envelopes.dsn})
    added = subprocess.run(
        [CONTACT_SYNC, "accounts", "add", BAD_KEY_ACCOUNT, "--klaviyo-key", BAD_KEY,
         "--klaviyo-base-url", stack.sandbox_url, "--no-check"], env=stack.env, capture_output=True,
        text=True, check=False, timeout=60)
    assert added.returncode == 0, added.stderr
    people = {n: person(n) for n in range(GOOD + 4)}
    people[GOOD]["phone"] = BAD_PHONE  # Klaviyo drops it (a partial failure), keeps the rest
    sandbox.set_faults("*", status_503=0.2)

    with DramatiqSnapshots(stack.redis_url).running() as snapshots:
        for name in ("web", "collector", "scheduler", "worker"):
            stack.start(name)
        events = [contact_event("default", f"C-{n}", "2026-11-22T10:00:00Z", **people[n])
                  for n in range(GOOD + 1)]
        events += [contact_event(BAD_KEY_ACCOUNT, f"C-{n}", "2026-11-22T10:00:00Z",
                                 **people[n]) for n in range(GOOD + 1, GOOD + 4)]
        assert stack.post_events(events).status_code == 202
        wait_until(lambda: len(sandbox.profiles(sandbox.key)) == GOOD + 1, 90,
                   "the good account's contacts in the sandbox")
        wait_until(lambda: r.hget(keys.state(BAD_KEY_ACCOUNT), "connection_code")
                   == "authentication_failed", 90, "the wrong key's 401 parking its account")
        assert r.hlen(keys.rejected(BAD_KEY_ACCOUNT)) == 0, "no contact blamed for the key"
        sandbox.clear_faults()
    operator = "\n".join(cli(stack.env, *args) for args in (
        ("status",), ("status", "--json"), ("accounts", "list"),
        ("accounts", "show", BAD_KEY_ACCOUNT), ("accounts", "show", "default"),
        ("dlq", "list"), ("rejected", "list", "--account", BAD_KEY_ACCOUNT),
        ("rejected", "list", "--account", "default", "--json")))
    stack.stop()  # flushes Sentry in every process
    sentry_sdk.flush(timeout=2)

    logs = "\n".join(stack.output(name) for name in stack.processes)
    json_lines = [line for line in logs.splitlines() if line.startswith("{")]
    sources = {"logs": logs, "sentry": envelopes.text(), "dramatiq": snapshots.text(),
               "cli": operator}
    personal = [value for p in people.values() for value in (p["email"], p["phone"],
                                                             p["last_name"])]
    keys_used = [BAD_KEY, sandbox.key, stack.secret, stack.env["SYNC_SECRET_KEY"]]
    print(f"\nscanned {len(logs.splitlines())} log lines ({len(json_lines)} JSON), "
          f"{len(envelopes.bodies)} Sentry envelopes, {len(snapshots.seen)} Dramatiq keys "
          f"({sum(map(len, snapshots.seen.values()))} states), {len(operator.splitlines())} "
          f"lines of CLI output for {len(personal)} personal values and {len(keys_used)} keys")
    found = leaks(sources, personal + keys_used)
    assert found == [], f"{len(found)} leaks, e.g. {found[:5]}"
    # The Klaviyo keys are nowhere in Redis in plain text (the stored one is encrypted).
    assert leaks(dump_keys(r), [BAD_KEY, sandbox.key]) == []

    # Not vacuous: each source saw the data pass, the errors happened and were reported.
    assert len(json_lines) > 20
    assert any(".msgs" in name for name in snapshots.seen), snapshots.seen.keys()
    assert "authentication_failed" in operator, operator
    assert envelopes.bodies, "no error reached Sentry: the scan of envelopes proved nothing"
