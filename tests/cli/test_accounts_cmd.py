"""``contact-sync accounts``: keys stored encrypted and never printed; runtime changes."""

from __future__ import annotations

import json

import redis
from click.testing import Result
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from cli.main import app
from shared import constants as keys

KEY = "pk_secret_9f8e7d6c5b4a"
SECRET = Fernet.generate_key().decode()
runner = CliRunner()


def cli(redis_url: str, *args: str, secret: str | None = SECRET, input: str | None = None
        ) -> Result:
    env = {"REDIS_URL": redis_url, "SYNC_SECRET_KEY": secret or "", "KLAVIYO_API_KEY": "",
           "SYNC_INTERVAL": "900"}
    return runner.invoke(app, ["accounts", *args], env=env, input=input)


def test_add_then_list_and_show_never_print_the_key(r: redis.Redis, redis_url: str) -> None:
    added = cli(redis_url, "add", "acme", "--klaviyo-key", KEY, "--roles",
                "Buyer,Decision Maker", "--max-bulk-export", "1000", "--interval", "120")
    assert added.exit_code == 0, added.output
    assert KEY not in added.output
    listed = cli(redis_url, "list")
    assert listed.exit_code == 0 and "acme" in listed.output and "default" in listed.output
    shown = cli(redis_url, "show", "acme", "--json")
    assert shown.exit_code == 0, shown.output
    view = json.loads(shown.output)
    assert view["klaviyo_key"] == "set"
    assert view["contact_roles"] == ["Buyer", "Decision Maker"]
    assert view["max_bulk_export"] == 1000 and view["interval"] == 120
    for output in (listed.output, shown.output, cli(redis_url, "list", "--json").output,
                   cli(redis_url, "show", "acme").output):
        assert KEY not in output and KEY[-4:] not in output
    assert KEY not in str(r.hgetall(keys.account_config("acme")))


def test_the_key_can_be_typed_at_a_hidden_prompt(redis_url: str) -> None:
    added = cli(redis_url, "add", "acme", input=KEY + "\n")
    assert added.exit_code == 0, added.output
    assert KEY not in added.output


def test_add_without_sync_secret_key_is_refused_clearly(r: redis.Redis, redis_url: str) -> None:
    result = cli(redis_url, "add", "acme", "--klaviyo-key", KEY, secret=None)
    assert result.exit_code == 1
    assert "SYNC_SECRET_KEY is not set" in result.output
    assert not r.exists(keys.account_config("acme"))


def test_set_changes_the_default_account_at_runtime_and_shows_the_log(redis_url: str) -> None:
    result = cli(redis_url, "set", "default", "--interval", "60", "--company-types", "Customer")
    assert result.exit_code == 0, result.output
    assert "changed" in result.output and "re-evaluated" in result.output
    shown = cli(redis_url, "show", "default")
    assert "interval: 60.0" in shown.output
    assert "company_types: Customer" in shown.output
    assert "interval: 900.0 -> 60.0" in shown.output  # the change log, with its time
    assert "not set (sandbox)" in shown.output


def test_bad_values_and_unknown_accounts_get_clear_errors(redis_url: str) -> None:
    bad = cli(redis_url, "set", "default", "--max-bulk-export", "-5")
    assert bad.exit_code == 1 and "max_bulk_export" in bad.output
    unknown = cli(redis_url, "show", "nobody")
    assert unknown.exit_code == 1 and "unknown account 'nobody'" in unknown.output
    nothing = cli(redis_url, "set", "default")
    assert nothing.exit_code == 1 and "nothing to change" in nothing.output


def test_remove_forgets_the_account(redis_url: str) -> None:
    cli(redis_url, "add", "acme", "--klaviyo-key", KEY)
    removed = cli(redis_url, "remove", "acme", "--yes")
    assert removed.exit_code == 0, removed.output
    assert "acme" not in cli(redis_url, "list").output


def test_without_redis_url_the_error_says_what_to_set() -> None:
    result = runner.invoke(app, ["accounts", "list"], env={"REDIS_URL": ""})
    assert result.exit_code == 2
    assert "REDIS_URL is not set" in result.output


def test_the_phone_region_is_set_shown_and_cleared(redis_url: str) -> None:
    added = cli(redis_url, "add", "acme", "--klaviyo-key", KEY, "--phone-region", "gb")
    assert added.exit_code == 0, added.output
    assert json.loads(cli(redis_url, "show", "acme", "--json").output)["phone_region"] == "GB"
    assert "phone_region: GB" in cli(redis_url, "show", "acme").output
    changed = cli(redis_url, "set", "acme", "--phone-region", "US")
    assert changed.exit_code == 0 and "changed phone_region" in changed.output
    listed = cli(redis_url, "list")
    assert "phone region" in listed.output and "US" in listed.output
    assert [row["phone_region"] for row in json.loads(cli(redis_url, "list", "--json").output)
            ] == ["US", None]  # acme, default
    cleared = cli(redis_url, "set", "acme", "--phone-region", "")
    assert cleared.exit_code == 0, cleared.output
    assert json.loads(cli(redis_url, "show", "acme", "--json").output)["phone_region"] is None
    assert "phone_region: 'US' -> None" in cli(redis_url, "show", "acme").output


def test_an_unknown_phone_region_is_refused_clearly(r: redis.Redis, redis_url: str) -> None:
    result = cli(redis_url, "add", "acme", "--klaviyo-key", KEY, "--phone-region", "UK")
    assert result.exit_code == 1
    assert "phone_region" in result.output and "two-letter ISO 3166" in result.output
    assert not r.exists(keys.account_config("acme"))
    bad = cli(redis_url, "set", "default", "--phone-region", "Britain")
    assert bad.exit_code == 1 and "phone_region" in bad.output
