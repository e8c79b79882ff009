"""Every refusal of the account API, as RFC 9457 problems from a real ``web``."""

from __future__ import annotations

import uuid

import httpx

from tests.e2e.pipeline import Pipeline
from tests.support.process_stack import ProcessStack

PROBLEM = "application/problem+json"


def _name() -> str:
    return f"acct-{uuid.uuid4().hex[:8]}"


def test_without_sync_api_tokens_every_account_route_is_a_404_saying_the_api_is_off(
        process_stack: ProcessStack) -> None:
    process_stack.start("web")
    for method, path in (("GET", "/v1/accounts"), ("PUT", "/v1/accounts/acme"),
                         ("GET", "/v1/accounts/acme/syncs")):
        answer = httpx.request(method, f"{process_stack.web_url}{path}", json={},
                               headers={"Authorization": "Bearer anything"})
        assert answer.status_code == 404, (method, path)
        assert answer.headers["content-type"] == PROBLEM
        assert "account API is off: set SYNC_API_TOKENS" in answer.json()["detail"]
    paths = httpx.get(f"{process_stack.web_url}/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/v1/accounts")]


def test_a_missing_or_wrong_bearer_token_is_a_401_problem(api_pipeline: Pipeline) -> None:
    url = f"{api_pipeline.stack.web_url}/v1/accounts"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        answer = httpx.get(url, headers=headers)
        assert answer.status_code == 401
        assert answer.headers["content-type"] == PROBLEM
        assert answer.headers["www-authenticate"] == "Bearer"
        body = answer.json()
        assert body["status"] == 401 and body["title"] == "Unauthorized" and body["type"]
    assert "wrong" not in api_pipeline.stack.output("web")


def test_an_unknown_account_or_sync_is_a_404_problem(api: httpx.Client) -> None:
    answer = api.get("/v1/accounts/nobody-here")
    assert answer.status_code == 404 and answer.headers["content-type"] == PROBLEM
    assert "nobody-here" in answer.json()["detail"]
    name = _name()
    assert api.put(f"/v1/accounts/{name}", json={}).status_code == 201
    missing = api.get(f"/v1/accounts/{name}/syncs/20260101T000000-0000abcd")
    assert missing.status_code == 404 and "20260101T000000-0000abcd" in missing.json()["detail"]


def test_deleting_default_and_lists_without_a_key_are_409_problems(api: httpx.Client) -> None:
    assert api.delete("/v1/accounts/default").status_code == 409
    name = _name()
    api.put(f"/v1/accounts/{name}", json={})
    for answer in (api.get(f"/v1/accounts/{name}/klaviyo/lists"),
                   api.patch(f"/v1/accounts/{name}", json={"default_list_id": "XyZ"})):
        assert answer.status_code == 409 and answer.headers["content-type"] == PROBLEM
        assert "klaviyo-key" in answer.json()["detail"]


def test_each_refused_setting_is_named_in_a_422(api: httpx.Client) -> None:
    answer = api.put(f"/v1/accounts/{_name()}", json={
        "max_bulk_export": -1, "interval_seconds": "soon", "phone_region": "Narnia",
        "colour": "blue"})
    assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM
    fields = {item["field"] for item in answer.json()["errors"]}
    assert fields == {"max_bulk_export", "interval_seconds", "phone_region", "colour"}
    bad_name = api.put("/v1/accounts/-leading-dash", json={})
    assert bad_name.status_code == 422
    assert [e["field"] for e in bad_name.json()["errors"]] == ["account"]
    limit = api.get("/v1/accounts/default/syncs", params={"limit": 0})
    assert [e["field"] for e in limit.json()["errors"]] == ["limit"]


def test_a_refused_key_is_a_422_naming_klaviyos_code(api: httpx.Client) -> None:
    name = _name()
    api.put(f"/v1/accounts/{name}", json={})
    answer = api.put(f"/v1/accounts/{name}/klaviyo-key", json={"api_key": "pk_not_a_real_key"})
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["klaviyo_code"] and body["klaviyo_code"] in body["detail"]
    assert [e["field"] for e in body["errors"]] == ["api_key"]
    assert "pk_not_a_real_key" not in answer.text
    assert api.get(f"/v1/accounts/{name}").json()["connection"]["kind"] == "none"


def test_a_default_list_unknown_to_klaviyo_is_a_422_on_that_field(
        api_pipeline: Pipeline, api: httpx.Client) -> None:
    name = _name()
    api.put(f"/v1/accounts/{name}", json={})
    api.put(f"/v1/accounts/{name}/klaviyo-key", json={"api_key": api_pipeline.sandbox.new_key()})
    answer = api.patch(f"/v1/accounts/{name}", json={"default_list_id": "NoSuchList"})
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["default_list_id"]
    assert answer.json()["klaviyo_code"]
    assert api.get(f"/v1/accounts/{name}").json()["default_list_id"] is None
