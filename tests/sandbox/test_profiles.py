"""Profiles through the official SDK against the running sandbox."""

from __future__ import annotations

import json

import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import ApiException, BadRequestException, NotFoundException

from sandbox.inspect_client import SandboxClient
from tests.sandbox.helpers import make_list, profile_body


def _profile(**attrs: object) -> dict[str, object]:
    return {"data": {"type": "profile", "attributes": attrs}}


def test_create_profile_answers_201_with_a_self_link_and_stores_the_email_lowercased(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    created = klaviyo.Profiles.create_profile(
        _profile(email="  Ann@Example.COM ", first_name="Ann")
    )
    assert created.data.attributes.email == "ann@example.com"
    assert created.data.links.var_self.endswith(f"/api/profiles/{created.data.id}/")
    stored = sandbox.profile_by_email("ann@example.com")
    assert stored is not None and stored["first_name"] == "Ann"


def test_a_second_profile_with_the_same_email_gets_409_naming_the_existing_profile(
    klaviyo: KlaviyoAPI,
) -> None:
    first = klaviyo.Profiles.create_profile(_profile(email="dup@example.com"))
    with pytest.raises(ApiException) as caught:
        klaviyo.Profiles.create_profile(_profile(email="DUP@example.com"))
    assert caught.value.status == 409
    error = json.loads(caught.value.body or "")["errors"][0]
    assert error["code"] == "duplicate_profile"
    assert error["meta"]["duplicate_profile_id"] == first.data.id


def test_get_profiles_filters_by_email_case_insensitively_and_by_any_of_several(
    klaviyo: KlaviyoAPI,
) -> None:
    a = klaviyo.Profiles.create_profile(_profile(email="a@example.com"))
    b = klaviyo.Profiles.create_profile(_profile(email="b@example.com", external_id="crm-2"))
    one = klaviyo.Profiles.get_profiles(filter='equals(email,"A@Example.com")')
    assert [p.id for p in one.data] == [a.data.id]
    many = klaviyo.Profiles.get_profiles(
        filter="any(email,['a@example.com','b@example.com','nobody@example.com'])"
    )
    assert {p.id for p in many.data} == {a.data.id, b.data.id}
    by_external = klaviyo.Profiles.get_profiles(filter='equals(external_id,"crm-2")')
    assert [p.id for p in by_external.data] == [b.data.id]


def test_get_profile_returns_it_and_an_unknown_id_is_404(klaviyo: KlaviyoAPI) -> None:
    made = klaviyo.Profiles.create_profile(_profile(phone_number="+14155550100"))
    assert klaviyo.Profiles.get_profile(made.data.id).data.attributes.phone_number == "+14155550100"
    with pytest.raises(NotFoundException):
        klaviyo.Profiles.get_profile("01AAAAAAAAAAAAAAAAAAAAAAAA")


def test_update_profile_clears_nulls_keeps_omitted_fields_and_refuses_a_taken_email(
    klaviyo: KlaviyoAPI,
) -> None:
    other = klaviyo.Profiles.create_profile(_profile(email="taken@example.com"))
    made = klaviyo.Profiles.create_profile(
        _profile(email="me@example.com", first_name="Me", last_name="Old")
    )
    pid = made.data.id
    updated = klaviyo.Profiles.update_profile(
        pid,
        {"data": {"type": "profile", "id": pid, "attributes": {"last_name": None, "title": "CTO"}}},
    )
    assert updated.data.attributes.first_name == "Me"
    assert updated.data.attributes.last_name is None
    assert updated.data.attributes.title == "CTO"
    with pytest.raises(ApiException) as caught:
        klaviyo.Profiles.update_profile(
            pid,
            {"data": {"type": "profile", "id": pid, "attributes": {"email": "taken@example.com"}}},
        )
    assert caught.value.status == 409
    assert (
        json.loads(caught.value.body or "")["errors"][0]["meta"]["duplicate_profile_id"]
        == other.data.id
    )


def test_create_or_update_profile_creates_with_201_then_updates_with_200(
    klaviyo: KlaviyoAPI,
) -> None:
    first = klaviyo.Profiles.create_or_update_profile_with_http_info(
        _profile(email="up@example.com")
    )
    assert first.status_code == 201
    second = klaviyo.Profiles.create_or_update_profile_with_http_info(
        _profile(email="UP@example.com", phone_number="+14155550101")
    )
    assert second.status_code == 200
    assert second.data.data.id == first.data.data.id
    assert second.data.data.attributes.phone_number == "+14155550101"


def test_identifiers_pointing_to_two_profiles_are_a_409(klaviyo: KlaviyoAPI) -> None:
    klaviyo.Profiles.create_profile(_profile(email="one@example.com"))
    klaviyo.Profiles.create_profile(_profile(phone_number="+14155550102"))
    with pytest.raises(ApiException) as caught:
        klaviyo.Profiles.create_or_update_profile(
            _profile(email="one@example.com", phone_number="+14155550102")
        )
    assert caught.value.status == 409


def test_an_invalid_email_is_a_400_pointing_at_the_email(klaviyo: KlaviyoAPI) -> None:
    with pytest.raises(BadRequestException) as caught:
        klaviyo.Profiles.create_profile(_profile(email="not-an-email"))
    error = json.loads(caught.value.body or "")["errors"][0]
    assert error["code"] == "invalid_email"
    assert error["source"]["pointer"] == "/data/attributes/email"


def test_an_invalid_phone_beside_a_valid_email_is_dropped_as_a_partial_failure(
    klaviyo: KlaviyoAPI,
) -> None:
    answer = klaviyo.Profiles.create_profile_with_http_info(
        _profile(email="ph@example.com", phone_number="555-0100")
    )
    assert answer.status_code == 201
    assert answer.data.data.attributes.phone_number is None
    assert {k.lower(): v for k, v in (answer.headers or {}).items()}[
        "x-klaviyo-partial-failure"
    ] == "phone_number"


def test_patch_properties_append_and_unset_custom_properties(klaviyo: KlaviyoAPI) -> None:
    made = klaviyo.Profiles.create_profile(
        profile_body(email="props@example.com", properties={"tags": ["a"], "plan": "gold"})
    )
    pid = made.data.id
    body = {
        "data": {
            "type": "profile",
            "id": pid,
            "attributes": {},
            "meta": {"patch_properties": {"append": {"tags": "b"}, "unset": ["plan"]}},
        }
    }
    updated = klaviyo.Profiles.update_profile(pid, body)
    assert updated.data.attributes.properties == {"tags": ["a", "b"]}


def test_a_profiles_lists_come_with_include_lists_and_from_its_lists_endpoint(
    klaviyo: KlaviyoAPI,
) -> None:
    list_id = make_list(klaviyo)
    pid = klaviyo.Profiles.create_profile(profile_body(email="member@example.com")).data.id
    klaviyo.Lists.add_profiles_to_list(list_id, {"data": [{"type": "profile", "id": pid}]})
    with_lists = klaviyo.Profiles.get_profile(pid, include=["lists"])
    assert [item["id"] for item in with_lists.included] == [list_id]  # dicts in this SDK model
    assert [item.id for item in klaviyo.Profiles.get_lists_for_profile(pid).data] == [list_id]


def test_get_profiles_sorts_by_email_descending(klaviyo: KlaviyoAPI) -> None:
    for name in ("b", "c", "a"):
        klaviyo.Profiles.create_profile(profile_body(email=f"{name}@example.com"))
    answer = klaviyo.Profiles.get_profiles(sort="-email")
    assert [p.attributes.email for p in answer.data] == [
        "c@example.com",
        "b@example.com",
        "a@example.com",
    ]


def test_a_bad_filter_is_a_400_naming_the_filter_parameter(klaviyo: KlaviyoAPI) -> None:
    with pytest.raises(BadRequestException) as caught:
        klaviyo.Profiles.get_profiles(filter="equals(first_name,'x')")
    error = json.loads(caught.value.body or "")["errors"][0]
    assert error["source"] == {"parameter": "filter"}
    assert "first_name" in error["detail"]
