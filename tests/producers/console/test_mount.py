"""The console is off unless ``SYNC_CONSOLE_SECRET`` is set (a real web served by uvicorn on
a real Redis)."""

from __future__ import annotations

from tests.producers.helpers import running_webhook

TOKEN = "api-token-for-the-mount-test"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def test_without_a_console_secret_no_console_page_is_served_and_no_link_minted(redis_url):
    with running_webhook(redis_url, env={"SYNC_API_TOKENS": TOKEN}) as web:
        assert web.http.get("/console/login").status_code == 404
        assert web.http.get("/console/static/htmx.min.js").status_code == 404
        answer = web.http.post("/v1/accounts/default/console-link", headers=BEARER)
        assert answer.status_code == 404
        assert "SYNC_CONSOLE_SECRET" in answer.json()["detail"]


def test_with_a_secret_the_link_opens_once_and_htmx_is_served_from_here(redis_url):
    env = {"SYNC_API_TOKENS": TOKEN, "SYNC_CONSOLE_SECRET": "s" * 40,
           "SYNC_PUBLIC_URL": "https://sync.example.com"}
    with running_webhook(redis_url, env=env) as web:
        assert web.http.post("/v1/accounts/default/console-link").status_code == 401
        made = web.http.post("/v1/accounts/default/console-link", headers=BEARER).json()
        assert made["url"].startswith("https://sync.example.com/console/open?t=")
        path = made["url"].removeprefix("https://sync.example.com")
        opened = web.http.get(path)
        assert opened.status_code == 303
        assert opened.headers["location"].startswith("/console/accounts/default/settings?s=")
        assert web.http.get(path).status_code == 403  # a link opens once
        script = web.http.get("/console/static/htmx.min.js")
        assert script.status_code == 200 and "htmx" in script.text[:200]
        assert web.http.post("/console/login", data={"token": "x"}).status_code == 404
