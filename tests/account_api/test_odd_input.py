"""Odd input to the account API of a real ``web`` (issue 19 finding 8, issue 20 items 14
and 15): each is a clear problem naming the field, never a 5xx, nothing stored."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.pipeline import Pipeline

PROBLEM = "application/problem+json"


def _name() -> str:
    return f"odd-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("raw", ["1e999", "-1e999", "Infinity", "NaN", "1e10"])
def test_an_interval_that_is_not_a_finite_bounded_number_is_a_422_naming_it(
        api: httpx.Client, raw: str) -> None:
    name = _name()
    answer = api.put(f"/v1/accounts/{name}", content=f'{{"interval_seconds": {raw}}}',
                     headers={"Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert [item["field"] for item in answer.json()["errors"]] == ["interval_seconds"]
    assert api.get(f"/v1/accounts/{name}").status_code == 404  # nothing stored


def test_settings_are_capped_at_a_billion(api: httpx.Client) -> None:
    name = _name()
    too_big = api.put(f"/v1/accounts/{name}", json={"max_bulk_export": 10**32})
    assert too_big.status_code == 422
    assert [item["field"] for item in too_big.json()["errors"]] == ["max_bulk_export"]
    taken = api.put(f"/v1/accounts/{name}", json={"max_bulk_export": 10**9,
                                                  "interval_seconds": 10**9})
    assert taken.status_code == 201
    assert api.get(f"/v1/accounts/{name}").json()["interval_seconds"] == 10**9


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b'{"max_bulk_export": 1'])
def test_a_body_that_is_not_json_is_a_400_problem(api: httpx.Client, body: bytes) -> None:
    name = _name()
    answer = api.put(f"/v1/accounts/{name}", content=body,
                     headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    assert problem["title"] == "Malformed JSON"
    assert problem["detail"].startswith("the body is not JSON")
    assert api.get(f"/v1/accounts/{name}").status_code == 404


def test_an_unknown_route_or_method_under_the_api_is_a_problem(api: httpx.Client) -> None:
    for answer in (api.get("/v1/accounts/x/nothing-here"), api.post("/v1/accounts/x")):
        assert answer.status_code in (404, 405)
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["status"] == answer.status_code


def test_a_batch_id_not_in_the_id_format_is_a_422_naming_it(api: httpx.Client) -> None:
    name = _name()
    assert api.put(f"/v1/accounts/{name}", json={}).status_code == 201
    answer = api.get(f"/v1/accounts/{name}/syncs/b-never';drop")
    assert answer.status_code == 422
    assert [item["field"] for item in answer.json()["errors"]] == ["batch_id"]
    missing = api.get(f"/v1/accounts/{name}/syncs/20260101T000000-0000abcd")
    assert missing.status_code == 404


def test_api_answers_name_the_route_not_a_cli_option(api: httpx.Client) -> None:
    name = _name()
    unknown = api.get(f"/v1/accounts/{name}")
    assert unknown.json()["detail"] == (
        f"unknown account {name!r}: create it with PUT /v1/accounts/{name}")
    assert api.put(f"/v1/accounts/{name}", json={}).status_code == 201
    why = api.get(f"/v1/accounts/{name}").json()["why_not_syncable"]
    refused = api.post(f"/v1/accounts/{name}/syncs")
    assert refused.status_code == 409
    for text in (why, refused.json()["detail"]):
        assert f"PUT /v1/accounts/{name}/klaviyo-key" in text
        assert "--" not in text and "contact-sync" not in text


def test_the_served_document_has_every_schema_it_refers_to(api_pipeline: Pipeline) -> None:
    document = httpx.get(f"{api_pipeline.stack.web_url}/openapi.json").json()
    schemas = document["components"]["schemas"]
    text = httpx.get(f"{api_pipeline.stack.web_url}/openapi.json").text
    refs = {part.split('"')[0] for part in text.split('"#/components/schemas/')[1:]}
    assert refs and refs <= set(schemas), refs - set(schemas)
    assert "Problem" in schemas and "WebhookProblem" in schemas
