"""One running contact-sync per test module (starting the four processes costs seconds).

The module's stack has its own redis-server and its own sandbox server, so no other test of
the same pytest worker (which flushes the shared Redis or resets the shared sandbox) can
disturb it; each test makes its own accounts. The sandbox's exchanges are checked against
Klaviyo's OpenAPI slices after every test, as the session sandbox's are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from sandbox.app import ASGIApp
from tests.e2e.pipeline import Pipeline, running_pipeline
from tests.support.openapi_contract import ContractViolations


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module that sets ``STATE_SHAPES = STATE_SHAPES`` (tests/e2e/pipeline.py) runs each
    of its tests on one Redis and again on a Redis Cluster (``("rabbitmq",)``: with the
    queues on RabbitMQ); the others on one Redis."""
    shapes = getattr(metafunc.module, "STATE_SHAPES", None)
    if shapes and "module_pipeline" in metafunc.fixturenames:
        metafunc.parametrize("module_pipeline", shapes, indirect=True, scope="module")


@pytest.fixture(scope="module")
def module_pipeline(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                    contract_middleware: Callable[[ASGIApp], ASGIApp]) -> Iterator[Pipeline]:
    shape = getattr(request, "param", "redis")
    broker_url = (request.getfixturevalue("rabbitmq_node").fresh_url()
                  if shape == "rabbitmq" else None)
    with running_pipeline(tmp_path_factory.mktemp("stack"), contract_middleware,
                          shape=shape, broker_url=broker_url) as pipeline:
        yield pipeline


@pytest.fixture
def pipeline(module_pipeline: Pipeline,
             contract_violations: ContractViolations) -> Iterator[Pipeline]:
    """The module's running contact-sync; the test fails on an OpenAPI violation."""
    yield module_pipeline
    found = contract_violations.drain()
    if found:
        listed = "\n".join(f"  - {v}" for v in found[:30])
        pytest.fail(f"{len(found)} OpenAPI contract violation(s):\n{listed}", pytrace=False)
