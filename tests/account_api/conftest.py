"""One running contact-sync with the account API on (SYNC_API_TOKENS) per test module."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from sandbox.app import ASGIApp
from tests.e2e.pipeline import Pipeline, running_pipeline

TOKEN = "api-token-ZZ9-plural-z-alpha"
OLD_TOKEN = "api-token-being-rotated-out"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module that sets ``STATE_SHAPES`` runs on one Redis and on a Redis Cluster."""
    shapes = getattr(metafunc.module, "STATE_SHAPES", None)
    if shapes and "api_pipeline" in metafunc.fixturenames:
        metafunc.parametrize("api_pipeline", shapes, indirect=True, scope="module")


@pytest.fixture(scope="module")
def api_pipeline(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                 contract_middleware: Callable[[ASGIApp], ASGIApp]) -> Iterator[Pipeline]:
    env = {"SYNC_API_TOKENS": f"{TOKEN},{OLD_TOKEN}"}
    with running_pipeline(tmp_path_factory.mktemp("stack"), contract_middleware,
                          env=env, shape=getattr(request, "param", "redis")) as pipeline:
        yield pipeline


@pytest.fixture
def api(api_pipeline: Pipeline) -> Iterator[httpx.Client]:
    """An HTTP client of the running web, with the bearer token."""
    with httpx.Client(base_url=api_pipeline.stack.web_url, timeout=60,
                      headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client
