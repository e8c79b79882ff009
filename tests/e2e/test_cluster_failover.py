"""A Redis Cluster loses a master mid-batch (SIGKILL, as a crashed host): its replica takes
over (the cluster's own failover), the batch completes, and every change the webhook
accepted (202: on the master and a replica) is in Klaviyo once."""

from __future__ import annotations

import time

import pytest

from shared import constants as keys
from tests.e2e.pipeline import Pipeline
from tests.support.process_stack import wait_until

STATE_SHAPES = ("cluster",)
"""This module runs on a Redis Cluster only (tests/e2e/conftest.py)."""

pytestmark = pytest.mark.xdist_group("test_cluster_failover")

CONTACTS = 300


def test_a_master_killed_mid_batch_loses_no_accepted_change(pipeline: Pipeline) -> None:
    assert pipeline.cluster is not None
    acme = pipeline.add_account()
    newsletter = pipeline.create_list(acme, "Newsletter")
    pipeline.set_account(acme, "--default-list", newsletter)
    pipeline.sandbox.set_jobs("async", 1500)  # each import job takes 1.5 s: a batch to kill
    events = [pipeline.upsert(acme, f"C-{n}", 1, first_name=f"N{n}") for n in range(CONTACTS)]
    for start in range(0, CONTACTS, 100):
        pipeline.post(events[start:start + 100])

    running = str(wait_until(lambda: pipeline.r.hget(keys.state(acme.name), "running"), 60,
                             "a running batch"))
    killed = pipeline.cluster.kill_master_of(keys.state(acme.name))
    assert not killed.alive
    started = time.monotonic()

    batches = pipeline.settle(acme, timeout=180)
    assert running in {batch["batch_id"] for batch in batches}
    assert pipeline.batch(acme, running)["status"] == "completed"
    profiles = pipeline.profiles(acme)  # fails on a duplicate email
    assert set(profiles) == {f"c-{n}@example.com" for n in range(CONTACTS)}
    assert pipeline.members(acme, newsletter) == set(profiles)
    print(f"settled {time.monotonic() - started:.1f} s after the kill")
