"""The request log of the inspection API: every answered call with its arrival, answer,
status and Retry-After, so a test can check that a client waited after a 429."""

from __future__ import annotations

import pytest
from klaviyo_api import KlaviyoAPI

from sandbox.inspect_client import SandboxClient


def test_the_request_log_lists_each_call_with_its_status_and_retry_after(
    sandbox: SandboxClient, klaviyo: KlaviyoAPI
) -> None:
    klaviyo.Lists.get_lists()
    sandbox.set_faults("get_lists", status_429=1.0, retry_after=1)
    once = KlaviyoAPI(sandbox.key, max_delay=2, max_retries=1, test_host=sandbox.url)
    with pytest.raises(Exception, match=r"429|throttled"):
        once.Lists.get_lists()

    log = sandbox.requests(key=sandbox.key, operation="get_lists")
    answers = [(item["status"], item["retry_after"]) for item in log]
    assert answers[0] == (200, 0)
    assert len(answers) >= 3 and set(answers[1:]) == {(429, 1)}
    assert all(item["arrived"] <= item["answered"] for item in log)
    assert [item["arrived"] for item in log] == sorted(item["arrived"] for item in log)


def test_the_request_log_is_narrowed_by_key_and_emptied_by_a_reset(
    sandbox: SandboxClient, klaviyo: KlaviyoAPI
) -> None:
    other = KlaviyoAPI(sandbox.new_key(), max_delay=2, max_retries=0, test_host=sandbox.url)
    klaviyo.Lists.get_lists()
    other.Profiles.get_profiles()
    assert [item["operation"] for item in sandbox.requests(key=sandbox.key)] == ["get_lists"]
    assert len(sandbox.requests()) == 2
    sandbox.reset()
    assert sandbox.requests() == []
