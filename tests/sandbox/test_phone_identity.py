"""A phone number identifies a profile (docs/KLAVIYO.md §3): a new email with a known phone
rewrites that profile's email; identifiers of two profiles conflict. Switchable off."""

from __future__ import annotations

import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import ApiException

from sandbox.inspect_client import SandboxClient
from tests.sandbox.helpers import errors_of, import_body, profile_body, wait_complete

PHONE = "+14155550100"


def _import(klaviyo: KlaviyoAPI, rows: list[dict[str, object]]) -> str:
    job_id: str = klaviyo.Profiles.bulk_import_profiles(import_body(rows)).data.id
    wait_complete(klaviyo, job_id)
    return job_id


def test_a_bulk_row_with_a_new_email_and_a_known_phone_rewrites_that_profiles_email(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    owner = klaviyo.Profiles.create_profile(
        profile_body(email="switchboard@acme.example", phone_number=PHONE)
    ).data.id
    job_id = _import(klaviyo, [{"email": "jane@acme.example", "phone_number": PHONE}])
    [profile] = sandbox.profiles()
    assert (profile["id"], profile["email"], profile["phone_number"]) == (
        owner, "jane@acme.example", PHONE
    )
    ids = klaviyo.Profiles.get_profile_ids_for_bulk_import_profiles_job(job_id).data
    assert [item.id for item in ids] == [owner]
    gone = klaviyo.Profiles.get_profiles(filter='equals(email,"switchboard@acme.example")')
    assert gone.data == []


def test_a_bulk_row_whose_identifiers_point_at_two_profiles_fails_as_duplicate_profile(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    by_email = klaviyo.Profiles.create_profile(profile_body(email="a@example.com")).data.id
    klaviyo.Profiles.create_profile(profile_body(phone_number=PHONE))
    job_id = _import(klaviyo, [{"email": "a@example.com", "phone_number": PHONE}])
    done = klaviyo.Profiles.get_bulk_import_profiles_job(job_id).data.attributes
    assert (done.completed_count, done.failed_count) == (0, 1)
    [error] = klaviyo.Profiles.get_errors_for_bulk_import_profiles_job(job_id).data
    assert (error.attributes.code, error.attributes.source.pointer) == (
        "duplicate_profile", "/data/attributes/profiles/data/0"
    )
    assert {p["id"]: p["phone_number"] for p in sandbox.profiles()}[by_email] is None


def test_profile_import_with_a_new_email_and_a_known_phone_updates_that_profile(
    klaviyo: KlaviyoAPI,
) -> None:
    owner = klaviyo.Profiles.create_profile(
        profile_body(email="old@example.com", phone_number=PHONE)
    ).data.id
    answer = klaviyo.Profiles.create_or_update_profile_with_http_info(
        profile_body(email="new@example.com", phone_number=PHONE)
    )
    assert (answer.status_code, answer.data.data.id) == (200, owner)
    assert answer.data.data.attributes.email == "new@example.com"


def test_profile_import_with_identifiers_of_two_profiles_is_a_409_naming_the_email_match(
    klaviyo: KlaviyoAPI,
) -> None:
    by_email = klaviyo.Profiles.create_profile(profile_body(email="a@example.com")).data.id
    klaviyo.Profiles.create_profile(profile_body(phone_number=PHONE))
    with pytest.raises(ApiException) as caught:
        klaviyo.Profiles.create_or_update_profile(
            profile_body(email="a@example.com", phone_number=PHONE)
        )
    assert caught.value.status == 409
    [error] = errors_of(caught.value)
    assert (error["code"], error["title"], error["source"], error["meta"]) == (
        "duplicate_profile",
        "Conflict.",
        {"pointer": "/data/attributes"},
        {"duplicate_profile_id": by_email},
    )


def test_without_phone_identity_a_known_phone_matches_nothing_and_is_not_written(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    sandbox.set_strictness(phone_identity=False)
    owner = klaviyo.Profiles.create_profile(
        profile_body(email="old@example.com", phone_number=PHONE)
    ).data.id
    _import(klaviyo, [{"email": "new@example.com", "phone_number": PHONE}])
    phones = {p["email"]: (p["id"], p["phone_number"]) for p in sandbox.profiles()}
    assert phones["old@example.com"] == (owner, PHONE)
    assert phones["new@example.com"][1] is None

    answer = klaviyo.Profiles.create_or_update_profile_with_http_info(
        profile_body(email="third@example.com", phone_number=PHONE)
    )
    assert answer.status_code == 201
    assert answer.headers["x-klaviyo-partial-failure"] == "phone_number"
    assert answer.data.data.attributes.phone_number is None


def test_without_phone_identity_identifiers_of_two_profiles_no_longer_conflict(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    sandbox.set_strictness(phone_identity=False)
    by_email = klaviyo.Profiles.create_profile(profile_body(email="a@example.com")).data.id
    klaviyo.Profiles.create_profile(profile_body(phone_number=PHONE))
    job_id = _import(klaviyo, [{"email": "a@example.com", "phone_number": PHONE, "title": "CTO"}])
    done = klaviyo.Profiles.get_bulk_import_profiles_job(job_id).data.attributes
    assert (done.completed_count, done.failed_count) == (1, 0)
    assert {p["id"]: p["title"] for p in sandbox.profiles()}[by_email] == "CTO"
