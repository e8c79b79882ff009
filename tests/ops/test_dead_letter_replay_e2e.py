"""A chunk that failed for good (Klaviyo answered 500) is a dead letter and its batch is
given up, so the account goes on: once Klaviyo is back the next batch sends its contacts,
and replaying the old letter afterwards does nothing (no profile twice, no error)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import redis
from dramatiq.middleware import Middleware
from typer.testing import CliRunner

from cli.main import app
from sandbox.inspect_client import SandboxClient
from shared.state.dead_letters import DeadLetters
from tests.workers.dramatiq_harness import wait_for
from tests.workers.push_harness import PushAccount, prepare_env, push_worker
from workers.push.lifecycle import batch_info, start_batch
from workers.runtime.broker import setup_broker

runner = CliRunner()


class RetriesExhaustedAtOnce(Middleware):
    """Test harness: messages of one actor get no retries, so a failure dead-letters it now
    instead of after ten back-offs (~17 minutes)."""

    def __init__(self, actor_name: str) -> None:
        self.actor_name = actor_name

    def before_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        if message.actor_name == self.actor_name:
            message.options["max_retries"] = 0


def test_a_dead_lettered_chunk_fails_its_batch_and_the_next_batch_delivers_its_contacts(
        r: redis.Redis, redis_url: str,
        sandbox: SandboxClient, monkeypatch: pytest.MonkeyPatch) -> None:
    prepare_env(monkeypatch, redis_url, sandbox.url)
    broker = setup_broker(redis_url)
    no_retries = RetriesExhaustedAtOnce("upsert_chunk")
    broker.add_middleware(no_retries)
    try:
        with push_worker(redis_url):
            from workers.push.batch import sync_batch

            acct = PushAccount(r, sandbox)
            for contact_id in ("C1", "C2", "C3"):
                acct.change(contact_id)
            sandbox.set_faults("bulk_import_profiles", status_500=1.0)
            batch_id = f"b-{uuid.uuid4().hex[:8]}"
            assert start_batch(r, acct.name, batch_id, time.time()) == 3
            sync_batch.send(acct.name, batch_id)

            letters = DeadLetters(r)
            [letter] = wait_for(lambda: letters.list(actor="upsert_chunk"))
            assert letter.message.args[:2] == (acct.name, batch_id)
            assert "500" in letter.error or "Transient" in letter.error, letter.error
            assert acct.profiles() == []
            wait_for(lambda: batch_info(r, acct.name, batch_id)["status"] == "failed")

            sandbox.clear_faults()  # Klaviyo is back
            next_batch = f"b-{uuid.uuid4().hex[:8]}"
            assert start_batch(r, acct.name, next_batch, time.time()) == 3
            sync_batch.send(acct.name, next_batch)
            wait_for(lambda: batch_info(r, acct.name, next_batch).get("status") == "completed")
            assert sorted(acct.by_email()) == [
                "c1@example.com", "c2@example.com", "c3@example.com"]

            result = runner.invoke(app, ["dlq", "replay", "--all", "--actor", "upsert_chunk"],
                                   env={"REDIS_URL": redis_url})
            assert "Replayed 1 dead letter(s)." in result.output, result.output
            wait_for(lambda: letters.list() == [] and r.llen("dramatiq:default") == 0)
            time.sleep(0.5)
            assert len(acct.profiles()) == 3
            assert batch_info(r, acct.name, batch_id)["status"] == "failed"
    finally:
        broker.middleware.remove(no_retries)
