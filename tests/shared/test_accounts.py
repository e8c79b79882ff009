"""Accounts: the environment's default overlaid by stored changes, encrypted keys, the
change log, and the bulk re-evaluation after a filter change."""

from __future__ import annotations

import pytest
import redis
from cryptography.fernet import Fernet

from shared import constants as keys
from shared.account_service.errors import Conflict, NotFound
from shared.account_service.settings import delete_account
from shared.accounts import AccountError, AccountStore, UnknownAccount, filters_changed
from shared.secrets_box import SecretKeyMissing
from shared.settings import Settings

SECRET = Fernet.generate_key().decode()
KEY = "pk_live_abcdef1234567890"


def settings(**env: object) -> Settings:
    base: dict[str, object] = {"SYNC_SECRET_KEY": SECRET, "KLAVIYO_BASE_URL": "http://sandbox"}
    return Settings(**{**base, **env})  # type: ignore[arg-type]


def test_default_account_is_the_environment(r: redis.Redis) -> None:
    store = AccountStore(r, settings(SYNC_CONTACT_ROLES="Buyer, Decision Maker",
                                     SYNC_MAX_BULK_EXPORT="500", SYNC_INTERVAL="60"))
    config = store.get("default")
    assert config.contact_roles == ["Buyer", "Decision Maker"]
    assert config.company_types is None
    assert config.max_bulk_export == 500
    assert config.interval == 60
    assert config.klaviyo_api_key is None
    assert config.unsyncable_reason is None
    assert store.names() == ["default"]


def test_stored_changes_win_over_the_environment_and_are_logged_with_time(
    r: redis.Redis,
) -> None:
    store = AccountStore(r, settings(SYNC_CONTACT_ROLES="Buyer", SYNC_INTERVAL="900"))
    store.set("default", interval=30, default_list_id="LIST1")
    config = store.get("default")
    assert config.interval == 30
    assert config.default_list_id == "LIST1"
    assert config.contact_roles == ["Buyer"]  # untouched: still the environment's
    assert config.updated_at is not None
    log = store.change_log("default")
    assert {(e["field"], e["before"], e["after"]) for e in log} == {
        ("interval", 900.0, 30.0),
        ("default_list_id", None, "LIST1"),
    }
    assert all(e["at"] > 1_700_000_000 for e in log)
    # A new process with the same environment sees the stored change too.
    assert AccountStore(r, settings(SYNC_INTERVAL="900")).get("default").interval == 30


def test_an_unchanged_value_is_not_logged_again(r: redis.Redis) -> None:
    store = AccountStore(r, settings())
    store.set("default", max_bulk_export=10)
    store.set("default", max_bulk_export=10)
    assert len(store.change_log("default")) == 1


def test_klaviyo_keys_are_encrypted_at_rest(r: redis.Redis) -> None:
    store = AccountStore(r, settings())
    store.add("acme", KEY, contact_roles="Buyer", interval=120)
    raw = r.hgetall(keys.account_config("acme"))
    assert KEY not in str(raw)
    assert "1234567890" not in str(r.lrange(keys.account_config_log("acme"), 0, -1))
    config = store.get("acme")
    assert config.klaviyo_api_key is not None
    assert config.klaviyo_api_key.get_secret_value() == KEY
    assert KEY not in repr(config) and KEY not in str(config.public_view())
    assert config.public_view()["klaviyo_key"] == "set"
    assert store.names() == ["acme", "default"]


def test_adding_an_account_without_a_secret_key_is_refused(r: redis.Redis) -> None:
    store = AccountStore(r, settings(SYNC_SECRET_KEY=None))
    with pytest.raises(SecretKeyMissing, match="SYNC_SECRET_KEY is not set"):
        store.add("acme", KEY)
    assert not r.exists(keys.account_config("acme"))


def test_bad_settings_are_refused_naming_the_field(r: redis.Redis) -> None:
    store = AccountStore(r, settings())
    with pytest.raises(AccountError, match="max_bulk_export"):
        store.add("acme", KEY, max_bulk_export=-1)
    with pytest.raises(AccountError, match="interval"):
        store.set("default", interval="soon")
    with pytest.raises(AccountError, match=r"klaviyo_base_url: .*http"):
        store.set("default", klaviyo_base_url="a.klaviyo.com")
    with pytest.raises(AccountError, match="invalid account name"):
        store.add("{evil}", KEY)
    with pytest.raises(AccountError, match="already exists"):
        store.add("acme", KEY)
        store.add("acme", KEY)


def test_unknown_accounts_are_an_error_and_event_only_accounts_are_not_syncable(
    r: redis.Redis,
) -> None:
    store = AccountStore(r, settings())
    with pytest.raises(UnknownAccount, match="accounts add nobody"):
        store.get("nobody")
    with pytest.raises(UnknownAccount):
        store.set("nobody", interval=5)
    r.sadd(keys.ACCOUNTS_SET, "seen")  # what the collector does for an account's first event
    config = store.get("seen")
    assert not config.configured
    assert config.unsyncable_reason is not None and "accounts add seen" in config.unsyncable_reason


def test_deleting_an_account_forgets_its_key_and_state(r: redis.Redis) -> None:
    store = AccountStore(r, settings())
    store.add("acme", KEY)
    r.zadd(keys.pending("acme"), {"C-1": 1.0})
    r.zadd(keys.contact_times("acme"), {"C-1": 1.0})
    r.hset(keys.contact_facets("acme"), "~ready", 1)
    r.set(keys.contact("acme", "C-1"), "{}")
    delete_account(r, settings(), "acme")
    assert store.names() == ["default"]
    with pytest.raises(UnknownAccount):
        store.get("acme")
    assert list(r.scan_iter(match="sync:{acme}:*")) == []
    with pytest.raises(Conflict, match="cannot be deleted"):
        delete_account(r, settings(), "default")
    with pytest.raises(NotFound):
        delete_account(r, settings(), "acme")


