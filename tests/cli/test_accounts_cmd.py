"""``contact-sync accounts``: keys stored encrypted and never printed; runtime changes; keys
and lists checked with Klaviyo (the sandbox) before they are stored."""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

import pytest
import redis
from click.testing import Result
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from cli.main import app
from shared import constants as keys
from shared.account_service.klaviyo_check import CHECK_ATTEMPTS
from tests.support.process_stack import wait_until

KEY = "pk_secret_9f8e7d6c5b4a"
SECRET = Fernet.generate_key().decode()
runner = CliRunner()


@pytest.fixture(autouse=True)
def klaviyo(monkeypatch: Any, sandbox: Any) -> Any:
    """The sandbox stands in for Klaviyo and knows :data:`KEY`."""
    sandbox.add_key(KEY)
    monkeypatch.setenv("KLAVIYO_BASE_URL", sandbox.url)
    return sandbox


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
    assert view["connection"]["kind"] == "api_key" and view["connection"]["state"] == "ok"
    assert "connection: api_key, ok" in cli(redis_url, "show", "acme").output
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


def klaviyo_calls(sandbox: Any) -> int:
    return sum(sum(statuses.values()) for statuses in sandbox.calls().values())


def new_list(sandbox: Any, name: str = "Newsletter") -> str:
    from shared.klaviyo.client import build_client

    body = {"data": {"type": "list", "attributes": {"name": name}}}
    answer: Any = build_client(KEY, sandbox.url).Lists.create_list(body)
    return str(answer["data"]["id"])


def error_lines(result: Result) -> list[str]:
    return [line for line in result.output.splitlines() if line.strip()]


def test_a_key_klaviyo_refuses_is_not_stored_after_one_call(
        r: redis.Redis, redis_url: str, klaviyo: Any) -> None:
    before = klaviyo_calls(klaviyo)
    result = cli(redis_url, "add", "X", "--klaviyo-key", "hello")
    assert result.exit_code == 1
    assert error_lines(result) == [
        "Error: Klaviyo refused the key (401 authentication_failed): nothing stored; check "
        "the key, or give --no-check to store it without asking Klaviyo"]
    assert not r.exists(keys.account_config("X"))
    assert klaviyo_calls(klaviyo) == before + 1
    assert "hello" not in result.output  # the key is never printed


def test_an_unknown_default_list_is_refused_naming_it_and_the_old_one_stays(
        redis_url: str, klaviyo: Any) -> None:
    kept = new_list(klaviyo)
    assert cli(redis_url, "add", "acme", "--klaviyo-key", KEY, "--default-list", kept
               ).exit_code == 0
    before = klaviyo_calls(klaviyo)
    result = cli(redis_url, "set", "acme", "--default-list", "NOPE")
    assert result.exit_code == 1
    assert error_lines(result) == [
        "Error: Klaviyo has no list 'NOPE' in this key's account (404 not_found): nothing "
        "stored; check the list id, or give --no-check to store it without asking Klaviyo"]
    assert klaviyo_calls(klaviyo) == before + 1
    assert json.loads(cli(redis_url, "show", "acme", "--json").output)[
        "default_list_id"] == kept


def test_a_key_and_list_klaviyo_knows_are_stored_and_said_so(
        redis_url: str, klaviyo: Any) -> None:
    list_id = new_list(klaviyo)
    added = cli(redis_url, "add", "acme", "--klaviyo-key", KEY)
    assert added.exit_code == 0, added.output
    assert "Klaviyo accepted the key" in added.output and KEY not in added.output
    changed = cli(redis_url, "set", "acme", "--default-list", list_id)
    assert changed.exit_code == 0, changed.output
    assert f"changed default_list_id; Klaviyo accepted the key and found list {list_id}" \
        in changed.output
    assert cli(redis_url, "set", "acme", "--default-list", "").exit_code == 0  # none: unasked


def test_a_new_key_must_see_the_accounts_default_list(redis_url: str, klaviyo: Any) -> None:
    list_id = new_list(klaviyo)
    assert cli(redis_url, "add", "acme", "--klaviyo-key", KEY, "--default-list", list_id
               ).exit_code == 0
    other = klaviyo.new_key()  # another Klaviyo account: it has no such list
    result = cli(redis_url, "set", "acme", "--klaviyo-key", other)
    assert result.exit_code == 1
    assert f"Klaviyo has no list {list_id!r} in this key's account" in result.output
    assert other not in result.output


