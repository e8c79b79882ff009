"""Connecting an account through the sandbox's OAuth server, as a user would: the start
URL (the CRM's back end), the launch URL opened in the user's browser (which sets the
cookie binding the flow to it), the consent page approved (or denied) as the sandbox
account's user, then the callback with the query Klaviyo sends back."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import httpx
import redis
from cryptography.fernet import Fernet

from sandbox.inspect_client import SandboxClient
from sandbox.oauth_grants import DEFAULT_REDIRECT_URIS
from shared.klaviyo.oauth_flow import CALLBACK_PATH, LAUNCH_PATH, Finished, finish, launch, start
from shared.settings import Settings

PUBLIC_URL = "http://sync.example"
CRM_ORIGIN = "https://crm.example"
RETURN_TO = f"{CRM_ORIGIN}/settings/klaviyo?tab=connection"
OAUTH_REDIRECT_URIS = (PUBLIC_URL + CALLBACK_PATH, *DEFAULT_REDIRECT_URIS)
"""What the tests' sandbox has registered for its app."""


def oauth_env(sandbox_url: str, secret_key: str | None = None) -> dict[str, str]:
    """The environment of a contact-sync whose OAuth app is the sandbox's."""
    return {"KLAVIYO_BASE_URL": sandbox_url, "KLAVIYO_OAUTH_CLIENT_ID": "sandbox-client",
            "KLAVIYO_OAUTH_CLIENT_SECRET": "sandbox-secret", "SYNC_PUBLIC_URL": PUBLIC_URL,
            "SYNC_OAUTH_RETURN_ORIGINS": CRM_ORIGIN,
            "SYNC_SECRET_KEY": secret_key or Fernet.generate_key().decode()}


def oauth_settings(sandbox_url: str, redis_url: str) -> Settings:
    return Settings(**oauth_env(sandbox_url), REDIS_URL=redis_url)  # type: ignore[arg-type]


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def consent_callback(sandbox: SandboxClient, authorize_url: str, *, allow: bool = True,
                     key: str | None = None) -> str:
    """The callback URL Klaviyo sends the browser to once its user answered."""
    location = sandbox.consent(authorize_url, allow=allow, key=key)
    assert location.startswith(PUBLIC_URL + CALLBACK_PATH + "?"), location
    return location


def connect_in_process(client: redis.Redis, settings: Settings, sandbox: SandboxClient,
                       account: str, *, key: str | None = None,
                       return_to: str | None = None) -> Finished:
    """The whole flow through :mod:`shared.klaviyo.oauth_flow` (no web): start, launch in
    one browser (its cookie kept), consent, callback with that cookie."""
    launch_url = start(client, settings, account, return_to)
    launched = launch(client, settings, query_of(launch_url)["flow"])
    callback = consent_callback(sandbox, launched.authorize_url, key=key)
    return finish(client, settings, query_of(callback),
                  {launched.cookie_name: launched.cookie_value})


class Browser:
    """One user's browser (its own cookie jar) against a running ``web`` at ``web_url``,
    which stands for ``SYNC_PUBLIC_URL``."""

    def __init__(self, web_url: str) -> None:
        self.web_url = web_url
        self.http = httpx.Client(timeout=30.0, headers={"Accept": "text/html,*/*;q=0.8"})

    def here(self, url: str) -> str:
        return url.replace(PUBLIC_URL, self.web_url)

    def open_launch(self, launch_url: str) -> str:
        """Open the launch URL; Klaviyo's authorize URL it redirects to."""
        answer = self.http.get(self.here(launch_url))
        assert answer.status_code == 302, answer.text
        assert urlsplit(launch_url).path == LAUNCH_PATH
        return str(answer.headers["location"])

    def back_from_klaviyo(self, callback_url: str) -> httpx.Response:
        """The browser arriving at web's callback."""
        return self.http.get(self.here(callback_url))

    def connect(self, sandbox: SandboxClient, launch_url: str, *, key: str | None = None,
                allow: bool = True) -> httpx.Response:
        """Launch, consent as the owner of ``key``, and the callback's answer."""
        authorize = self.open_launch(launch_url)
        return self.back_from_klaviyo(consent_callback(sandbox, authorize, allow=allow,
                                                       key=key))

    def close(self) -> None:
        self.http.close()
