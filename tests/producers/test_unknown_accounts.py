"""Events for accounts that are not configured are refused (issue 19, finding 7): before,
each unknown ``account_id`` in a signed event made an account (four keys and a scheduler
warning), and 20k junk ones slowed a real account's batch from 0.55 s to 38 s. Now the
webhook answers 422 naming the event's index and ``account_id`` and stores nothing of the
request; ``publish()`` and the importer refuse the same way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from producers.importer import ImportFileError, import_file
from producers.publish import PublishError, publish
from shared import constants as keys
from shared.account_service.settings import delete_account
from shared.configured_accounts import UNKNOWN_ACCOUNT
from shared.settings import Settings
from tests.producers.helpers import Webhook, event, running_webhook
from tests.support.accounts import configure_accounts


@pytest.fixture(scope="module")
def webhook(redis_server) -> Iterator[Webhook]:  # type: ignore[no-untyped-def]
    with running_webhook(redis_server.url) as server:
        yield server


def _keys(client: redis.Redis) -> set[str]:
    return {str(key) for key in client.scan_iter(count=1000)}


def test_a_signed_event_for_an_unknown_account_is_a_422_naming_account_id_and_stores_nothing(
    webhook: Webhook, r: redis.Redis,
):
    configure_accounts(r, "acme")
    before, size = _keys(r), r.dbsize()
    answer = webhook.post_events([event(1, account="junk-1")], configure=False)
    assert answer.status_code == 422
    body = answer.json()
    assert body["detail"] == ("1 event(s) for accounts that are not configured; nothing of "
                              "this request was stored")
    assert body["errors"] == [{"index": 0, "field": "account_id", "message": UNKNOWN_ACCOUNT,
                               "event_id": "evt-1"}]
    assert (_keys(r), r.dbsize()) == (before, size)
    assert not r.sismember(keys.ACCOUNTS_SET, "junk-1")


def test_a_request_mixing_known_and_unknown_accounts_is_refused_whole_naming_the_unknown_ones(
    webhook: Webhook, r: redis.Redis,
):
    configure_accounts(r, "acme")
    before = _keys(r)
    answer = webhook.post_events(
        [event(1), event(2, account="junk-2"), event(3, account="default"),
         event(4, account="junk-3")], configure=False)
    assert answer.status_code == 422
    assert [(e["index"], e["field"], e["event_id"]) for e in answer.json()["errors"]] == [
        (1, "account_id", "evt-2"), (3, "account_id", "evt-4")]
    assert _keys(r) == before
    assert r.xlen(keys.EVENTS_STREAM) == 0


def test_events_of_a_configured_account_and_of_default_are_still_accepted(
    webhook: Webhook, r: redis.Redis,
):
    configure_accounts(r, "acme")
    answer = webhook.post_events([event(1), event(2, account="default")], configure=False)
    assert (answer.status_code, answer.json()) == (202, {"accepted": 2})
    assert r.xlen(keys.EVENTS_STREAM) == 2


def test_the_events_of_a_deleted_account_are_refused_from_the_moment_it_is_deleted(
    webhook: Webhook, r: redis.Redis,
):
    configure_accounts(r, "acme")
    assert webhook.post_events([event(1)], configure=False).status_code == 202
    delete_account(r, Settings(), "acme")
    answer = webhook.post_events([event(2)], configure=False)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "account_id"
    assert r.xlen(keys.EVENTS_STREAM) == 1


def test_publish_refuses_events_for_an_unknown_account_naming_index_and_account_id(
    redis_url: str, r: redis.Redis,
):
    configure_accounts(r, "acme")
    before = _keys(r)
    with pytest.raises(PublishError) as refused:
        publish([event(1), event(2, account="junk")], redis_url=redis_url)
    assert [(e.index, e.field) for e in refused.value.errors] == [(1, "account_id")]
    assert _keys(r) == before


def test_an_import_for_an_unknown_account_is_refused_whole_before_reading_the_file(
    tmp_path: Path, r: redis.Redis,
):
    path = tmp_path / "export.csv"
    path.write_text("id,email\nC-1,ann@example.com\n")
    with pytest.raises(ImportFileError, match="account 'junk' is not configured; nothing "
                                              "imported"):
        import_file(r, path, "junk")
    assert r.dbsize() == 0
