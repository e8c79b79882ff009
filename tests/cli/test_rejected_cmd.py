"""``contact-sync rejected list|replay``."""

from __future__ import annotations

import json

import redis
from typer.testing import CliRunner, Result

from cli.main import app
from shared import constants as keys
from shared.state.rejections import record_rejection

runner = CliRunner()


def invoke(redis_url: str, *args: str) -> Result:
    return runner.invoke(app, ["rejected", *args], env={"REDIS_URL": redis_url})


def _reject(r: redis.Redis, contact_id: str) -> None:
    r.sadd(keys.ACCOUNTS_SET, "acme")  # the account exists (its events arrived)
    record_rejection(r, "acme", contact_id, code="invalid", title="Invalid input.",
                     detail="Invalid email address 'ann@@example.com'", batch_id="b-7")


def test_rejected_list_shows_contact_id_and_klaviyos_reason_without_the_email(
        r: redis.Redis, redis_url: str) -> None:
    _reject(r, "C-1001")
    result = invoke(redis_url, "list", "--account", "acme")
    assert result.exit_code == 0, result.output
    assert "C-1001" in result.output and "invalid" in result.output and "b-7" in result.output
    assert "ann@" not in result.output
    [row] = json.loads(invoke(redis_url, "list", "--account", "acme", "--json").output)
    assert row["contact_id"] == "C-1001" and row["code"] == "invalid"
    r.sadd(keys.ACCOUNTS_SET, "globex")
    empty = invoke(redis_url, "list", "--account", "globex")
    assert "globex: no rejected contacts." in empty.output
    unknown = invoke(redis_url, "list", "--account", "initech")
    assert unknown.exit_code == 1 and "unknown account 'initech'" in unknown.output


def test_rejected_replay_puts_contacts_back_into_pending(r: redis.Redis, redis_url: str) -> None:
    for contact_id in ("C-1", "C-2", "C-3"):
        _reject(r, contact_id)
    one = invoke(redis_url, "replay", "--account", "acme", "C-1", "C-404")
    assert "1 contact(s) back in pending" in one.output
    assert "Not rejected (left alone): C-404" in one.output
    rest = invoke(redis_url, "replay", "--account", "acme", "--all")
    assert "2 contact(s) back in pending" in rest.output
    assert sorted(r.zrange(keys.pending("acme"), 0, -1)) == ["C-1", "C-2", "C-3"]
    assert r.hlen(keys.rejected("acme")) == 0


def test_rejected_replay_needs_ids_or_all(redis_url: str) -> None:
    result = invoke(redis_url, "replay", "--account", "acme")
    assert result.exit_code == 2 and "--all" in result.output
