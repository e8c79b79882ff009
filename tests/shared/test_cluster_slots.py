"""On a Redis Cluster every Lua script call and every MULTI must touch keys of one slot
(else Redis answers CROSSSLOT). Checked two ways: every registered script's key list,
built from the real key functions of shared/constants.py, through the cluster's slot rule;
and every MULTI of the service found in the source, run on a real cluster."""

from __future__ import annotations

import ast
import time
from collections.abc import Callable

import pytest
import redis
from cryptography.fernet import Fernet
from redis.crc import key_slot
from redis.exceptions import RedisClusterException

from shared import constants as keys
from shared.accounts import AccountStore
from shared.klaviyo.oauth_tokens import (
    OAuthTokens,
    forget_connection,
    mark_reconnect_needed,
    store_connection,
)
from shared.lua_scripts import registered
from shared.redis_cluster import SlotSteps, transaction
from shared.settings import get_settings
from shared.state import account_health
from tests.shared.test_lua_scripts import ROOT, _import_the_service

A, B, C = "acme", "b-20260101", "c-7"
"""An account, a batch and a contact (a chunk) the key lists are built for."""

STATE_SCRIPTS: dict[str, list[str]] = {
    "apply_event.lua": [keys.contact_times(A), keys.pending(A), keys.pending_bulk(A),
                        keys.contact_facets(A), keys.contact(A, "c-1"), keys.contact(A, "c-2")],
    "append_events.lua": [keys.EVENTS_STREAM],
    "rate_limiter.lua": [keys.rate_limit("kx", "profiles", "s1"),
                         keys.rate_limit("kx", "profiles", "m1"),
                         keys.rate_limit_block("kx", "profiles")],
    "upgrade_mirror.lua": [keys.contact_facets(A), keys.contact(A, C)],
    "rejected_replay.lua": [keys.rejected(A), keys.pending(A)],
    "chunk_done.lua": [keys.chunk(A, B, "3"), keys.batch(A, B)],
    "start_batch.lua": [keys.state(A), keys.pending(A), keys.pending_bulk(A),
                        keys.batch_members(A, B), keys.batch_members_bulk(A, B),
                        keys.batch(A, B), keys.batches(A)],
    "complete_batch.lua": [keys.state(A), keys.batch(A, B), keys.batch_members(A, B),
                           keys.batch_members_bulk(A, B), keys.pending(A),
                           keys.pending_bulk(A)],
    "crm_order.lua": [keys.crm_member_queue(A, "L1", "P1"), keys.crm_member_last(A, "L1", "P1"),
                      keys.crm_delivered(A)],
    "crm_outbox_append.lua": [keys.list_members(A, "L1"), keys.subscribers_stream(A)],
    "token_lock.lua": [keys.SCHEDULER_LOCK],
    "ledger.lua": [keys.consent_ledger(A), keys.subscribers_stream(A)],
}
"""Each script's KEYS as its caller builds them (kept beside the callers' code in review:
a new script fails the test below until it is listed here)."""

BROKER_SCRIPTS = {"dlq_replay.lua", "dlq_note.lua"}
"""Scripts on the Dramatiq broker's own keys: they run on the broker's Redis
(``SYNC_BROKER_URL``), which is never a cluster (Dramatiq's Redis broker itself uses
multi-key Lua across its queues)."""

CROSS_SLOT_WRITES = {"_apply", "_if_current", "requeue_all", "store_connection",
                     "forget_connection", "park_refused", "clear_refused", "end_pull"}
"""The functions whose MULTI writes an account and a global index together: they use
:func:`shared.redis_cluster.transaction` (one MULTI per slot on a cluster), or for a
compare-and-set :func:`shared.redis_cluster.after_watched`."""

ONE_SLOT_MULTIS = {
    "_ack_and_trim": "the ingest stream (one key)",
    "_begin": "plan and batch of one account (WATCH)",
    "_commit": "plan, chunks and batch of one account (WATCH)",
    "_email_changes": "batch records and the consent ledger of one account",
    "_look_up": "identity and chunk of one account",
    "_refresh_locked": "the account's config",
    "failed": "one console login counter (one key)",
    "build": "the console's account index and its staged copies (one tag, {:console})",
    "forget_contacts": "the erased contacts' records of one account",
    "finish": "plan and batch of one account (WATCH)",
    "learn": "identity hashes of one account",
    "outstanding": "pending and state of one account",
    "pull_list": "one list cursor",
    "purge": "the broker's Redis (never a cluster)",
    "write_if_unchanged": "one chunk (WATCH)",
}
"""Every other MULTI of the service, and why its keys share a slot (each account's keys
carry ``{account}``)."""


