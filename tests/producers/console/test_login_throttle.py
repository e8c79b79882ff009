"""Failed operator logins are limited per client address (a real web served by uvicorn on a
real Redis)."""

from __future__ import annotations

import re

import httpx

from producers.console.login_throttle import FAILURES_ALLOWED
from tests.producers.helpers import running_webhook

OPERATOR = "console-operator-token-0123456789abcdef"


def _try(http: httpx.Client, token: str) -> httpx.Response:
    form = http.get("/console/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, form.text
    return http.post("/console/login", data={"csrf": csrf.group(1), "token": token})


def test_an_address_that_failed_too_often_waits_even_with_the_right_token(
        redis_url: str) -> None:
    env = {"SYNC_CONSOLE_SECRET": "s" * 40, "SYNC_CONSOLE_TOKENS": OPERATOR}
    with running_webhook(redis_url, env=env) as web:
        assert _try(web.http, OPERATOR).status_code == 303  # the right token logs in
        for _ in range(FAILURES_ALLOWED):
            assert _try(web.http, "a-guess").status_code == 401
        refused = _try(web.http, OPERATOR)
        assert refused.status_code == 429
        assert 0 < int(refused.headers["Retry-After"]) <= 600
        assert "Too many failed logins" in refused.text
