"""One running contact-sync per test module (starting the four processes costs seconds).

The module's stack has its own redis-server and its own sandbox server, so no other test of
the same pytest worker (which flushes the shared Redis or resets the shared sandbox) can
disturb it; each test makes its own accounts. The sandbox's exchanges are checked against
Klaviyo's OpenAPI slices after every test, as the session sandbox's are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox.app import ASGIApp
from sandbox.inspect_client import SandboxClient
from sandbox.server import SandboxServer
from shared.redis_server import EmbeddedRedis
from tests.e2e.pipeline import Pipeline, start_all
from tests.support.openapi_contract import ContractViolations
from tests.support.process_stack import ProcessStack


@pytest.fixture(scope="module")
def module_pipeline(tmp_path_factory: pytest.TempPathFactory,
                    contract_middleware: Callable[[ASGIApp], ASGIApp]) -> Iterator[Pipeline]:
    workdir: Path = tmp_path_factory.mktemp("stack")
    with EmbeddedRedis() as server, \
            SandboxServer(rate_limits="off", middleware=(contract_middleware,)) as sandbox_srv, \
            SandboxClient(sandbox_srv.url) as sandbox:
        sandbox.set_jobs("async", 0)
        sandbox.key = sandbox.new_key()
        with ProcessStack(server.url, sandbox.url, sandbox.key, workdir) as stack:
            start_all(stack)
            pipeline = Pipeline(stack, sandbox)
            yield pipeline
            pipeline.close()


@pytest.fixture
def pipeline(module_pipeline: Pipeline,
             contract_violations: ContractViolations) -> Iterator[Pipeline]:
    """The module's running contact-sync; the test fails on an OpenAPI violation."""
    yield module_pipeline
    found = contract_violations.drain()
    if found:
        listed = "\n".join(f"  - {v}" for v in found[:30])
        pytest.fail(f"{len(found)} OpenAPI contract violation(s):\n{listed}", pytrace=False)
