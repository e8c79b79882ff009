"""Connecting an account through the sandbox's OAuth server, as a user would: the start
URL, the consent page approved (or denied) as the sandbox account's user, then the
callback with the query Klaviyo sends back."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from cryptography.fernet import Fernet

from sandbox.inspect_client import SandboxClient
from shared.settings import Settings

PUBLIC_URL = "http://sync.example"
CRM_ORIGIN = "https://crm.example"
RETURN_TO = f"{CRM_ORIGIN}/settings/klaviyo?tab=connection"


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
    assert location.startswith(PUBLIC_URL + "/v1/oauth/klaviyo/callback?"), location
    return location
