"""``contact-sync accounts connect NAME`` prints the URL that connects an account through
OAuth (approved in the sandbox's consent page, the callback then connects it: ``accounts
show`` says so, ``accounts set --default-list`` is checked over its Bearer token), and
``accounts disconnect NAME`` revokes the grant at Klaviyo and forgets the tokens."""

from __future__ import annotations

import json

import redis
from click.testing import Result
from klaviyo_api import KlaviyoAPI
from typer.testing import CliRunner

from cli.main import app
from sandbox.inspect_client import SandboxClient
from shared import constants as keys
from shared.klaviyo.oauth_flow import finish, launch
from shared.klaviyo.oauth_tokens import OAUTH_FIELD
from shared.settings import Settings
from tests.support.oauth import PUBLIC_URL, consent_callback, oauth_env, query_of

runner = CliRunner()


def _env(redis_url: str, sandbox: SandboxClient, secret_key: str) -> dict[str, str]:
    return {**oauth_env(sandbox.url, secret_key), "REDIS_URL": redis_url,
            "KLAVIYO_API_KEY": ""}


def _cli(env: dict[str, str], *args: str) -> Result:
    return runner.invoke(app, ["accounts", *args], env=env)


def test_connect_prints_the_url_and_disconnect_revokes_the_grant(
        r: redis.Redis, redis_url: str, sandbox: SandboxClient) -> None:
    env = _env(redis_url, sandbox, oauth_env(sandbox.url)["SYNC_SECRET_KEY"])
    printed = _cli(env, "connect", "acme")
    assert printed.exit_code == 0, printed.output
    url = printed.output.strip().splitlines()[-1]
    assert url.startswith(f"{PUBLIC_URL}/v1/oauth/klaviyo/authorize?flow=")
    settings = Settings(**env)  # type: ignore[arg-type]
    launched = launch(r, settings, query_of(url)["flow"])  # the browser opens it
    done = finish(r, settings, query_of(consent_callback(sandbox, launched.authorize_url)),
                  {launched.cookie_name: launched.cookie_value})
    assert done.error is None and done.location() is None  # no return_to: web shows a page
    shown = json.loads(_cli(env, "show", "acme", "--json").output)
    assert shown["klaviyo_key"] == "connected (OAuth)" and shown["syncable"]
    list_id = _make_list(sandbox)  # in the consenting account only: checked over Bearer
    changed = _cli(env, "set", "acme", "--default-list", list_id)
    assert changed.exit_code == 0, changed.output
    gone = _cli(env, "disconnect", "acme")
    assert gone.exit_code == 0 and "OAuth grant revoked" in gone.output
    assert sandbox.oauth()["grants"] == {"live": 0, "revoked": 1}
    assert not r.hexists(keys.account_config("acme"), OAUTH_FIELD)


def test_connect_refuses_a_return_to_outside_the_allowed_origins(
        redis_url: str, sandbox: SandboxClient) -> None:
    env = _env(redis_url, sandbox, oauth_env(sandbox.url)["SYNC_SECRET_KEY"])
    refused = _cli(env, "connect", "acme", "--return-to", "https://evil.example/")
    assert refused.exit_code == 1 and "SYNC_OAUTH_RETURN_ORIGINS" in refused.output


def _make_list(sandbox: SandboxClient) -> str:
    api = KlaviyoAPI(sandbox.key, max_retries=1, test_host=sandbox.url)
    answer = api.Lists.create_list({"data": {"type": "list", "attributes": {"name": "News"}}})
    return str(answer.data.id)


def test_connect_names_exactly_the_oauth_setting_that_is_missing(
        redis_url: str, sandbox: SandboxClient) -> None:
    env = {**_env(redis_url, sandbox, oauth_env(sandbox.url)["SYNC_SECRET_KEY"]),
           "SYNC_PUBLIC_URL": ""}
    refused = _cli(env, "connect", "acme")
    assert refused.exit_code == 1
    assert "set SYNC_PUBLIC_URL (docs/OAUTH.md)" in refused.output
    assert "KLAVIYO_OAUTH_CLIENT_ID" not in refused.output
