"""Consent through the official SDK: subscribe, unsubscribe, suppress."""

from __future__ import annotations

import json
from typing import Any

import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import BadRequestException

from sandbox.inspect_client import SandboxClient
from tests.sandbox.helpers import make_list, profile_body


def _consent_body(
    kind: str, emails: list[str], consent: str, list_id: str | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": kind,
        "attributes": {
            "profiles": {
                "data": [
                    {
                        "type": "profile",
                        "attributes": {
                            "email": email,
                            "subscriptions": {"email": {"marketing": {"consent": consent}}},
                        },
                    }
                    for email in emails
                ]
            }
        },
    }
    if list_id:
        data["relationships"] = {"list": {"data": {"type": "list", "id": list_id}}}
    return {"data": data}


def _subscribe(emails: list[str], list_id: str | None = None) -> dict[str, Any]:
    return _consent_body("profile-subscription-bulk-create-job", emails, "SUBSCRIBED", list_id)


def _unsubscribe(emails: list[str], list_id: str | None = None) -> dict[str, Any]:
    return _consent_body("profile-subscription-bulk-delete-job", emails, "UNSUBSCRIBED", list_id)


def _marketing(klaviyo: KlaviyoAPI, email: str) -> Any:
    found = klaviyo.Profiles.get_profiles(
        filter=f'equals(email,"{email}")', additional_fields_profile=["subscriptions"]
    )
    return found.data[0].attributes.subscriptions.email.marketing


def test_subscribe_answers_202_creates_the_profile_subscribes_it_and_adds_it_to_the_list(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    list_id = make_list(klaviyo)
    assert klaviyo.Profiles.bulk_subscribe_profiles(_subscribe(["s@example.com"], list_id)) is None
    marketing = _marketing(klaviyo, "s@example.com")
    assert (marketing.consent, marketing.can_receive_email_marketing) == ("SUBSCRIBED", True)
    assert sandbox.profile_by_email("s@example.com")["lists"] == [list_id]  # type: ignore[index]


def test_subscribe_to_a_double_opt_in_list_leaves_the_profile_pending(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    list_id = make_list(klaviyo, "Double", "double_opt_in")
    klaviyo.Profiles.bulk_subscribe_profiles(_subscribe(["d@example.com"], list_id))
    assert _marketing(klaviyo, "d@example.com").consent == "NEVER_SUBSCRIBED"
    assert sandbox.lists()[0]["members"] == []


def test_unsubscribe_sets_unsubscribed_with_a_suppression_and_removes_from_the_list(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    list_id = make_list(klaviyo)
    klaviyo.Profiles.bulk_subscribe_profiles(_subscribe(["u@example.com"], list_id))
    assert (
        klaviyo.Profiles.bulk_unsubscribe_profiles(_unsubscribe(["U@example.com"], list_id)) is None
    )
    marketing = _marketing(klaviyo, "u@example.com")
    assert (marketing.consent, marketing.can_receive_email_marketing) == ("UNSUBSCRIBED", False)
    assert [s.reason for s in marketing.suppression] == ["UNSUBSCRIBE"]
    assert sandbox.lists()[0]["members"] == []
    klaviyo.Profiles.bulk_subscribe_profiles(_subscribe(["u@example.com"]))
    again = _marketing(klaviyo, "u@example.com")
    assert (again.consent, again.suppression) == ("SUBSCRIBED", [])


def test_suppress_answers_202_with_a_job_that_can_be_fetched(klaviyo: KlaviyoAPI) -> None:
    klaviyo.Profiles.bulk_subscribe_profiles(_subscribe(["x@example.com"]))
    body = {
        "data": {
            "type": "profile-suppression-bulk-create-job",
            "attributes": {
                "profiles": {
                    "data": [
                        {"type": "profile", "attributes": {"email": "x@example.com"}},
                        {"type": "profile", "attributes": {"email": "unknown@example.com"}},
                    ]
                }
            },
        }
    }
    job = klaviyo.Profiles.bulk_suppress_profiles(body)
    fetched = klaviyo.Profiles.get_bulk_suppress_profiles_job(job.data.id).data.attributes
    assert (fetched.total_count, fetched.completed_count, fetched.skipped_count) == (2, 1, 1)
    marketing = _marketing(klaviyo, "x@example.com")
    assert (marketing.consent, marketing.can_receive_email_marketing) == ("SUBSCRIBED", False)
    assert [s.reason for s in marketing.suppression] == ["USER_SUPPRESSED"]


def test_list_membership_never_changes_consent(klaviyo: KlaviyoAPI) -> None:
    list_id = make_list(klaviyo)
    pid = klaviyo.Profiles.create_profile(profile_body(email="m@example.com")).data.id
    klaviyo.Lists.add_profiles_to_list(list_id, {"data": [{"type": "profile", "id": pid}]})
    assert _marketing(klaviyo, "m@example.com").consent == "NEVER_SUBSCRIBED"


def test_consent_call_limits_are_1000_and_100_profiles(klaviyo: KlaviyoAPI) -> None:
    with pytest.raises(BadRequestException) as subscribing:
        klaviyo.Profiles.bulk_subscribe_profiles(
            _subscribe([f"a{i}@example.com" for i in range(1001)])
        )
    with pytest.raises(BadRequestException) as unsubscribing:
        klaviyo.Profiles.bulk_unsubscribe_profiles(
            _unsubscribe([f"a{i}@example.com" for i in range(101)])
        )
    for caught, limit, got in ((subscribing, 1000, 1001), (unsubscribing, 100, 101)):
        [error] = json.loads(caught.value.body or "")["errors"]
        assert error["detail"] == f"At most {limit} profiles can be given per call; got {got}."
        assert error["source"]["pointer"] == "/data/attributes/profiles/data"


def test_a_historical_import_keeps_the_given_consent_time_and_refuses_one_without_the_flag(
    klaviyo: KlaviyoAPI,
) -> None:
    body = _subscribe(["h@example.com"])
    marketing = body["data"]["attributes"]["profiles"]["data"][0]["attributes"]["subscriptions"]
    marketing["email"]["marketing"]["consented_at"] = "2024-05-01T10:00:00+00:00"
    with pytest.raises(BadRequestException):
        klaviyo.Profiles.bulk_subscribe_profiles(body)
    body["data"]["attributes"]["historical_import"] = True
    klaviyo.Profiles.bulk_subscribe_profiles(body)
    assert _marketing(klaviyo, "h@example.com").consent_timestamp.isoformat() == (
        "2024-05-01T10:00:00+00:00"
    )
