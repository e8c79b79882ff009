"""``GET /__sandbox/`` (the address ``run`` and ``sandbox`` print) lists the inspection API,
and the inspection API makes a list as a user does in Klaviyo's UI: the official SDK then
finds it."""

from __future__ import annotations

import httpx
from klaviyo_api import KlaviyoAPI

from sandbox.inspect_client import SandboxClient


def test_the_inspection_api_index_lists_every_route_with_what_it_does(
        sandbox: SandboxClient) -> None:
    for path in ("/__sandbox/", "/__sandbox"):
        answer = httpx.get(sandbox.url + path)
        assert answer.status_code == 200, path
        routes = answer.json()["inspection_api"]
        seen = {(route["method"], route["path"]) for route in routes}
        assert {("POST", "/__sandbox/keys"), ("POST", "/__sandbox/accounts/{key}/lists"),
                ("GET", "/__sandbox/accounts/{key}/profiles")} <= seen
        assert all(route["does"] for route in routes), routes


def test_a_list_made_through_the_inspection_api_is_one_klaviyo_lists(
        klaviyo: KlaviyoAPI, sandbox: SandboxClient) -> None:
    made = httpx.post(f"{sandbox.url}/__sandbox/accounts/{sandbox.key}/lists",
                      json={"name": "Newsletter"})
    assert made.status_code == 201, made.text
    listed = klaviyo.Lists.get_lists().data
    assert [(item.id, item.attributes.name) for item in listed] == [
        (made.json()["id"], "Newsletter")]
    refused = httpx.post(f"{sandbox.url}/__sandbox/accounts/{sandbox.key}/lists", json={})
    assert refused.status_code == 400 and "'name' is required" in refused.text
    unknown = httpx.post(f"{sandbox.url}/__sandbox/accounts/pk_nobody/lists",
                         json={"name": "x"})
    assert unknown.status_code == 404
