"""An account whose Klaviyo refuses its key is parked, not its contacts (docs/KLAVIYO.md §7)."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import redis
from typer.testing import CliRunner

from cli.main import app
from shared import constants as keys
from shared.accounts import AccountStore
from shared.settings import get_settings
from shared.state.account_health import REFUSED_RETRY_S, connection
from tests.workers.dramatiq_harness import wait_for
from tests.workers.push_harness import PushAccount
from workers.actors.batch import sync_batch
from workers.batch_lifecycle import batch_info, start_batch
from workers.scheduler import Scheduler
from workers.status_report import build_status


def _refused_batch(r: redis.Redis, acct: PushAccount, batch_id: str) -> dict[str, Any]:
    assert start_batch(r, acct.name, batch_id, 1_000.0) > 0
    sync_batch.send(acct.name, batch_id)
    wait_for(lambda: batch_info(r, acct.name, batch_id).get("status") == "failed")
    return batch_info(r, acct.name, batch_id)


@pytest.mark.parametrize(("state", "status", "code"), [
    ("revoked", 401, "authentication_failed"), ("no_scope", 403, "permission_denied")])
def test_a_refused_key_parks_the_account_and_its_contacts_wait_unrejected(
        r: redis.Redis, sandbox: Any, worker: None, state: str, status: int, code: str) -> None:
    acct = PushAccount(r, sandbox)
    for i in range(5):
        acct.change(f"C{i}")
    sandbox.set_key_state(state, key=acct.key)
    info = _refused_batch(r, acct, "b-refused")
    assert info["report"] == {"error": f"account refused: {code}"}
    assert r.hlen(keys.rejected(acct.name)) == 0
    assert r.zcard(keys.pending(acct.name)) == 5, "the contacts wait in pending"
    parked = connection(r, acct.name)
    assert (parked.state, parked.code) == ("refused", code)
    shown = next(a for a in build_status(r)["accounts"] if a["account"] == acct.name)
    assert shown["connection"]["state"] == "refused" and shown["connection"]["code"] == code
    assert shown["due"].startswith("retried at next_due")
    assert r.sismember(keys.REFUSED_ACCOUNTS, acct.name)
    sandbox.set_key_state("ok", key=acct.key)
    assert acct.profiles() == []


def test_a_refused_account_is_retried_at_most_every_fifteen_minutes(
        r: redis.Redis, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox, interval=10)
    acct.change("C1")
    sandbox.set_key_state("revoked", key=acct.key)
    _refused_batch(r, acct, "b-first")
    completed = float(r.hget(keys.state(acct.name), "completed_at") or 0)
    now = [completed + 60]
    started: list[tuple[str, str]] = []
    scheduler = Scheduler(r, AccountStore(r, get_settings()),
                          lambda a, b: started.append((a, b)), clock=lambda: now[0])
    scheduler.tick()
    assert started == [], "the account's own 10 s interval does not apply while refused"
    now[0] = completed + REFUSED_RETRY_S + 1
    scheduler.tick()
    assert [a for a, _ in started] == [acct.name]


def test_a_new_key_clears_the_refusal_and_the_next_batch_sends_every_contact(
        r: redis.Redis, redis_url: str, sandbox: Any, worker: None) -> None:
    acct = PushAccount(r, sandbox)
    for i in range(5):
        acct.change(f"C{i}")
    sandbox.set_key_state("revoked", key=acct.key)
    _refused_batch(r, acct, "b-refused")
    sandbox.set_key_state("ok", key=acct.key)  # the customer made a working key
    result = CliRunner().invoke(
        app, ["accounts", "set", acct.name, "--klaviyo-key", acct.key],
        env={"REDIS_URL": redis_url, "SYNC_SECRET_KEY": os.environ["SYNC_SECRET_KEY"]})
    assert result.exit_code == 0, result.output
    assert acct.key not in result.output
    assert connection(r, acct.name).state == "ok"
    assert r.hget(keys.state(acct.name), "force") == "1", "due at the next tick"
    info = acct.sync()
    assert info["report"]["created"] == 5
    assert sorted(acct.by_email()) == [f"c{i}@example.com" for i in range(5)]
    assert not r.sismember(keys.REFUSED_ACCOUNTS, acct.name)
    status = json.loads(CliRunner().invoke(app, ["status", "--json"],
                                           env={"REDIS_URL": redis_url}).output)
    shown = next(a for a in status["accounts"] if a["account"] == acct.name)
    assert shown["connection"]["state"] == "ok"