def test_every_registered_scripts_key_list_is_one_cluster_slot() -> None:
    _import_the_service()
    ours = {script.name for script in registered() if ROOT in script.path.parents}
    assert ours == set(STATE_SCRIPTS) | BROKER_SCRIPTS, (
        "a Lua script without its key list here: add how its caller builds KEYS")
    for name, script_keys in STATE_SCRIPTS.items():
        slots = {key_slot(key.encode()) for key in script_keys}
        assert len(slots) == 1, f"{name} touches {len(slots)} slots: {script_keys}"


def test_the_slot_rule_is_the_clusters_own(rc: redis.Redis) -> None:
    """The rule the test above applies is the one the cluster client enforces: a script
    on the keys of two accounts is refused; one on one account's keys runs."""
    script = "return #KEYS"
    assert rc.eval(script, 2, keys.pending(A), keys.state(A)) == 2
    with pytest.raises(RedisClusterException, match=r"same key slot"):
        rc.eval(script, 2, keys.pending(A), keys.pending("other"))


def _multi_functions() -> dict[str, str]:
    """Function name -> file of every ``pipeline(transaction=True)`` / ``pipeline()`` /
    ``transaction(...)`` in the service's source."""
    found: dict[str, str] = {}
    for package in ("shared", "workers", "producers", "cli", "web"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for func in ast.walk(tree):
                if not isinstance(func, ast.FunctionDef):
                    continue
                for call in ast.walk(func):
                    if not isinstance(call, ast.Call):
                        continue
                    name = getattr(call.func, "attr", getattr(call.func, "id", ""))
                    multi = name == "transaction" or (name == "pipeline" and (
                        (not call.args and not call.keywords) or any(
                            k.arg == "transaction" and getattr(k.value, "value", None) is True
                            for k in call.keywords)))
                    if multi and path.name != "redis_cluster.py":
                        found[func.name] = str(path.relative_to(ROOT))
    return found


def test_every_multi_of_the_service_is_accounted_for() -> None:
    found = _multi_functions()
    unknown = set(found) - CROSS_SLOT_WRITES - set(ONE_SLOT_MULTIS)
    assert not unknown, f"a MULTI not checked for the cluster: {sorted(unknown)} " + str(
        {name: found[name] for name in unknown})


def _checked(done: object) -> None:
    assert done


def _cross_slot_writes(client: redis.Redis) -> list[Callable[[], object]]:
    from workers.reverse.state import end_pull

    store = AccountStore(client, get_settings())
    connected: list[OAuthTokens] = []
    tokens = OAuthTokens(access_token="a", refresh_token="r", expires_at=time.time() + 600,
                         scope="profiles:write", lifetime=600)
    return [
        lambda: store.create(A, default_list_id="L1"),
        lambda: store.requeue_all(A),
        lambda: connected.append(
            store_connection(client, A, tokens, Fernet.generate_key().decode())),
        lambda: account_health.park_refused(client, A, "401", "refused", time.time()),
        lambda: account_health.clear_refused(client, A),
        lambda: _checked(mark_reconnect_needed(client, A, str(connected[0].connection),
                                               "invalid_grant")),
        lambda: _checked(client.sismember(keys.REFUSED_ACCOUNTS, A)),
        lambda: forget_connection(client, A),
        lambda: end_pull(client, A, time.time(), 3600),
    ]


def test_the_writes_to_an_account_and_a_global_index_run_on_a_cluster(rc: redis.Redis) -> None:
    for write in _cross_slot_writes(rc):
        write()
    assert rc.sismember(keys.ACCOUNTS_SET, A)
    assert rc.zscore(keys.DUE_PUSH, A) is not None
    assert rc.zscore(keys.DUE_REVERSE, A) is not None
    assert not rc.sismember(keys.REFUSED_ACCOUNTS, A)
    assert rc.hget(keys.pull_state(A), "pull_ended_at")
    assert AccountStore(rc, get_settings()).get(A).default_list_id == "L1"


def test_on_a_cluster_the_global_indexes_are_written_before_the_accounts_own_keys(
        rc: redis.Redis) -> None:
    steps = SlotSteps(rc)
    steps.hset(keys.state(A), "force", "1")
    steps.sadd(keys.ACCOUNTS_SET, A)
    steps.zadd(keys.DUE_PUSH, {A: 0})
    steps.hget(keys.state(A), "force")
    order = steps.steps()
    assert order == [[1], [2], [0, 3]]
    assert steps.execute() == [1, 1, 1, "1"]


def test_on_one_redis_a_transaction_is_still_one_multi(r: redis.Redis) -> None:
    pipe = transaction(r)
    assert isinstance(pipe, redis.client.Pipeline) and vars(pipe)["transaction"] is True
