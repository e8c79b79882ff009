"""Klaviyo calls through the gateway, against the sandbox over HTTP with the official SDK."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from shared import constants as keys
from shared.klaviyo.client import build_client
from shared.klaviyo.errors import AccountRefused, Conflict, RateLimited, Rejected, Transient
from shared.klaviyo.gateway import Gateway


def profile(email: str) -> dict[str, Any]:
    return {"data": {"type": "profile", "attributes": {"email": email}}}


def test_a_429_is_one_http_request_and_blocks_the_operation_for_every_worker(
        r: redis.Redis, sandbox: Any) -> None:
    api = build_client(sandbox.key, sandbox.url)
    sandbox.set_faults("get_profiles", status_429=1.0, retry_after=3)
    with pytest.raises(RateLimited) as caught:
        Gateway(r, "acct").call("get_profiles", api.Profiles.get_profiles)
    assert caught.value.retry_in == 3 and caught.value.by_klaviyo
    assert sum(sandbox.calls(sandbox.key).get("get_profiles", {}).values()) == 1
    with pytest.raises(RateLimited) as again:  # another worker: refused before any request
        Gateway(r, "acct").call("get_profiles", api.Profiles.get_profiles)
    assert not again.value.by_klaviyo and 0 < again.value.retry_in <= 3
    assert sum(sandbox.calls(sandbox.key).get("get_profiles", {}).values()) == 1


def test_a_duplicate_profile_is_a_conflict_naming_the_existing_profile(
        r: redis.Redis, sandbox: Any) -> None:
    api = build_client(sandbox.key, sandbox.url)
    gateway = Gateway(r, "acct")
    created: Any = gateway.call("create_profile", api.Profiles.create_profile,
                                profile("ann@example.com"))
    with pytest.raises(Conflict) as caught:
        gateway.call("create_profile", api.Profiles.create_profile, profile("ANN@example.com"))
    assert caught.value.duplicate_profile_id == created["data"]["id"]
    assert "ann@" not in str(caught.value)


def test_a_refused_request_is_rejected_with_klaviyos_code_and_detail(
        r: redis.Redis, sandbox: Any) -> None:
    api = build_client(sandbox.key, sandbox.url)
    with pytest.raises(Rejected) as caught:
        Gateway(r, "acct").call("get_profiles", api.Profiles.get_profiles,
                                filter="equals(nonsense")
    assert caught.value.status == 400 and caught.value.code == "invalid"
    assert caught.value.detail


def test_server_errors_and_dropped_connections_are_transient(
        r: redis.Redis, sandbox: Any) -> None:
    api = build_client(sandbox.key, sandbox.url)
    gateway = Gateway(r, "acct")
    sandbox.set_faults("get_lists", status_500=1.0)
    with pytest.raises(Transient) as caught:
        gateway.call("get_lists", api.Lists.get_lists)
    assert caught.value.status == 500
    sandbox.clear_faults()
    sandbox.set_faults("get_lists", drop=1.0)
    with pytest.raises(Transient):
        gateway.call("get_lists", api.Lists.get_lists)


def test_429s_without_retry_after_wait_one_second_then_longer_while_they_keep_coming(
        r: redis.Redis, sandbox: Any) -> None:
    api = build_client(sandbox.key, sandbox.url)
    sandbox.set_faults("get_profiles", status_429=1.0, retry_after=0, omit_retry_after=1.0)
    waits = []
    for _ in range(4):
        gateway = Gateway(r, "acct")
        r.delete(keys.rate_limit_block("acct", "get_profiles"))  # as if the wait had passed
        with pytest.raises(RateLimited) as caught:
            gateway.call("get_profiles", api.Profiles.get_profiles)
        waits.append(caught.value.retry_in)
    assert waits == [1.0, 2.0, 4.0, 8.0]


def test_a_cdn_challenge_403_is_transient_not_a_refused_account(
        r: redis.Redis, sandbox: Any) -> None:
    api = build_client(sandbox.key, sandbox.url)
    sandbox.set_faults("get_lists", status_403_html=1.0)
    with pytest.raises(Transient) as caught:
        Gateway(r, "acct").call("get_lists", api.Lists.get_lists)
    assert caught.value.status == 403


@pytest.mark.parametrize(("state", "status", "code"), [
    ("revoked", 401, "authentication_failed"), ("no_scope", 403, "permission_denied")])
def test_a_refused_key_is_the_accounts_problem_with_klaviyos_code(
        r: redis.Redis, sandbox: Any, state: str, status: int, code: str) -> None:
    api = build_client(sandbox.key, sandbox.url)
    sandbox.set_key_state(state)
    with pytest.raises(AccountRefused) as caught:
        Gateway(r, "acct").call("get_lists", api.Lists.get_lists)
    assert (caught.value.status, caught.value.code) == (status, code)
    sandbox.set_key_state("ok")


def test_a_refused_bulk_job_names_every_bad_row_by_pointer(
        r: redis.Redis, sandbox: Any) -> None:
    api = build_client(sandbox.key, sandbox.url)
    rows = [{"type": "profile", "attributes": {"email": email}}
            for email in ("a@example.com", "b@domain.c", "c@example.com", "not-an-email")]
    body = {"data": {"type": "profile-bulk-import-job",
                     "attributes": {"profiles": {"data": rows}}}}
    with pytest.raises(Rejected) as caught:
        Gateway(r, "acct").call("bulk_import_profiles", api.Profiles.bulk_import_profiles, body)
    assert caught.value.status == 400
    assert [(e.code, e.pointer) for e in caught.value.errors] == [
        ("invalid", "/data/attributes/profiles/data/1/attributes/email"),
        ("invalid", "/data/attributes/profiles/data/3/attributes/email")]


def test_the_wait_after_429s_without_retry_after_starts_over_once_a_call_goes_through(
        r: redis.Redis, sandbox: Any) -> None:
    api = build_client(sandbox.key, sandbox.url)
    sandbox.set_faults("get_profiles", status_429=1.0, retry_after=0, omit_retry_after=1.0)
    for expected in (1.0, 2.0):
        r.delete(keys.rate_limit_block("acct", "get_profiles"))
        with pytest.raises(RateLimited) as caught:
            Gateway(r, "acct").call("get_profiles", api.Profiles.get_profiles)
        assert caught.value.retry_in == expected
    sandbox.clear_faults()
    r.delete(keys.rate_limit_block("acct", "get_profiles"))
    Gateway(r, "acct").call("get_profiles", api.Profiles.get_profiles)
    sandbox.set_faults("get_profiles", status_429=1.0, retry_after=0, omit_retry_after=1.0)
    with pytest.raises(RateLimited) as again:
        Gateway(r, "acct").call("get_profiles", api.Profiles.get_profiles)
    assert again.value.retry_in == 1.0
