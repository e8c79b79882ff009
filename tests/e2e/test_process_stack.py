"""The harness itself: one signed event through the real web, collector, scheduler and
worker processes ends as a profile in the sandbox; a SIGKILLed worker is replaced."""

from __future__ import annotations

import signal
from typing import Any

from sandbox.inspect_client import SandboxClient
from shared.redis_client import connect
from shared.state.heartbeats import alive
from tests.support.process_stack import ProcessStack, contact_event, wait_until


def test_one_event_travels_from_the_webhook_to_a_klaviyo_profile(process_stack: ProcessStack,
                                                                  sandbox: SandboxClient
                                                                  ) -> None:
    for name in ("web", "collector", "scheduler", "worker"):
        process_stack.start(name)
    event = contact_event("default", "C-1", "2026-11-22T10:00:00Z",
                          email="Ann.Lee@Example.com", first_name="Ann")
    answer = process_stack.post_events([event])
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"accepted": 1}

    def synced() -> list[dict[str, Any]]:
        return list(sandbox.profiles(sandbox.key))

    profiles = wait_until(synced, 60, "the profile in the sandbox")
    assert [(p["email"], p["first_name"]) for p in profiles] == [("ann.lee@example.com", "Ann")]

    client = connect(process_stack.redis_url)
    every_kind = {"web": 1, "collector": 1, "scheduler": 1, "worker": 1}
    wait_until(lambda: alive(client) == every_kind, 30, "a heartbeat of each process")


def test_a_sigkilled_worker_can_be_restarted(process_stack: ProcessStack) -> None:
    process_stack.start("worker")
    first = process_stack.pid("worker")
    process_stack.kill("worker", sig=signal.SIGKILL)
    process_stack.restart("worker")
    assert process_stack.pid("worker") != first
    assert process_stack.processes["worker"][0].process.poll() is None
