"""Every Klaviyo operation the sync uses (docs/KLAVIYO.md), through the official SDK and
contract-checked.

The session sandbox is wrapped in ``OpenAPIContractMiddleware`` (tests/support): each request
sent and answer received here is validated against Klaviyo's OpenAPI slices, and any
violation fails the test. The tests also assert the values returned.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import ApiException, NotFoundException, UnauthorizedException

from sandbox.inspect_client import SandboxClient
from tests.sandbox.helpers import import_body, make_list, profile_body, wait_complete
from tests.support.openapi_contract import ContractViolations, slices_present


@pytest.fixture
def checked(contract_violations: ContractViolations) -> Iterator[None]:
    """Assert at the end that the contract layer really saw this test's exchanges."""
    before = contract_violations.checked
    yield
    if slices_present():
        assert contract_violations.checked > before


def _consent_profiles(
    job_type: str, consent: str, emails: list[str], list_id: str
) -> dict[str, Any]:
    rows = [
        {
            "type": "profile",
            "attributes": {
                "email": email,
                "subscriptions": {"email": {"marketing": {"consent": consent}}},
            },
        }
        for email in emails
    ]
    return {
        "data": {
            "type": job_type,
            "attributes": {"profiles": {"data": rows}},
            "relationships": {"list": {"data": {"type": "list", "id": list_id}}},
        }
    }


def test_profile_operations_answer_as_the_spec_says(klaviyo: KlaviyoAPI, checked: None) -> None:
    created = klaviyo.Profiles.create_profile(
        profile_body(email="Ada@Example.com", first_name="Ada")
    )
    pid = created.data.id
    assert created.data.links.var_self.endswith(f"{pid}/")
    found = klaviyo.Profiles.get_profiles(filter='equals(email,"ada@example.com")')
    assert [p.id for p in found.data] == [pid]
    assert klaviyo.Profiles.get_profile(pid).data.attributes.first_name == "Ada"
    patch = {"data": {"type": "profile", "id": pid, "attributes": {"last_name": "Lovelace"}}}
    assert klaviyo.Profiles.update_profile(pid, patch).data.attributes.last_name == "Lovelace"

    new = klaviyo.Profiles.create_or_update_profile_with_http_info(
        profile_body(email="b@example.com")
    )
    assert new.status_code == 201
    same = klaviyo.Profiles.create_or_update_profile_with_http_info(
        profile_body(email="b@example.com", first_name="Bea")
    )
    assert same.status_code == 200 and same.data.data.id == new.data.data.id
    assert same.data.data.attributes.first_name == "Bea"


def test_a_duplicate_an_unknown_id_and_a_bad_key_get_klaviyos_errors(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient, checked: None
) -> None:
    first = klaviyo.Profiles.create_profile(profile_body(email="dup@example.com")).data.id
    with pytest.raises(ApiException) as conflict:
        klaviyo.Profiles.create_profile(profile_body(email="dup@example.com"))
    assert conflict.value.status == 409
    error = json.loads(conflict.value.body or "{}")["errors"][0]
    assert (error["code"], error["meta"]["duplicate_profile_id"]) == ("duplicate_profile", first)
    with pytest.raises(NotFoundException):
        klaviyo.Profiles.get_profile("01GDDKASAP8TKDDA2GRZDSVP4H")
    with pytest.raises(UnauthorizedException):
        KlaviyoAPI(
            "no-such-key", max_delay=2, max_retries=3, test_host=sandbox.url
        ).Lists.get_lists()


def test_a_429_is_waited_out_by_the_sdk_and_then_succeeds(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient, checked: None
) -> None:
    sandbox.set_faults("get_lists", status_429=1.0, retry_after=0)
    with pytest.raises(ApiException) as throttled:
        KlaviyoAPI(
            sandbox.key, max_delay=0.1, max_retries=1, test_host=sandbox.url
        ).Lists.get_lists()
    assert throttled.value.status == 429
    assert json.loads(throttled.value.body or "{}")["errors"][0]["code"] == "throttled"
    sandbox.clear_faults()
    sandbox.set_limits("on", scale=0.1)  # create_list: 1 a second
    names = [make_list(klaviyo, name=f"L{i}") for i in range(2)]
    assert len(set(names)) == 2
    assert "429" in sandbox.calls(sandbox.key)["create_list"]


