"""Schemathesis over the served OpenAPI document of the account API (a real ``web`` on real
Redis and the sandbox): no answer is a 5xx and none breaks its own documented schema.
The number of cases run is printed at the end of the module (docs/SECURITY.md)."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.account_api.conftest import TOKEN
from tests.e2e.pipeline import Pipeline

EXAMPLES_PER_OPERATION = 40


def test_no_account_api_answer_is_a_5xx_or_breaks_its_schema(api_pipeline: Pipeline) -> None:
    """Every operation under /v1/accounts, EXAMPLES_PER_OPERATION generated cases each
    (schemathesis's strategies driven by hypothesis here: its pytest plugin does not run
    with our pytest)."""
    loaded = schemathesis.openapi.from_url(f"{api_pipeline.stack.web_url}/openapi.json")
    operations = [result.ok() for result in
                  loaded.include(path_regex="^/v1/accounts").get_all_operations()]
    assert len(operations) >= 13
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
