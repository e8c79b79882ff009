"""``request_profile_deletion`` through the official SDK against the running sandbox."""

from __future__ import annotations

import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import ApiException

from sandbox.inspect_client import SandboxClient
from tests.sandbox.helpers import errors_of, make_list, profile_body


def _deletion(**profile: object) -> dict[str, object]:
    return {"data": {"type": "data-privacy-deletion-job", "attributes": {
        "profile": {"data": {"type": "profile", **profile}}}}}


def test_a_deletion_by_email_removes_the_profile_and_its_list_memberships(
        klaviyo: KlaviyoAPI, sandbox: SandboxClient) -> None:
    ann = klaviyo.Profiles.create_profile(profile_body(email="ann@example.com",
                                                       phone_number="+14155550123"))
    bob = klaviyo.Profiles.create_profile(profile_body(email="bob@example.com"))
    list_id = make_list(klaviyo)
    body = {"data": [{"type": "profile", "id": p.data.id} for p in (ann, bob)]}
    klaviyo.Lists.add_profiles_to_list(list_id, body)

    klaviyo.Data_Privacy.request_profile_deletion(
        _deletion(attributes={"email": "ANN@example.com"}))

    assert [p["email"] for p in sandbox.profiles(sandbox.key)] == ["bob@example.com"]
    [members] = [lst["members"] for lst in sandbox.lists(sandbox.key) if lst["id"] == list_id]
    assert [m["profile_id"] for m in members] == [bob.data.id]
    again = klaviyo.Profiles.create_profile(profile_body(phone_number="+14155550123"))
    assert again.data.id != ann.data.id, "its phone is free again"


def test_a_deletion_by_id_is_202_and_an_unknown_one_too(
        klaviyo: KlaviyoAPI, sandbox: SandboxClient) -> None:
    ann = klaviyo.Profiles.create_profile(profile_body(email="ann@example.com"))
    klaviyo.Data_Privacy.request_profile_deletion(_deletion(id=ann.data.id, attributes={}))
    klaviyo.Data_Privacy.request_profile_deletion(_deletion(id=ann.data.id, attributes={}))
    assert sandbox.profiles(sandbox.key) == []


def test_two_identifiers_or_none_are_a_400(klaviyo: KlaviyoAPI) -> None:
    for profile in ({"id": "01GDDKASAP8TKDDA2GRZDSVP4H", "attributes": {"email": "a@b.co"}},
                    {"attributes": {}}):
        with pytest.raises(ApiException) as caught:
            klaviyo.Data_Privacy.request_profile_deletion(_deletion(**profile))
        assert caught.value.status == 400
        assert errors_of(caught.value)[0]["source"]["pointer"].startswith(
            "/data/attributes/profile/data")
