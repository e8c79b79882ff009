"""The cadence, through the real processes with a short interval: the next
batch of an account starts no earlier than the interval after its previous batch completed;
every change made meanwhile is in it; a change that arrives while a batch runs waits for the
next one. Checked on the batches' stored times and members, not on the wall clock."""

from __future__ import annotations

from sandbox.inspect_client import SandboxClient
from tests.e2e.pipeline import Account, Pipeline, start_all
from tests.support.process_stack import ProcessStack, wait_until
from workers.batch_lifecycle import running_batch

INTERVAL_S = 5
JOB_DELAY_MS = 3000
"""Each bulk import job takes this long in the sandbox, so a batch stays running a while."""


def test_the_next_batch_waits_the_interval_and_holds_every_change_made_meanwhile(
    process_stack: ProcessStack, sandbox: SandboxClient,
) -> None:
    process_stack.env["SYNC_INTERVAL"] = str(INTERVAL_S)
    sandbox.set_jobs("async", JOB_DELAY_MS)
    start_all(process_stack)
    pipeline = Pipeline(process_stack, sandbox)
    default = Account("default", sandbox.key)

    pipeline.post([pipeline.upsert(default, "C-1", 1, first_name="One")])
    first_id = wait_until(lambda: running_batch(pipeline.r, "default"), 60,
                          "the first batch to start")
    pipeline.post([pipeline.upsert(default, "C-2", 2), pipeline.upsert(default, "C-1", 3,
                                                                       first_name="Uno")])
    wait_until(pipeline._stream_consumed, 30, "the collector to apply the changes")
    assert running_batch(pipeline.r, "default") == first_id, (
        "the changes must arrive while the first batch runs (the sandbox's job delay)")

    wait_until(lambda: pipeline.batch(default, first_id).get("status") == "completed", 60,
               "the first batch to complete")
    pipeline.post([pipeline.upsert(default, "C-3", 4)])
    first, second = pipeline.settle(default)

    assert first["batch_id"] == first_id
    # (a batch's member set is dropped when it ends: its report counts them)
    assert (first["report"]["contacts"], second["report"]["contacts"]) == (1, 3), (
        "changes made while the first ran and after it completed are all in the next")
    assert second["started_at"] >= first["completed_at"] + INTERVAL_S
    # C-1's newer state may already be sent by the first batch (it reads the newest mirror
    # when it plans); the second then finds it unchanged. Either way it is counted there.
    assert (first["report"]["created"], second["report"]["contacts"],
            second["report"]["created"]) == (1, 3, 2), second["report"]
    profiles = pipeline.profiles(default)
    assert set(profiles) == {"c-1@example.com", "c-2@example.com", "c-3@example.com"}
    assert profiles["c-1@example.com"]["first_name"] == "Uno"
    pipeline.close()
