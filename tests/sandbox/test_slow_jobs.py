"""Jobs take time and have opaque ids (docs/KLAVIYO.md §4): queued, then processing, then
complete; cancelled or gone when the inspection API says so; ``expires_at`` 7 days after."""

from __future__ import annotations

import base64
import re
import time
from datetime import timedelta

import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import NotFoundException

from sandbox.inspect_client import SandboxClient
from tests.sandbox.helpers import import_body, wait_complete

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def _submit(klaviyo: KlaviyoAPI, n: int = 3) -> str:
    rows = [{"email": f"slow{i}@example.com"} for i in range(n)]
    job_id: str = klaviyo.Profiles.bulk_import_profiles(import_body(rows)).data.id
    return job_id


def _status(klaviyo: KlaviyoAPI, job_id: str) -> str:
    status: str = klaviyo.Profiles.get_bulk_import_profiles_job(job_id).data.attributes.status
    return status


def _wait_status(klaviyo: KlaviyoAPI, job_id: str, wanted: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while _status(klaviyo, job_id) != wanted:
        assert time.monotonic() < deadline, f"the job never became {wanted}"
        time.sleep(0.02)


def test_a_job_stays_queued_then_processing_for_the_times_set_then_completes(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    sandbox.set_jobs("async", delay_ms=400, processing_ms=400)
    job_id = _submit(klaviyo)
    seen: list[str] = []
    started = time.monotonic()
    while not seen or seen[-1] != "complete":
        job = klaviyo.Profiles.get_bulk_import_profiles_job(job_id).data.attributes
        if not seen or seen[-1] != job.status:
            seen.append(job.status)
            if job.status == "processing":
                assert job.started_at is not None and job.completed_at is None
                assert job.completed_count == 0
        assert time.monotonic() - started < 10
        time.sleep(0.03)
    assert seen == ["queued", "processing", "complete"]
    assert time.monotonic() - started >= 0.8
    assert len(sandbox.profiles()) == 3


def test_a_job_can_be_held_processing_for_minutes_and_then_cancelled(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    sandbox.set_jobs("async", delay_ms=0, processing_ms=10 * 60_000)
    job_id = _submit(klaviyo)
    _wait_status(klaviyo, job_id, "processing")
    assert sandbox.cancel_job(job_id)["status"] == "cancelled"
    job = klaviyo.Profiles.get_bulk_import_profiles_job(job_id).data.attributes
    assert (job.status, job.completed_count, job.completed_at) == ("cancelled", 0, None)
    assert sandbox.profiles() == []


def test_a_queued_job_that_is_cancelled_never_applies_its_rows(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    sandbox.set_jobs("async", delay_ms=300)
    job_id = _submit(klaviyo)
    sandbox.cancel_job(job_id)
    time.sleep(0.5)
    assert _status(klaviyo, job_id) == "cancelled"
    assert sandbox.profiles() == []


def test_job_ids_are_opaque_base64_like_strings_and_jobs_expire_seven_days_after_creation(
    klaviyo: KlaviyoAPI,
) -> None:
    accepted = klaviyo.Profiles.bulk_import_profiles(import_body([{"email": "id@example.com"}]))
    job_id = accepted.data.id
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", job_id) and not ULID.match(job_id)
    assert len(base64.urlsafe_b64decode(job_id)) == 18
    attrs = accepted.data.attributes
    assert attrs.expires_at - attrs.created_at == timedelta(days=7)
    assert _submit(klaviyo) != job_id


def test_with_opaque_job_ids_off_jobs_get_ulids(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    sandbox.set_strictness(opaque_job_ids=False)
    assert ULID.match(_submit(klaviyo))


def test_an_expired_job_is_gone_from_every_read(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    job_id = _submit(klaviyo)
    wait_complete(klaviyo, job_id)
    expired = sandbox.expire_job(job_id)
    assert expired["id"] == job_id
    with pytest.raises(NotFoundException):
        klaviyo.Profiles.get_bulk_import_profiles_job(job_id)
    with pytest.raises(NotFoundException):
        klaviyo.Profiles.get_errors_for_bulk_import_profiles_job(job_id)
    assert klaviyo.Profiles.get_bulk_import_profiles_jobs().data == []
    with pytest.raises(RuntimeError, match="404"):
        sandbox.cancel_job(job_id)


def test_a_queued_job_that_expires_never_applies_its_rows(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    sandbox.set_jobs("async", delay_ms=300)
    job_id = _submit(klaviyo)
    sandbox.expire_job(job_id)
    time.sleep(0.5)
    assert sandbox.profiles() == []


def test_a_reset_restores_the_start_up_job_timing(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    sandbox.set_jobs("async", delay_ms=600_000, processing_ms=600_000)
    sandbox.reset()
    key = sandbox.new_key()
    fresh = KlaviyoAPI(key, max_delay=2, max_retries=3, test_host=sandbox.url)
    done = wait_complete(fresh, _submit(fresh), timeout=5).data.attributes
    assert done.status == "complete"
