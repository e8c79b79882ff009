"""``POST /v1/accounts/{a}/contacts/{id}/erase`` through the real web, workers and sandbox."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.pipeline import Pipeline

pytestmark = pytest.mark.xdist_group("test_erasure_route")


def test_a_contact_erased_through_the_api_is_gone_from_klaviyo(
        api_pipeline: Pipeline, api: httpx.Client) -> None:
    acme = api_pipeline.add_account()
    api_pipeline.sync(acme, [api_pipeline.upsert(acme, "C-1", 1, first_name="Ann"),
                             api_pipeline.upsert(acme, "C-2", 1, first_name="Bob")])

    answer = api.post(f"/v1/accounts/{acme.name}/contacts/C-1/erase")

    assert answer.status_code == 202, answer.text
    assert answer.json()["contact_id"] == "C-1" and answer.json()["erased_at"]
    assert api_pipeline.settle(acme)[-1]["report"]["erased"] == 1
    assert set(api_pipeline.profiles(acme)) == {"c-2@example.com"}


def test_an_erasure_names_what_is_wrong(api_pipeline: Pipeline, api: httpx.Client) -> None:
    acme = api_pipeline.add_account()
    assert api.post("/v1/accounts/nobody-here/contacts/C-1/erase").status_code == 404
    too_long = api.post(f"/v1/accounts/{acme.name}/contacts/{'x' * 300}/erase")
    assert too_long.status_code == 422 and "contact_id" in too_long.text
    blank = api.post(f"/v1/accounts/{acme.name}/contacts/%20/erase")
    assert blank.status_code == 422 and "contact_id" in blank.text
    anonymous = httpx.post(f"{api_pipeline.stack.web_url}/v1/accounts/{acme.name}"
                           "/contacts/C-1/erase")
    assert anonymous.status_code == 401
