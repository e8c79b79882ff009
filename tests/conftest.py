"""Fixtures shared by the whole suite: a real redis-server per test process."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis

from shared.redis_client import connect
from shared.redis_server import EmbeddedRedis
from shared.settings import get_settings
from tests.support.accounts import TEST_ACCOUNT, configure_accounts

pytest_plugins = [
    "tests.support.fixtures",
    "tests.support.rabbitmq",
    "tests.support.redis_cluster",
    "tests.support.sentry_envelopes",
]

Setting = Callable[[str, str], None]
"""The type of the :func:`setting` fixture."""


@pytest.fixture(autouse=True)
def _settings_read_afresh() -> Iterator[None]:
    """Each test starts with the environment unread: the service reads it once per process
    (``get_settings``), and tests change it."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def setting(monkeypatch: pytest.MonkeyPatch) -> Setting:
    """``setting("SYNC_CHUNK_MAX_PROFILES", "40")``: an environment variable for this test
    only, which the process settings (``get_settings()``, so an in-process worker too) see
    from then on."""

    def set_one(name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    return set_one


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    """One private redis-server (AOF on) for this test process, the embedded helper's own."""
    with EmbeddedRedis() as server:
        yield server


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module that sets ``STATE_SHAPES = ("redis", "cluster")`` runs each test that uses
    ``redis_url`` (or ``r``) on one Redis and again on the local Redis Cluster
    (tests/support/redis_cluster.py), the Dramatiq queues then on the one Redis
    (``SYNC_BROKER_URL``). tests/e2e/conftest.py does the same for its running stacks."""
    shapes = getattr(metafunc.module, "STATE_SHAPES", None)
    if shapes and "redis_url" in metafunc.fixturenames and (
            "module_pipeline" not in metafunc.fixturenames):
        metafunc.parametrize("redis_url", shapes, indirect=True)


@pytest.fixture
def redis_url(request: pytest.FixtureRequest, redis_server: EmbeddedRedis,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The URL of a Redis emptied before the test (a Redis Cluster's, in a module that
    asks for both shapes: see :func:`pytest_generate_tests`)."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    if getattr(request, "param", "redis") == "cluster":
        cluster_url = request.getfixturevalue("cluster_url")
        monkeypatch.setenv("SYNC_BROKER_URL", redis_server.url)
        monkeypatch.setenv("REDIS_URL", cluster_url)
        get_settings.cache_clear()
        yield cluster_url
        return
    yield redis_server.url


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    """A decoded client on an empty Redis."""
    client = connect(redis_url)
    yield client
    client.close()


@pytest.fixture
def test_account(r: redis.Redis) -> str:
    """The account of the test helpers' events (``acme``), created on the emptied Redis:
    the producers refuse events for accounts that are not configured."""
    configure_accounts(r, TEST_ACCOUNT)
    return TEST_ACCOUNT


# --- The Klaviyo sandbox (sandbox/): one server per test process, a fresh account per test ---

from collections.abc import Sequence  # noqa: E402

from klaviyo_api import KlaviyoAPI  # noqa: E402

from sandbox.app import ASGIApp  # noqa: E402
from sandbox.inspect_client import SandboxClient  # noqa: E402
from sandbox.server import SandboxServer  # noqa: E402
from tests.support.oauth import OAUTH_REDIRECT_URIS  # noqa: E402


@pytest.fixture(scope="session")
def sandbox_middleware(
    contract_middleware: Callable[[ASGIApp], ASGIApp],
) -> Sequence[Callable[[ASGIApp], ASGIApp]]:
    """ASGI layers wrapped around the sandbox: OpenAPI validation (tests/support)."""
    return (contract_middleware,)


@pytest.fixture(scope="session")
def sandbox_server(
    sandbox_middleware: Sequence[Callable[[ASGIApp], ASGIApp]],
) -> Iterator[SandboxServer]:
    """One running Klaviyo sandbox for this test process, rate limits off."""
    with SandboxServer(rate_limits="off", middleware=sandbox_middleware,
                       oauth_redirect_uris=OAUTH_REDIRECT_URIS) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxClient]:
    """The sandbox reset (data, counts, faults; limits off; async jobs), a fresh key in ``.key``."""
    client = SandboxClient(sandbox_server.url)
    client.reset()
    client.set_limits("off")
    client.set_jobs("async", 0)
    client.key = client.new_key()
    yield client
    client.close()


@pytest.fixture
def sandbox_url(sandbox: SandboxClient) -> str:
    """The sandbox's URL, usable as the SDK's ``test_host``."""
    return sandbox.url


@pytest.fixture
def klaviyo(sandbox: SandboxClient) -> KlaviyoAPI:
    """The official SDK pointed at the sandbox with the test's own key."""
    return KlaviyoAPI(sandbox.key, max_delay=2, max_retries=3, test_host=sandbox.url)


# --- The service's real processes (tests/support/process_stack.py) ---

from pathlib import Path  # noqa: E402

from tests.support.process_stack import ProcessStack  # noqa: E402


@pytest.fixture
def process_stack(redis_url: str, sandbox: SandboxClient, tmp_path: Path) -> Iterator[ProcessStack]:
    """Procfile processes on the test's Redis and sandbox account; none started yet."""
    assert sandbox.key is not None
    with ProcessStack(redis_url, sandbox.url, sandbox.key, tmp_path) as stack:
        yield stack
