"""Bulk import jobs through the official SDK: lifecycle, errors, profiles, lists, limits."""

from __future__ import annotations

import json

import httpx
import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import BadRequestException

from sandbox.inspect_client import SandboxClient
from tests.sandbox.helpers import import_body, make_list, profile_body, wait_complete


def test_a_job_is_queued_then_completes_with_counts(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    sandbox.set_jobs("async", delay_ms=300)
    accepted = klaviyo.Profiles.bulk_import_profiles(
        import_body([{"email": f"j{i}@example.com"} for i in range(5)])
    )
    attrs = accepted.data.attributes
    assert (attrs.status, attrs.total_count, attrs.completed_count, attrs.failed_count) == (
        "queued",
        5,
        0,
        0,
    )
    assert accepted.data.links.var_self.endswith(
        f"/api/profile-bulk-import-jobs/{accepted.data.id}/"
    )
    done = wait_complete(klaviyo, accepted.data.id).data.attributes
    assert (done.status, done.completed_count, done.failed_count) == ("complete", 5, 0)
    assert done.started_at is not None and done.completed_at is not None
    listed = klaviyo.Profiles.get_bulk_import_profiles_jobs(filter="equals(status,'complete')")
    assert [job.id for job in listed.data] == [accepted.data.id]


def test_with_async_validation_invalid_rows_become_import_errors_pointing_at_the_row(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    sandbox.set_strictness(bulk_validation="async")
    rows = [
        {"email": "good@example.com"},
        {"email": "not-an-email"},
        {"first_name": "No identifier"},
    ]
    job = klaviyo.Profiles.bulk_import_profiles(import_body(rows))
    done = wait_complete(klaviyo, job.data.id).data.attributes
    assert (done.completed_count, done.failed_count) == (1, 2)
    errors = klaviyo.Profiles.get_errors_for_bulk_import_profiles_job(job.data.id).data
    assert [e.attributes.source.pointer for e in errors] == [
        "/data/attributes/profiles/data/1/attributes/email",
        "/data/attributes/profiles/data/2/attributes",
    ]
    assert errors[0].attributes.code == "invalid_email"
    assert errors[0].attributes.detail == "Invalid email address"


def test_the_jobs_profiles_give_every_created_or_updated_profile_id_with_its_email(
    klaviyo: KlaviyoAPI,
) -> None:
    existing = klaviyo.Profiles.create_profile(profile_body(email="old@example.com")).data.id
    rows = [{"email": f"p{i}@example.com"} for i in range(30)] + [
        {"email": "OLD@example.com", "first_name": "Back"}
    ]
    job = klaviyo.Profiles.bulk_import_profiles(import_body(rows))
    wait_complete(klaviyo, job.data.id)
    by_email: dict[str, str] = {}
    cursor = None
    while True:
        page = klaviyo.Profiles.get_profiles_for_bulk_import_profiles_job(
            job.data.id, page_size=100 if cursor else 20, page_cursor=cursor
        )
        by_email.update({p.attributes.email: p.id for p in page.data})
        if not page.links.next:
            break
        cursor = page.links.next
    assert len(by_email) == 31
    assert by_email["old@example.com"] == existing
    ids = klaviyo.Profiles.get_profile_ids_for_bulk_import_profiles_job(job.data.id, page_size=100)
    assert {item.id for item in ids.data} == set(by_email.values())


def test_nulls_are_ignored_and_the_last_row_for_an_email_wins(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    klaviyo.Profiles.create_profile(
        profile_body(email="keep@example.com", first_name="Kept", last_name="Old")
    )
    rows: list[dict[str, object]] = [
        {"email": "keep@example.com", "first_name": None, "last_name": "New"},
        {"email": "twice@example.com", "first_name": "First"},
        {"email": "Twice@example.com", "first_name": "Second"},
    ]
    done = wait_complete(
        klaviyo, klaviyo.Profiles.bulk_import_profiles(import_body(rows)).data.id
    ).data.attributes
    assert (done.completed_count, done.failed_count) == (3, 0)
    profiles = {p["email"]: p for p in sandbox.profiles()}
    assert len(profiles) == 2
    assert (
        profiles["keep@example.com"]["first_name"],
        profiles["keep@example.com"]["last_name"],
    ) == ("Kept", "New")
    assert profiles["twice@example.com"]["first_name"] == "Second"


def test_a_row_matching_two_profiles_is_a_duplicate_profile_import_error(
    klaviyo: KlaviyoAPI,
) -> None:
    klaviyo.Profiles.create_profile(profile_body(email="e@example.com"))
    klaviyo.Profiles.create_profile(profile_body(external_id="crm-9"))
    job = klaviyo.Profiles.bulk_import_profiles(
        import_body([{"email": "e@example.com", "external_id": "crm-9"}])
    )
    assert wait_complete(klaviyo, job.data.id).data.attributes.failed_count == 1
    (error,) = klaviyo.Profiles.get_errors_for_bulk_import_profiles_job(job.data.id).data
    assert error.attributes.code == "duplicate_profile"


def test_the_list_relationship_adds_members_and_existing_members_keep_joined_group_at(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    list_id = make_list(klaviyo)
    early = klaviyo.Profiles.create_profile(profile_body(email="early@example.com")).data.id
    sandbox.add_members(list_id, [early], "2025-01-01T00:00:00+00:00")
    job = klaviyo.Profiles.bulk_import_profiles(
        import_body([{"email": "early@example.com"}, {"email": "new@example.com"}], list_id)
    )
    wait_complete(klaviyo, job.data.id)
    members = {m["profile_id"]: m["joined_group_at"] for m in sandbox.lists()[0]["members"]}
    assert len(members) == 2
    assert members[early] == "2025-01-01T00:00:00+00:00"
    assert [
        item.id
        for item in klaviyo.Profiles.get_list_ids_for_bulk_import_profiles_job(job.data.id).data
    ] == [list_id]
    assert [
        item.id for item in klaviyo.Profiles.get_list_for_bulk_import_profiles_job(job.data.id).data
    ] == [list_id]
    included = klaviyo.Profiles.get_bulk_import_profiles_job(job.data.id, include=["lists"])
    assert included.included[0].id == list_id
    consents = {p["subscriptions"]["email"]["marketing"]["consent"] for p in sandbox.profiles()}
    assert consents == {"NEVER_SUBSCRIBED"}


def test_more_than_10000_profiles_or_5_mb_is_a_400(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    with pytest.raises(BadRequestException) as caught:
        klaviyo.Profiles.bulk_import_profiles(
            import_body([{"email": f"x{i}@example.com"} for i in range(10_001)])
        )
    [error] = json.loads(caught.value.body or "")["errors"]
    assert error["source"]["pointer"] == "/data/attributes/profiles/data"
    assert error["detail"] == "A bulk import job accepts at most 10000 profiles; got 10001."
    big = import_body(
        [{"email": f"y{i}@example.com", "properties": {"blob": "z" * 600}} for i in range(9_000)]
    )
    answer = httpx.post(
        f"{sandbox.url}/api/profile-bulk-import-jobs",
        json=big,
        timeout=30,
        headers={"Authorization": f"Klaviyo-API-Key {sandbox.key}", "revision": "2026-10-15"},
    )
    assert answer.status_code == 400
    assert "5 MB" in answer.json()["errors"][0]["detail"]
    assert sandbox.profiles() == []


def test_an_unknown_list_in_the_job_is_a_400_naming_it(klaviyo: KlaviyoAPI) -> None:
    with pytest.raises(BadRequestException) as caught:
        klaviyo.Profiles.bulk_import_profiles(import_body([{"email": "a@example.com"}], "NoSuch"))
    assert (
        json.loads(caught.value.body or "")["errors"][0]["source"]["pointer"]
        == "/data/relationships/lists/data/0/id"
    )


def test_instant_job_mode_completes_before_the_answer(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    sandbox.set_jobs("instant")
    job = klaviyo.Profiles.bulk_import_profiles(import_body([{"email": "now@example.com"}]))
    assert job.data.attributes.status == "complete"
    assert job.data.attributes.completed_count == 1


def test_a_null_field_of_a_row_is_ignored_even_unknown_and_a_null_property_keeps_its_value(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    klaviyo.Profiles.create_profile(
        profile_body(email="p@example.com", properties={"plan": "gold", "seats": 3})
    )
    rows: list[dict[str, object]] = [
        {"email": "p@example.com", "nickname": None, "properties": {"plan": None, "seats": 4}}
    ]
    done = wait_complete(
        klaviyo, klaviyo.Profiles.bulk_import_profiles(import_body(rows)).data.id
    ).data.attributes
    assert (done.completed_count, done.failed_count) == (1, 0)
    [profile] = sandbox.profiles()
    assert profile["properties"] == {"plan": "gold", "seats": 4}
