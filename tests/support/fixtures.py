"""Pytest fixtures that check every sandbox exchange against Klaviyo's OpenAPI slices.

Registered from ``tests/conftest.py`` (``pytest_plugins``). The session sandbox is built
with ``contract_middleware`` as its ASGI layer; after each test that used the sandbox the
violations recorded during the test fail it. Without the slices the layer is a no-op and
``test_klaviyos_openapi_slices_ship_with_the_tests`` fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.openapi_contract import (
    ASGIApp,
    ContractViolations,
    OpenAPIContract,
    OpenAPIContractMiddleware,
    slices_dir,
    slices_present,
)

MISSING = (
    "Klaviyo's OpenAPI slices are absent ({path}); the sandbox runs unchecked. "
    "They ship in tests/support/klaviyo_openapi; KLAVIYO_OPENAPI_DIR overrides."
)


@pytest.fixture(scope="session")
def openapi_contract() -> OpenAPIContract | None:
    """The loaded slices, or None when they are absent."""
    return OpenAPIContract() if slices_present() else None


@pytest.fixture(scope="session")
def contract_violations() -> ContractViolations:
    """Violations seen by the session sandbox, drained after each test."""
    return ContractViolations()


@pytest.fixture(scope="session")
def contract_middleware(
    openapi_contract: OpenAPIContract | None, contract_violations: ContractViolations
) -> Callable[[ASGIApp], ASGIApp]:
    """The ASGI layer to wrap the sandbox in (a pass-through without the slices)."""

    def wrap(app: ASGIApp) -> ASGIApp:
        return OpenAPIContractMiddleware(app, openapi_contract, contract_violations)

    return wrap


@pytest.fixture(autouse=True)
def _openapi_contract_check(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used the sandbox, fail it if any exchange broke the contract."""
    yield
    if "sandbox_server" not in request.fixturenames:
        return
    violations: ContractViolations = request.getfixturevalue("contract_violations")
    found = violations.drain()
    if found:
        listed = "\n".join(f"  - {v}" for v in found[:30])
        pytest.fail(f"{len(found)} OpenAPI contract violation(s):\n{listed}", pytrace=False)


@pytest.fixture
def contract_sandbox(sandbox: object) -> object:
    """The test's sandbox (``SandboxClient``), whose exchanges are contract-checked."""
    return sandbox


def require_slices() -> None:
    """Skip the calling test (only it) when the slices are absent."""
    if not slices_present():
        pytest.skip(MISSING.format(path=slices_dir()))
