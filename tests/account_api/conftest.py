"""One running contact-sync with the account API on (SYNC_API_TOKENS) per test module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.app import ASGIApp
from sandbox.inspect_client import SandboxClient
from sandbox.server import SandboxServer
from shared.redis_server import EmbeddedRedis
from tests.e2e.pipeline import Pipeline, start_all
from tests.support.process_stack import ProcessStack

TOKEN = "api-token-ZZ9-plural-z-alpha"
OLD_TOKEN = "api-token-being-rotated-out"


@pytest.fixture(scope="module")
def api_pipeline(tmp_path_factory: pytest.TempPathFactory,
                 contract_middleware: Callable[[ASGIApp], ASGIApp]) -> Iterator[Pipeline]:
    workdir: Path = tmp_path_factory.mktemp("stack")
    with EmbeddedRedis() as server, \
            SandboxServer(rate_limits="off", middleware=(contract_middleware,)) as sandbox_srv, \
            SandboxClient(sandbox_srv.url) as sandbox:
        sandbox.set_jobs("async", 0)
        sandbox.key = sandbox.new_key()
        env = {"SYNC_API_TOKENS": f"{TOKEN},{OLD_TOKEN}"}
        with ProcessStack(server.url, sandbox.url, sandbox.key, workdir, env=env) as stack:
            start_all(stack)
            pipeline = Pipeline(stack, sandbox)
            yield pipeline
            pipeline.close()


@pytest.fixture
def api(api_pipeline: Pipeline) -> Iterator[httpx.Client]:
    """An HTTP client of the running web, with the bearer token."""
    with httpx.Client(base_url=api_pipeline.stack.web_url, timeout=60,
                      headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client
