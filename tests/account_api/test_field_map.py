"""An account's field map through the real web, workers and sandbox: fields and typed
properties go where it says, a bad map is a 422, a resync re-sends every contact."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.pipeline import Pipeline

pytestmark = pytest.mark.xdist_group("test_field_map")

FIELD_MAP = {"title": "job_title", "organization": "company.name",
             "properties.Lifetime Value": {"from": "properties.ltv", "type": "number"},
             "properties.Since": {"from": "properties.since", "type": "date"}}


def test_a_field_map_puts_fields_and_typed_properties_where_it_says(
        api_pipeline: Pipeline, api: httpx.Client) -> None:
    acme = api_pipeline.add_account()
    changed = api.patch(f"/v1/accounts/{acme.name}", json={"field_map": FIELD_MAP})
    assert changed.status_code == 200, changed.text
    assert api.get(f"/v1/accounts/{acme.name}").json()["field_map"] == FIELD_MAP

    report = api_pipeline.sync(acme, [
        api_pipeline.upsert(acme, "C-1", 1, job_title="Buyer",
                            company={"id": "CO-1", "name": "Acme Ltd", "type": "Customer"},
                            properties={"ltv": "1234.5", "since": "2024-03-01",
                                        "internal_note": "not for Klaviyo"}),
        api_pipeline.upsert(acme, "C-2", 1, properties={"ltv": "lots"})])

    ann = api_pipeline.profiles(acme)["c-1@example.com"]
    assert (ann["title"], ann["organization"]) == ("Buyer", "Acme Ltd")
    assert ann["properties"]["Lifetime Value"] == 1234.5
    assert ann["properties"]["Since"] == "2024-03-01"
    assert "ltv" not in ann["properties"] and "internal_note" not in ann["properties"]
    assert report.get("mapping_error") == 1
    bob = api_pipeline.profiles(acme)["c-2@example.com"]
    assert "Lifetime Value" not in bob["properties"], "a value that will not convert is left off"
    detail = api.get(f"/v1/accounts/{acme.name}/syncs").json()[0]
    shown = api.get(f"/v1/accounts/{acme.name}/syncs/{detail['batch_id']}").json()
    [error] = [c for c in shown["contacts"] if c["outcome"] == "mapping_error"]
    assert error["contact_id"] == "C-2" and "properties.Lifetime Value" in error["reason"]
    assert "lots" not in str(shown)


def test_a_map_naming_an_unknown_target_source_or_type_is_a_422_naming_field_map(
        api_pipeline: Pipeline, api: httpx.Client) -> None:
    acme = api_pipeline.add_account()
    for bad in ({"shoe_size": "job_title"}, {"title": "shoe_size"},
                {"title": {"from": "job_title", "type": "money"}}, ["title"]):
        answer = api.patch(f"/v1/accounts/{acme.name}", json={"field_map": bad})
        assert answer.status_code == 422, (bad, answer.text)
        assert "field_map" in answer.text
    assert api.get(f"/v1/accounts/{acme.name}").json()["field_map"] is None


def test_a_resync_re_sends_every_contact_under_a_new_map(
        api_pipeline: Pipeline, api: httpx.Client) -> None:
    acme = api_pipeline.add_account()
    api_pipeline.sync(acme, [api_pipeline.upsert(acme, "C-1", 1, job_title="Buyer"),
                             api_pipeline.upsert(acme, "C-2", 1, job_title="Owner")])
    assert api_pipeline.profiles(acme)["c-1@example.com"]["title"] == "Buyer"
    api.patch(f"/v1/accounts/{acme.name}",
              json={"field_map": {"properties.Job": "job_title"}})

    answer = api.post(f"/v1/accounts/{acme.name}/resync")

    assert answer.status_code == 202 and answer.json()["pending"] == 2
    api_pipeline.settle(acme)
    ann = api_pipeline.profiles(acme)["c-1@example.com"]
    assert ann["properties"]["Job"] == "Buyer"
    assert api.post("/v1/accounts/nobody-here/resync").status_code == 404
