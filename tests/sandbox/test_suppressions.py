"""The sandbox plays consent changed inside Klaviyo (the inspection control), the filters and
sorts on suppression times, and what a historical-import subscribe does to suppressions;
read through the official SDK (and the OpenAPI validation of the official slices)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import BadRequestException

from sandbox.inspect_client import SandboxClient
from tests.sandbox.helpers import make_list, profile_body

AT = "2026-11-20T10:00:00+00:00"


def _person(klaviyo: KlaviyoAPI, email: str, phone: str | None = None) -> str:
    attrs: dict[str, Any] = {"email": email}
    if phone:
        attrs["phone_number"] = phone
    return str(klaviyo.Profiles.create_profile(profile_body(**attrs)).data.id)


def _subscriptions(klaviyo: KlaviyoAPI, profile_id: str) -> Any:
    found = klaviyo.Profiles.get_profiles(filter=f'equals(id,"{profile_id}")',
                                          additional_fields_profile=["subscriptions"])
    return found.data[0].attributes.subscriptions


@pytest.mark.parametrize(("action", "reason"), [
    ("unsubscribe", "UNSUBSCRIBE"), ("bounce", "HARD_BOUNCE"), ("complain", "SPAM_COMPLAINT"),
    ("suppress", "USER_SUPPRESSED"), ("invalid", "INVALID_EMAIL")])
def test_each_email_action_leaves_its_suppression_with_its_time_and_moves_updated(
        klaviyo: KlaviyoAPI, sandbox: SandboxClient, action: str, reason: str) -> None:
    pid = _person(klaviyo, f"{action}@example.com")
    before = klaviyo.Profiles.get_profile(pid).data.attributes.updated
    sandbox.change_consent(pid, action, at=AT)
    marketing = _subscriptions(klaviyo, pid).email.marketing
    assert [(s.reason, s.timestamp) for s in marketing.suppression] == [
        (reason, datetime.fromisoformat(AT))]
    assert marketing.can_receive_email_marketing is False
    assert klaviyo.Profiles.get_profile(pid).data.attributes.updated > before


def test_sms_stop_and_opt_in_change_sms_consent_only(klaviyo: KlaviyoAPI,
                                                    sandbox: SandboxClient) -> None:
    pid = _person(klaviyo, "texter@example.com", "+14155550100")
    sandbox.change_consent(pid, "sms_subscribe", at=AT)
    assert _subscriptions(klaviyo, pid).sms.marketing.consent == "SUBSCRIBED"
    sandbox.change_consent(pid, "stop")
    subscriptions = _subscriptions(klaviyo, pid)
    assert subscriptions.sms.marketing.consent == "UNSUBSCRIBED"
    assert subscriptions.email.marketing.consent == "NEVER_SUBSCRIBED"


def test_a_list_unsubscribe_leaves_the_list_with_a_list_suppression(
        klaviyo: KlaviyoAPI, sandbox: SandboxClient) -> None:
    list_id = make_list(klaviyo)
    pid = _person(klaviyo, "leaver@example.com")
    sandbox.add_members(list_id, [pid])
    sandbox.change_consent(pid, "unsubscribe_list", at=AT, list_id=list_id)
    marketing = _subscriptions(klaviyo, pid).email.marketing
    assert [(s.list_id, s.reason) for s in marketing.list_suppressions] == [
        (list_id, "UNSUBSCRIBE")]
    assert sandbox.lists()[0]["members"] == []


def test_get_profiles_filters_and_sorts_by_suppression_time(
        klaviyo: KlaviyoAPI, sandbox: SandboxClient) -> None:
    old, new, clean = (_person(klaviyo, f"{n}@example.com") for n in ("old", "new", "clean"))
    sandbox.change_consent(old, "bounce", at="2026-01-01T00:00:00+00:00")
    sandbox.change_consent(new, "unsubscribe", at=AT)
    found = klaviyo.Profiles.get_profiles(
        filter="greater-or-equal(subscriptions.email.marketing.suppression.timestamp,"
               "2026-06-01T00:00:00+00:00)")
    assert [p.id for p in found.data] == [new]
    ordered = klaviyo.Profiles.get_profiles(
        filter="equals(subscriptions.email.marketing.suppression.reason,\"HARD_BOUNCE\")")
    assert [p.id for p in ordered.data] == [old]
    by_time = klaviyo.Profiles.get_profiles(
        sort="-subscriptions.email.marketing.suppression.timestamp")
    assert [p.id for p in by_time.data] == [new, old, clean]


def test_a_historical_subscribe_keeps_its_time_lifts_an_unsubscribe_but_not_a_bounce(
        klaviyo: KlaviyoAPI, sandbox: SandboxClient) -> None:
    came_back, bounced = _person(klaviyo, "back@example.com"), _person(klaviyo, "b@example.com")
    sandbox.change_consent(came_back, "unsubscribe", at="2026-01-01T00:00:00+00:00")
    sandbox.change_consent(bounced, "bounce", at="2026-01-01T00:00:00+00:00")
    body = {"data": {"type": "profile-subscription-bulk-create-job", "attributes": {
        "historical_import": True, "profiles": {"data": [
            {"type": "profile", "attributes": {"email": email, "subscriptions": {"email": {
                "marketing": {"consent": "SUBSCRIBED", "consented_at": AT}}}}}
            for email in ("back@example.com", "b@example.com")]}}}}
    klaviyo.Profiles.bulk_subscribe_profiles(body)
    back = _subscriptions(klaviyo, came_back).email.marketing
    assert (back.consent, back.consent_timestamp, back.suppression) == (
        "SUBSCRIBED", datetime.fromisoformat(AT), [])
    still = _subscriptions(klaviyo, bounced).email.marketing
    assert [s.reason for s in still.suppression] == ["HARD_BOUNCE"]
    assert still.can_receive_email_marketing is False


def test_a_future_consented_at_is_refused(klaviyo: KlaviyoAPI) -> None:
    future = datetime(2099, 1, 1, tzinfo=UTC).isoformat()
    body = {"data": {"type": "profile-subscription-bulk-create-job", "attributes": {
        "historical_import": True, "profiles": {"data": [
            {"type": "profile", "attributes": {"email": "f@example.com", "subscriptions": {
                "email": {"marketing": {"consent": "SUBSCRIBED", "consented_at": future}}}}}]}}}}
    with pytest.raises(BadRequestException):
        klaviyo.Profiles.bulk_subscribe_profiles(body)


def test_an_unknown_action_is_refused_naming_the_field(sandbox: SandboxClient,
                                                        klaviyo: KlaviyoAPI) -> None:
    pid = _person(klaviyo, "odd@example.com")
    with pytest.raises(RuntimeError, match="'action' must be one of"):
        sandbox.change_consent(pid, "vanish")
