"""Schemathesis over the served OpenAPI document of the account API (a real ``web`` on real
Redis and the sandbox): no answer is a 5xx and none breaks its own documented schema.
The number of cases run is printed at the end of the module (docs/SECURITY.md)."""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.account_api.conftest import TOKEN
from tests.e2e.pipeline import Pipeline

EXAMPLES_PER_OPERATION = 40


def test_no_account_api_answer_is_a_5xx_or_breaks_its_schema(api_pipeline: Pipeline) -> None:
    """Every operation under /v1/accounts, EXAMPLES_PER_OPERATION generated cases each
    (schemathesis's strategies driven by hypothesis here: its pytest plugin does not run
    with our pytest)."""
    loaded = schemathesis.openapi.from_url(f"{api_pipeline.stack.web_url}/openapi.json")
    operations = []
    for result in loaded.include(path_regex="^/v1/accounts").get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operations.append(result.ok())
    assert len(operations) >= 14
    cases: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            cases.append(case.operation.label)
            case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"},
                                   checks=[not_a_server_error, response_schema_conformance])

        run()
    print(f"\naccount API fuzz: {len(cases)} cases over {len(operations)} operations")


ROUTES = {
    ("get", "/v1/accounts"), ("put", "/v1/accounts/{account}"),
    ("patch", "/v1/accounts/{account}"), ("get", "/v1/accounts/{account}"),
    ("delete", "/v1/accounts/{account}"), ("put", "/v1/accounts/{account}/klaviyo-key"),
    ("get", "/v1/accounts/{account}/klaviyo/lists"), ("get", "/v1/accounts/{account}/preview"),
    ("get", "/v1/accounts/{account}/syncs"), ("get", "/v1/accounts/{account}/syncs/{batch_id}"),
    ("get", "/v1/accounts/{account}/syncs/next"),
    ("post", "/v1/accounts/{account}/syncs"), ("get", "/v1/accounts/{account}/rejected"),
    ("post", "/v1/accounts/{account}/rejected/replay"),
    ("get", "/v1/accounts/{account}/klaviyo/oauth/start"),
    ("delete", "/v1/accounts/{account}/klaviyo"),
    ("post", "/v1/accounts/{account}/console-link"),
    ("post", "/v1/accounts/{account}/contacts/{contact_id}/erase"),
    ("post", "/v1/accounts/{account}/resync"),
}


def _has_example(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    ref = schema.get("$ref") or (schema.get("items") or {}).get("$ref")
    if ref:
        schema = components[ref.rsplit("/", 1)[1]]
    return bool(schema.get("examples") or schema.get("example"))


def test_the_served_document_describes_every_account_route_with_examples(
        api_pipeline: Pipeline) -> None:
    document = httpx.get(f"{api_pipeline.stack.web_url}/openapi.json").json()
    served = {(method, path) for path, ops in document["paths"].items() for method in ops
              if path.startswith("/v1/accounts")}
    assert served == ROUTES
    components = document["components"]["schemas"]
    for method, path in ROUTES:
        operation = document["paths"][path][method]
        assert operation["summary"], (method, path)
        for status, answer in operation["responses"].items():
            content = answer.get("content", {})
            if status.startswith("2") and content:
                schema = content["application/json"]["schema"]
                assert _has_example(schema, components), (method, path, status)
        assert "401" in operation["responses"] and "422" in operation["responses"]