def test_deleting_an_account_forgets_its_undelivered_consent_changes(r: redis.Redis) -> None:
    from shared.identity import IdentityMap
    from workers.reverse.crm_order import MemberOrder

    AccountStore(r, settings()).add("acme", KEY)
    IdentityMap(r, "acme").learn(emails={"ann@example.com": "P-1", "bob@example.com": "P-2"})
    order = MemberOrder(r, "acme")
    change = {"list_id": "", "profile_id": "P-1"}  # a consent.changed entry's member
    assert order.join("1-0", change) and not order.join("2-0", change)
    order.settle("1-0", change, now=1.0, accepted=True)  # the next one waits, undelivered
    assert r.exists(keys.crm_member_queue("acme", "", "P-1"))
    delete_account(r, settings(), "acme")
    assert list(r.scan_iter(match="sync:{acme}:*")) == []


def test_filters_changed_compares_roles_and_company_types_only(r: redis.Redis) -> None:
    store = AccountStore(r, settings())
    before = store.get("default")
    assert filters_changed(before, store.set("default", contact_roles="Buyer"))
    before = store.get("default")
    assert not filters_changed(before, store.set("default", interval=5))
    assert filters_changed(before, store.set("default", company_types=["Customer"]))
    assert store.get("default").company_types == ["Customer"]
    store.set("default", company_types="*")
    assert store.get("default").company_types is None


def test_a_filter_change_requeues_every_mirrored_contact_as_bulk(r: redis.Redis) -> None:
    from tests.workers.collector_helpers import event, publish
    from workers.intake.collector import Collector

    store = AccountStore(r, settings())
    store.add("acme", KEY, contact_roles="Buyer")
    publish(r, *[event(f"C-{n}", 100 + n) for n in range(5)])
    while Collector(r, "c1", block_ms=0).run_once():
        pass
    r.delete(keys.pending("acme"))  # as if a batch took them
    r.zadd(keys.pending("acme"), {"C-4": 104})  # one is pending one by one
    store.set("acme", interval=5, max_bulk_export=2)  # not a filter change
    assert r.zcard(keys.pending("acme")) == 1 and r.zcard(keys.pending_bulk("acme")) == 0
    store.set("acme", contact_roles="Buyer,Engineer")
    expected = [(f"C-{n}", 100.0 + n) for n in range(5)]  # scored by occurred_at
    assert r.zrange(keys.pending("acme"), 0, -1, withscores=True) == expected
    assert r.zrange(keys.pending_bulk("acme"), 0, -1, withscores=True) == expected


def test_the_default_accounts_phone_region_is_the_environments_until_changed(
    r: redis.Redis,
) -> None:
    store = AccountStore(r, settings(SYNC_PHONE_REGION="gb"))
    assert store.get("default").phone_region == "GB"
    assert store.get("default").public_view()["phone_region"] == "GB"
    store.set("default", phone_region="us")
    assert store.get("default").phone_region == "US"
    assert AccountStore(r, settings(SYNC_PHONE_REGION="GB")).get("default").phone_region == "US"
    assert ("phone_region", "GB", "US") in {
        (e["field"], e["before"], e["after"]) for e in store.change_log("default")}


def test_an_empty_phone_region_clears_it_even_over_the_environment(r: redis.Redis) -> None:
    store = AccountStore(r, settings(SYNC_PHONE_REGION="GB"))
    assert store.set("default", phone_region="").phone_region is None
    assert store.get("default").phone_region is None


def test_each_account_keeps_its_own_phone_region(r: redis.Redis) -> None:
    store = AccountStore(r, settings(SYNC_PHONE_REGION="GB"))
    assert store.add("acme", KEY).phone_region is None  # the environment is the default's
    store.add("globex", KEY, phone_region="de")
    assert store.get("globex").phone_region == "DE"
    assert store.set("acme", phone_region="FR").phone_region == "FR"
    assert store.get("default").phone_region == "GB"


def test_a_phone_region_that_is_not_a_country_code_is_refused_naming_the_field(
    r: redis.Redis,
) -> None:
    store = AccountStore(r, settings())
    for bad in ("UK", "GBR", "xx", 44):
        with pytest.raises(AccountError, match=r"phone_region: .*two-letter ISO 3166"):
            store.set("default", phone_region=bad)
    with pytest.raises(AccountError, match="phone_region"):
        store.add("acme", KEY, phone_region="England")
    assert not r.exists(keys.account_config("acme"))
    assert store.get("default").phone_region is None


def test_an_unknown_phone_region_in_the_environment_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match=r"SYNC_PHONE_REGION[\s\S]*two-letter ISO 3166"):
        settings(SYNC_PHONE_REGION="UK")
    assert settings(SYNC_PHONE_REGION="").phone_region is None


def test_a_new_account_logs_only_the_settings_it_was_given_not_its_defaults(
        r: redis.Redis) -> None:
    store = AccountStore(r, settings())
    store.create("delta", default_list_id=None, contact_roles=None, max_bulk_export=0,
                 interval=60)
    log = store.change_log("delta")
    assert [(e["field"], e["before"], e["after"]) for e in log] == [("interval", None, 60.0)]
    assert store.get("delta").interval == 60 and store.get("delta").default_list_id is None
    store.set("delta", default_list_id=None, interval=60)
    assert len(store.change_log("delta")) == 1