def test_bulk_import_job_errors_and_profiles(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient, checked: None
) -> None:
    sandbox.set_strictness(bulk_validation="async")  # bad rows as import-errors
    list_id = make_list(klaviyo)
    rows = [{"email": "ok1@example.com"}, {"email": "not-an-email"}, {"email": "ok2@example.com"}]
    job = klaviyo.Profiles.bulk_import_profiles(import_body(rows, list_id))
    assert job.data.attributes.total_count == 3
    done = wait_complete(klaviyo, job.data.id).data.attributes
    assert (done.status, done.completed_count, done.failed_count) == ("complete", 2, 1)
    errors = klaviyo.Profiles.get_errors_for_bulk_import_profiles_job(job.data.id).data
    assert [e.attributes.source.pointer for e in errors] == [
        "/data/attributes/profiles/data/1/attributes/email"
    ]
    profiles = klaviyo.Profiles.get_profiles_for_bulk_import_profiles_job(job.data.id).data
    assert sorted(p.attributes.email for p in profiles) == ["ok1@example.com", "ok2@example.com"]
    members = klaviyo.Lists.get_profiles_for_list(list_id).data
    assert all(m.attributes.joined_group_at is not None for m in members) and len(members) == 2


def test_list_operations_and_membership(klaviyo: KlaviyoAPI, checked: None) -> None:
    list_id = make_list(klaviyo, name="Members")
    assert klaviyo.Lists.get_list(list_id).data.attributes.name == "Members"
    assert list_id in [item.id for item in klaviyo.Lists.get_lists().data]
    pid = klaviyo.Profiles.create_profile(profile_body(email="m@example.com")).data.id
    members = {"data": [{"type": "profile", "id": pid}]}
    assert klaviyo.Lists.add_profiles_to_list(list_id, members) is None
    assert [p.id for p in klaviyo.Lists.get_profiles_for_list(list_id).data] == [pid]
    assert klaviyo.Lists.remove_profiles_from_list(list_id, members) is None
    assert klaviyo.Lists.get_profiles_for_list(list_id).data == []


def test_consent_jobs_subscribe_unsubscribe_and_suppress(
    klaviyo: KlaviyoAPI, checked: None
) -> None:
    list_id = make_list(klaviyo, name="Consent")
    subscribe = _consent_profiles(
        "profile-subscription-bulk-create-job",
        "SUBSCRIBED",
        ["s@example.com", "u@example.com"],
        list_id,
    )
    assert klaviyo.Profiles.bulk_subscribe_profiles(subscribe) is None
    unsubscribe = _consent_profiles(
        "profile-subscription-bulk-delete-job", "UNSUBSCRIBED", ["u@example.com"], list_id
    )
    assert klaviyo.Profiles.bulk_unsubscribe_profiles(unsubscribe) is None
    suppress = {
        "data": {
            "type": "profile-suppression-bulk-create-job",
            "attributes": {
                "profiles": {
                    "data": [{"type": "profile", "attributes": {"email": "s@example.com"}}]
                }
            },
        }
    }
    job = klaviyo.Profiles.bulk_suppress_profiles(suppress)
    assert klaviyo.Profiles.get_bulk_suppress_profiles_job(job.data.id).data.id == job.data.id
    found = klaviyo.Profiles.get_profiles(
        filter='any(email,["s@example.com","u@example.com"])',
        additional_fields_profile=["subscriptions"],
    ).data
    marketing = {p.attributes.email: p.attributes.subscriptions.email.marketing for p in found}
    assert marketing["u@example.com"].consent == "UNSUBSCRIBED"
    assert marketing["s@example.com"].consent == "SUBSCRIBED"
    assert marketing["s@example.com"].can_receive_email_marketing is False