def test_no_check_stores_the_key_and_list_without_asking_klaviyo(
        r: redis.Redis, redis_url: str, klaviyo: Any) -> None:
    before = klaviyo_calls(klaviyo)
    added = cli(redis_url, "add", "X", "--klaviyo-key", "hello", "--no-check")
    assert added.exit_code == 0, added.output
    changed = cli(redis_url, "set", "X", "--default-list", "NOPE", "--no-check")
    assert changed.exit_code == 0, changed.output
    assert klaviyo_calls(klaviyo) == before
    assert r.exists(keys.account_config("X"))


def test_a_klaviyo_that_cannot_be_reached_is_named_and_nothing_is_stored(
        monkeypatch: Any, r: redis.Redis, redis_url: str) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("KLAVIYO_BASE_URL", f"http://127.0.0.1:{port}")
    result = cli(redis_url, "add", "acme", "--klaviyo-key", KEY)
    assert result.exit_code == 1
    assert error_lines(result)[0].startswith(
        f"Error: could not reach Klaviyo at http://127.0.0.1:{port} to check the key")
    assert "--no-check" in result.output and len(error_lines(result)) == 1
    assert not r.exists(keys.account_config("acme"))


def test_a_cdn_challenge_is_asked_again_and_the_key_is_stored_once_it_passes(
        r: redis.Redis, redis_url: str, klaviyo: Any) -> None:
    before = klaviyo_calls(klaviyo)
    klaviyo.set_faults("get_lists", status_403_html=1.0)

    def lift_once_challenged() -> None:
        wait_until(lambda: klaviyo_calls(klaviyo) > before, 30, "the first check")
        klaviyo.clear_faults()

    lifter = threading.Thread(target=lift_once_challenged)
    lifter.start()
    try:
        result = cli(redis_url, "add", "acme", "--klaviyo-key", KEY)
    finally:
        lifter.join()
        klaviyo.clear_faults()
    assert result.exit_code == 0, result.output
    assert "Klaviyo accepted the key" in result.output
    assert klaviyo.calls()["get_lists"].get("403", 0) >= 1
    assert r.exists(keys.account_config("acme"))


def test_a_klaviyo_that_keeps_answering_5xx_is_tried_a_few_times_then_named(
        r: redis.Redis, redis_url: str, klaviyo: Any) -> None:
    before = klaviyo_calls(klaviyo)
    klaviyo.set_faults("get_lists", status_503=1.0)
    try:
        result = cli(redis_url, "add", "acme", "--klaviyo-key", KEY)
    finally:
        klaviyo.clear_faults()
    assert result.exit_code == 1
    assert "could not reach Klaviyo" in result.output and "4 tries" in result.output
    assert klaviyo_calls(klaviyo) == before + CHECK_ATTEMPTS
    assert not r.exists(keys.account_config("acme"))


def test_a_field_map_file_is_set_shown_and_a_bad_one_refused_naming_it(
        redis_url: str, tmp_path: Any) -> None:
    assert cli(redis_url, "add", "acme", "--klaviyo-key", KEY).exit_code == 0
    good, bad = tmp_path / "map.json", tmp_path / "bad.json"
    good.write_text(json.dumps({"title": "job_title",
                                "properties.LTV": {"from": "properties.ltv", "type": "number"}}))
    bad.write_text(json.dumps({"title": "shoe_size"}))
    changed = cli(redis_url, "set", "acme", "--field-map", str(good))
    assert changed.exit_code == 0 and "changed field_map" in changed.output, changed.output
    shown = json.loads(cli(redis_url, "show", "acme", "--json").output)
    assert shown["field_map"]["properties.LTV"] == {"from": "properties.ltv", "type": "number"}
    refused = cli(redis_url, "set", "acme", "--field-map", str(bad))
    assert refused.exit_code == 1 and "field_map" in refused.output
    assert "shoe_size" in refused.output
    assert cli(redis_url, "resync", "acme").exit_code == 0
