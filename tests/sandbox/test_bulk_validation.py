"""A bulk import job is validated before it is accepted, all or nothing (docs/KLAVIYO.md §1-2,
§11.6): one bad row refuses the whole POST with a 400 naming each bad row, and no job exists."""

from __future__ import annotations

import uuid

import orjson
import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import BadRequestException

from sandbox.inspect_client import SandboxClient
from tests.sandbox.helpers import errors_of, import_body, make_list, profile_body, wait_complete

ROW = "/data/attributes/profiles/data/{}"
PHONE_DETAIL = "Invalid phone number format (Example of a valid format: +12345678901)"


def _refused(klaviyo: KlaviyoAPI, body: dict[str, object]) -> list[dict[str, object]]:
    with pytest.raises(BadRequestException) as caught:
        klaviyo.Profiles.bulk_import_profiles(body)
    return errors_of(caught.value)


def _blob_row(email: str, size: int) -> dict[str, object]:
    """A row whose profile JSON is exactly ``size`` bytes."""
    row = {"type": "profile", "attributes": {"email": email, "properties": {"blob": ""}}}
    blob = "z" * (size - len(orjson.dumps(row)))
    return {"email": email, "properties": {"blob": blob}}


def test_a_bulk_job_with_one_bad_email_is_refused_whole_and_no_job_exists(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    rows = [{"email": "good@example.com"}, {"email": "not-an-email"}, {"email": "ok@example.com"}]
    [error] = _refused(klaviyo, import_body(rows))
    assert uuid.UUID(str(error["id"]))
    assert {k: v for k, v in error.items() if k != "id"} == {
        "status": "400",
        "code": "invalid",
        "title": "Invalid input.",
        "detail": "Invalid email address",
        "source": {"pointer": "/data/attributes/profiles/data/1/attributes/email"},
        "links": {},
        "meta": {},
    }
    assert klaviyo.Profiles.get_bulk_import_profiles_jobs().data == []
    assert sandbox.profiles() == []


def test_each_bad_row_gets_one_entry_naming_its_field_in_row_order(klaviyo: KlaviyoAPI) -> None:
    rows: list[dict[str, object]] = [
        {"email": "fine@example.com"},
        {"email": "user@domain.c"},  # a one-letter top-level domain
        {"email": "a" * 89 + "@example.com"},  # 101 characters
        {"email": "phone@example.com", "phone_number": "415-555-0100"},  # not E.164
        {"email": "ext@example.com", "external_id": "x" * 256},
        _blob_row("big@example.com", 102_401),
        {"email": "two@@example.com", "phone_number": "12345"},  # two problems, one entry
    ]
    found = [
        (e["source"], e["detail"], e["code"], e["title"])
        for e in _refused(klaviyo, import_body(rows))
    ]
    assert found == [
        ({"pointer": f"{ROW.format(1)}/attributes/email"}, "Invalid email address",
         "invalid", "Invalid input."),
        ({"pointer": f"{ROW.format(2)}/attributes/email"}, "Invalid email address",
         "invalid", "Invalid input."),
        ({"pointer": f"{ROW.format(3)}/attributes/phone_number"}, PHONE_DETAIL,
         "invalid", "Invalid input."),
        ({"pointer": f"{ROW.format(4)}/attributes/external_id"},
         "external_id must be at most 255 characters", "invalid", "Invalid input."),
        ({"pointer": ROW.format(5)}, "A profile must be at most 100 KB", "invalid",
         "Invalid input."),
        ({"pointer": f"{ROW.format(6)}/attributes/email"}, "Invalid email address",
         "invalid", "Invalid input."),
    ]


def test_rows_just_within_the_limits_are_accepted(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    rows: list[dict[str, object]] = [
        {"email": "a" * 88 + "@example.com"},  # 100 characters
        {"email": "user@domain.co", "phone_number": "+12345678901"},
        {"external_id": "x" * 255},
        _blob_row("big@example.com", 102_400),
    ]
    job = klaviyo.Profiles.bulk_import_profiles(import_body(rows))
    done = wait_complete(klaviyo, job.data.id).data.attributes
    assert (done.status, done.completed_count, done.failed_count) == ("complete", 4, 0)
    assert len(sandbox.profiles()) == 4


def test_a_refusal_names_only_the_first_n_bad_rows_when_so_set(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    rows = [{"email": f"bad{i}@x"} for i in range(5)]
    assert len(_refused(klaviyo, import_body(rows))) == 5
    sandbox.set_strictness(name_bad_rows=2)
    named = _refused(klaviyo, import_body(rows))
    assert [e["source"] for e in named] == [
        {"pointer": f"{ROW.format(0)}/attributes/email"},
        {"pointer": f"{ROW.format(1)}/attributes/email"},
    ]


def test_stripping_the_named_rows_and_resubmitting_gets_the_job_accepted(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    sandbox.set_strictness(name_bad_rows=1)
    rows: list[dict[str, object]] = [
        {"email": "a@example.com"}, {"email": "b@x"}, {"email": "c@y"}, {"email": "d@example.com"}
    ]
    rounds = 0
    while True:
        try:
            job = klaviyo.Profiles.bulk_import_profiles(import_body(rows))
            break
        except BadRequestException as refused:
            [error] = errors_of(refused)
            index = int(str(error["source"]["pointer"]).split("/")[5])  # type: ignore[index]
            del rows[index]
            rounds += 1
    assert rounds == 2
    assert wait_complete(klaviyo, job.data.id).data.attributes.completed_count == 2


def test_a_job_naming_two_lists_is_refused_at_the_second_list_before_any_row(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    first, second = make_list(klaviyo, "One"), make_list(klaviyo, "Two")
    body = import_body([{"email": "bad@x"}])
    body["data"]["relationships"] = {
        "lists": {"data": [{"type": "list", "id": first}, {"type": "list", "id": second}]}
    }
    [error] = _refused(klaviyo, body)
    assert (error["code"], error["title"], error["detail"], error["source"]) == (
        "invalid",
        "Invalid input.",
        "A bulk import job accepts at most one list.",
        {"pointer": "/data/relationships/lists/data/1"},
    )
    assert klaviyo.Profiles.get_bulk_import_profiles_jobs().data == []


def test_with_several_lists_allowed_a_job_adds_its_profiles_to_each(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    sandbox.set_strictness(one_list_per_job=False)
    first, second = make_list(klaviyo, "One"), make_list(klaviyo, "Two")
    body = import_body([{"email": "both@example.com"}])
    body["data"]["relationships"] = {
        "lists": {"data": [{"type": "list", "id": first}, {"type": "list", "id": second}]}
    }
    wait_complete(klaviyo, klaviyo.Profiles.bulk_import_profiles(body).data.id)
    assert {rec["id"]: len(rec["members"]) for rec in sandbox.lists()} == {first: 1, second: 1}


def test_an_unknown_list_is_refused_naming_the_list_and_no_row(klaviyo: KlaviyoAPI) -> None:
    [error] = _refused(klaviyo, import_body([{"email": "bad@x"}, {"email": "worse"}], "NoSuch"))
    assert (error["code"], error["detail"], error["source"]) == (
        "invalid",
        "List 'NoSuch' does not exist.",
        {"pointer": "/data/relationships/lists/data/0/id"},
    )


def test_with_async_validation_the_same_rules_give_import_errors_instead(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    sandbox.set_strictness(bulk_validation="async")
    rows: list[dict[str, object]] = [
        {"email": "fine@example.com"},
        {"email": "user@domain.c"},
        {"email": "ext@example.com", "external_id": "x" * 256},
        _blob_row("big@example.com", 102_401),
    ]
    job = klaviyo.Profiles.bulk_import_profiles(import_body(rows))
    done = wait_complete(klaviyo, job.data.id).data.attributes
    assert (done.completed_count, done.failed_count) == (1, 3)
    errors = klaviyo.Profiles.get_errors_for_bulk_import_profiles_job(job.data.id).data
    assert [(e.attributes.source.pointer, e.attributes.detail) for e in errors] == [
        (f"{ROW.format(1)}/attributes/email", "Invalid email address"),
        (f"{ROW.format(2)}/attributes/external_id", "external_id must be at most 255 characters"),
        (ROW.format(3), "A profile must be at most 100 KB"),
    ]


def test_the_single_profile_endpoints_refuse_a_one_letter_top_level_domain(
    klaviyo: KlaviyoAPI,
) -> None:
    with pytest.raises(BadRequestException) as caught:
        klaviyo.Profiles.create_profile(profile_body(email="user@domain.c"))
    [error] = errors_of(caught.value)
    assert (error["detail"], error["source"]) == (
        "Invalid email address",
        {"pointer": "/data/attributes/email"},
    )


def test_a_resubmitted_row_is_checked_again_once_the_refused_domains_changed(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    rows: list[dict[str, object]] = [{"email": "a@first.example"}, {"email": "b@x"}]
    [error] = _refused(klaviyo, import_body(rows))
    assert error["source"] == {"pointer": f"{ROW.format(1)}/attributes/email"}
    sandbox.set_strictness(refused_email_domains=["first.example"])
    [again] = _refused(klaviyo, import_body(rows[:1]))
    assert again["source"] == {"pointer": f"{ROW.format(0)}/attributes/email"}


def test_a_resubmitted_job_is_applied_as_a_first_submission_would_be(
    klaviyo: KlaviyoAPI, sandbox: SandboxClient
) -> None:
    rows: list[dict[str, object]] = [
        {"email": " Same@Example.com ", "first_name": "One", "phone_number": " +14155550100"},
        {"email": "bad@x"},
        {"email": "same@example.com", "last_name": "Two", "properties": {"plan": None, "n": 1}},
    ]
    _refused(klaviyo, import_body(rows))
    job = klaviyo.Profiles.bulk_import_profiles(import_body([rows[0], rows[2]]))
    assert wait_complete(klaviyo, job.data.id).data.attributes.completed_count == 2
    [profile] = sandbox.profiles()
    assert (profile["email"], profile["phone_number"], profile["first_name"]) == (
        "same@example.com", "+14155550100", "One")
    assert (profile["last_name"], profile["properties"]) == ("Two", {"n": 1})
