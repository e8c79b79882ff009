"""The console is off unless ``SYNC_CONSOLE_SECRET`` is set (a real web app on a real
Redis, in this process)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from producers.webhook import create_app
from shared.settings import Settings

TOKEN = "api-token-for-the-mount-test"


def _app(redis_url: str, **extra: str) -> TestClient:
    settings = Settings(REDIS_URL=redis_url, SYNC_WEBHOOK_SECRET="whsec-mount",
                        SYNC_API_TOKENS=TOKEN, **extra)  # type: ignore[call-arg]
    return TestClient(create_app(settings, tune_process_gc=False))


def test_without_a_console_secret_no_console_page_is_served_and_no_link_minted(redis_url):
    with _app(redis_url) as client:
        assert client.get("/console/login").status_code == 404
        assert client.get("/console/static/htmx.min.js").status_code == 404
        answer = client.post("/v1/accounts/default/console-link",
                             headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 503
        assert "SYNC_CONSOLE_SECRET" in answer.json()["detail"]


def test_with_a_secret_the_link_opens_once_and_htmx_is_served_from_here(redis_url):
    with _app(redis_url, SYNC_CONSOLE_SECRET="s" * 40,
              SYNC_PUBLIC_URL="https://sync.example.com") as client:
        assert client.post("/v1/accounts/default/console-link").status_code == 401
        made = client.post("/v1/accounts/default/console-link",
                           headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert made["url"].startswith("https://sync.example.com/console/open?t=")
        path = made["url"].removeprefix("https://sync.example.com")
        opened = client.get(path, follow_redirects=False)
        assert opened.status_code == 303
        assert opened.headers["location"].startswith("/console/accounts/default/settings?s=")
        assert client.get(path, follow_redirects=False).status_code == 403
        script = client.get("/console/static/htmx.min.js")
        assert script.status_code == 200 and "htmx" in script.text[:200]
        assert client.post("/console/login", data={"token": "x"}).status_code == 404
