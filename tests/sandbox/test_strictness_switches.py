"""The strictness switches: on by default, changed at run time one by one through the inspection
API, checked, and back to their start-up values after a reset."""

from __future__ import annotations

import httpx
import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import ApiException

from sandbox.inspect_client import SandboxClient
from sandbox.server import SandboxServer
from tests.sandbox.helpers import errors_of, import_body

DEFAULTS = {
    "bulk_validation": "sync",
    "name_bad_rows": 0,
    "phone_identity": True,
    "one_list_per_job": True,
    "opaque_job_ids": True,
    "refused_email_domains": [],
}


def test_every_switch_is_on_by_default_and_a_change_keeps_the_others(
    sandbox: SandboxClient,
) -> None:
    assert sandbox.strictness() == DEFAULTS
    changed = sandbox.set_strictness(bulk_validation="async", name_bad_rows=3)
    assert changed == {**DEFAULTS, "bulk_validation": "async", "name_bad_rows": 3}
    assert sandbox.set_strictness(phone_identity=False) == {
        **changed, "phone_identity": False
    }


def test_a_reset_restores_the_start_up_strictness(sandbox: SandboxClient) -> None:
    sandbox.set_strictness(bulk_validation="async", phone_identity=False, opaque_job_ids=False)
    sandbox.reset()
    assert sandbox.strictness() == DEFAULTS


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"bulk_validation": "lenient"}, "/bulk_validation"),
        ({"name_bad_rows": -1}, "/name_bad_rows"),
        ({"name_bad_rows": True}, "/name_bad_rows"),
        ({"phone_identity": "yes"}, "/phone_identity"),
        ({"strict": True}, "/strict"),
    ],
)
def test_a_bad_setting_is_a_400_naming_it_and_changes_nothing(
    sandbox: SandboxClient, body: dict[str, object], pointer: str
) -> None:
    answer = httpx.put(
        f"{sandbox.url}/__sandbox/strictness", json={"one_list_per_job": False, **body}
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["source"] == {"pointer": pointer}
    assert sandbox.strictness() == DEFAULTS


def test_the_start_up_values_are_the_ones_a_reset_goes_back_to() -> None:
    with SandboxServer(
        rate_limits="off", keys=("k", "gone"), bulk_validation="async", name_bad_rows=1,
        phone_identity=False, one_list_per_job=False, opaque_job_ids=False,
        key_states={"gone": "revoked"}, refused_email_domains=["odd.example"],
    ) as server, SandboxClient(server.url, "k") as client:
        expected = {
            "bulk_validation": "async",
            "name_bad_rows": 1,
            "phone_identity": False,
            "one_list_per_job": False,
            "opaque_job_ids": False,
            "refused_email_domains": ["odd.example"],
        }
        assert client.strictness() == expected
        client.set_strictness(bulk_validation="sync")
        client.set_key_state("ok", key="gone")
        client.reset()
        assert client.strictness() == expected
        answer = httpx.get(
            f"{server.url}/api/lists",
            headers={"Authorization": "Klaviyo-API-Key gone", "revision": "2026-10-15"},
        )
        assert answer.json()["errors"][0]["code"] == "authentication_failed"


def test_a_start_up_key_state_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError, match="key states"):
        SandboxServer(keys=("k",), key_states={"k": "asleep"})



def test_emails_at_a_refused_domain_are_refused_like_invalid_ones(
        sandbox: SandboxClient, klaviyo: KlaviyoAPI) -> None:
    assert sandbox.set_strictness(refused_email_domains=["Odd.Example"])[
        "refused_email_domains"] == ["odd.example"]
    rows = [{"email": "ok@fine.example"}, {"email": "x@odd.example"}]
    with pytest.raises(ApiException) as refused:
        klaviyo.Profiles.bulk_import_profiles(import_body(rows))
    assert [(e["detail"], e["source"]["pointer"]) for e in errors_of(refused.value)] == [
        ("Invalid email address", "/data/attributes/profiles/data/1/attributes/email")]
    sandbox.reset()
    assert sandbox.strictness()["refused_email_domains"] == []
