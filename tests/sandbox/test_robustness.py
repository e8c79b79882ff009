"""Whatever a caller sends, the sandbox answers in Klaviyo's envelope and never with a 5xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.inspect_client import SandboxClient

HTTP = httpx.Client(timeout=10)  # one keep-alive pool for the many generated requests

WRITES = [
    ("POST", "/api/profiles", "profile"),
    ("POST", "/api/profile-import", "profile"),
    ("PATCH", "/api/profiles/01AAAAAAAAAAAAAAAAAAAAAAAA", "profile"),
    ("POST", "/api/lists", "list"),
    ("POST", "/api/profile-bulk-import-jobs", "profile-bulk-import-job"),
    ("POST", "/api/profile-subscription-bulk-create-jobs", "profile-subscription-bulk-create-job"),
    ("POST", "/api/profile-subscription-bulk-delete-jobs", "profile-subscription-bulk-delete-job"),
    ("POST", "/api/profile-suppression-bulk-create-jobs", "profile-suppression-bulk-create-job"),
    ("POST", "/api/lists/XXXXXX/relationships/profiles", "profile"),
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
attribute_names = st.sampled_from(
    [
        "email",
        "phone_number",
        "external_id",
        "first_name",
        "location",
        "properties",
        "profiles",
        "subscriptions",
        "name",
        "opt_in_process",
        "_kx",
        "data",
        "attributes",
    ]
)
attributes = st.dictionaries(attribute_names, values, max_size=4)


def _body(kind: str, attrs: dict[str, Any], extra: Any) -> dict[str, Any]:
    return {"data": {"type": kind, "attributes": attrs, "relationships": extra}}


@pytest.mark.parametrize(("method", "path", "kind"), WRITES)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(attrs=attributes, extra=values, raw=values)
def test_random_bodies_never_get_a_server_error(
    sandbox: SandboxClient,
    method: str,
    path: str,
    kind: str,
    attrs: dict[str, Any],
    extra: Any,
    raw: Any,
) -> None:
    headers = {"Authorization": f"Klaviyo-API-Key {sandbox.key}", "revision": "2026-10-15"}
    for body in (_body(kind, attrs, extra), raw, {"data": [raw]}):
        answer = httpx.request(
            method, f"{sandbox.url}{path}", json=body, headers=headers, timeout=10
        )
        assert answer.status_code < 500, answer.text
        if answer.status_code >= 400:
            assert {"id", "code", "title", "detail"} <= set(answer.json()["errors"][0])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    query=st.dictionaries(
        st.sampled_from(
            [
                "filter",
                "sort",
                "page[size]",
                "page[cursor]",
                "additional-fields[profile]",
                "include",
            ]
        ),
        st.text(max_size=40),
        max_size=3,
    )
)
def test_random_query_strings_never_get_a_server_error(
    sandbox: SandboxClient, query: dict[str, str]
) -> None:
    headers = {"Authorization": f"Klaviyo-API-Key {sandbox.key}", "revision": "2026-10-15"}
    for path in ("/api/profiles", "/api/lists", "/api/profile-bulk-import-jobs"):
        answer = HTTP.get(f"{sandbox.url}{path}", params=query, headers=headers)
        assert answer.status_code < 500, answer.text
