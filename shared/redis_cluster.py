"""contact-sync's state on a Redis Cluster: the URL that names one, the client, and the
MULTI that may span slots.

``REDIS_URL=redis+cluster://host:port[,host:port...]`` (``rediss+cluster://`` for TLS;
``user:password@`` before the first node, and query options as in a ``redis://`` URL)
names a cluster by some of its nodes; redis-py's :class:`~redis.cluster.RedisCluster`
discovers the rest and follows failovers and slot moves. A single ``redis://`` URL keeps
the one-Redis shape exactly as it was.

Keys and slots. Every key of one account carries ``{account}`` (one slot), so every Lua
script and every MULTI of one account works as on one Redis. A global key (due sets,
registries, heartbeats, the ingest stream of a shard...) has no hash tag, so the whole key
is its slot; no script touches two global keys, or a global key and an account's keys
(tests/shared/test_cluster_slots.py checks every script's key list and every MULTI). The
few writes that update an account AND a global index together (a settings change that
also makes the account due, a refusal that also enters the refused set) go through
:func:`transaction`: on one Redis one MULTI as before; on a cluster one MULTI per slot,
the global indexes first and the account's own keys last. That order keeps at-least-once
safe: a crash between the steps leaves an index pointing at an account with nothing new
(the scheduler looks, finds nothing, moves on), never an account change no index leads to,
and every step is idempotent (set members, sorted-set scores, hash fields), so the caller
repeating the whole write is harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast
from urllib.parse import parse_qsl, unquote

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot
from redis.exceptions import ClusterDownError, ClusterError, SlotNotCoveredError, TryAgainError

from shared.constants import PREFIX

CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")
EXAMPLE_CLUSTER_URL = "redis+cluster://10.0.0.1:6379,10.0.0.2:6379,10.0.0.3:6379"


class ClusterUrlError(ValueError):
    """A ``redis+cluster://`` URL that cannot be used; the message says why."""


def is_cluster_url(url: str | None) -> bool:
    """``url`` names a Redis Cluster (``redis+cluster://`` or ``rediss+cluster://``)."""
    return bool(url) and str(url).startswith(CLUSTER_SCHEMES)


def cluster_options(url: str) -> dict[str, Any]:
    """The startup nodes and connection options of a cluster URL; :class:`ClusterUrlError`."""
    scheme, _, rest = url.partition("://")
    rest, _, query = rest.partition("?")
    rest = rest.rstrip("/")
    options: dict[str, Any] = {"ssl": scheme.startswith("rediss")}
    if "@" in rest:
        credentials, _, rest = rest.rpartition("@")
        user, sep, password = credentials.partition(":")
        if sep:
            options["username"] = unquote(user) or None
            options["password"] = unquote(password)
        else:
            options["password"] = unquote(user)
    nodes = []
    for part in rest.split(","):
        host, sep, port = part.strip().rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ClusterUrlError(
                f"REDIS_URL names a cluster node {part.strip()!r} without host:port; write "
                f"it as {EXAMPLE_CLUSTER_URL}")
        nodes.append(ClusterNode(host, int(port)))  # type: ignore[no-untyped-call]
    if "/" in rest:
        raise ClusterUrlError("REDIS_URL of a Redis Cluster names no database (a cluster "
                              f"has only database 0); e.g. {EXAMPLE_CLUSTER_URL}")
    for name, value in parse_qsl(query):
        options[name] = value
    options["startup_nodes"] = nodes
    return options


def first_node(url: str) -> str:
    """``host:port`` of the first node a cluster URL names (never its password)."""
    rest = url.partition("://")[2].rpartition("@")[2]
    return rest.split(",")[0].partition("?")[0].rstrip("/")


def connect_cluster(url: str) -> redis.Redis:
    """A :class:`RedisCluster` with decoded answers and the short timeouts of a single
    client. Typed as :class:`redis.Redis`: it answers the same commands, and the service
    uses no command that needs one node (SCAN and KEYS are not used on state)."""
    options = cluster_options(url)
    client = RedisCluster(
        decode_responses=True,
        socket_connect_timeout=2,
        socket_timeout=10,
        health_check_interval=15,
        require_full_coverage=True,
        **options,
    )
    return cast(redis.Redis, client)


def is_cluster(client: Any) -> bool:
    """``client`` (or a pipeline of it) talks to a Redis Cluster."""
    return isinstance(client, RedisCluster)


def is_account_key(key: str) -> bool:
    """A key of one account (``sync:{account}:...``), as opposed to a global index."""
    return key.startswith(f"{PREFIX}:{{") and not key.startswith(f"{PREFIX}:{{ratelimit:")


class SlotSteps:
    """A pipeline that records commands and runs them as one MULTI per slot (cluster).

    Each command's first argument is its key (every command written through
    :func:`transaction` is one of those). :meth:`execute` returns the answers in the order
    the commands were given, like a pipeline's."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Callable[..., SlotSteps]:
        if name.startswith("_"):
            raise AttributeError(name)

        def record(*args: Any, **kwargs: Any) -> SlotSteps:
            self._calls.append((name, args, kwargs))
            return self

        return record

    def _key(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        key = args[0] if args else kwargs.get("name", kwargs.get("dest"))
        if not isinstance(key, str | bytes):
            raise TypeError("SlotSteps: every command needs its key first")
        return key.decode() if isinstance(key, bytes) else key

    def steps(self) -> list[list[int]]:
        """The indexes of the recorded commands, one list per slot, in the order they run:
        the slots of global indexes first, the account's own keys last."""
        by_slot: dict[int, list[int]] = {}
        accounts: set[int] = set()
        for index, (_, args, kwargs) in enumerate(self._calls):
            key = self._key(args, kwargs)
            slot = key_slot(key.encode())
            by_slot.setdefault(slot, []).append(index)
            if is_account_key(key):
                accounts.add(slot)
        ordered = sorted(by_slot.items(), key=lambda item: item[0] in accounts)  # stable
        return [indexes for _, indexes in ordered]

    def execute(self) -> list[Any]:
        answers: list[Any] = [None] * len(self._calls)
        for step in self.steps():
            pipe = self._client.pipeline(transaction=True)
            for index in step:
                name, args, kwargs = self._calls[index]
                getattr(pipe, name)(*args, **kwargs)
            for index, answer in zip(step, pipe.execute(), strict=True):
                answers[index] = answer
        self._calls.clear()
        return answers

    def __enter__(self) -> SlotSteps:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._calls.clear()


def after_watched(client: redis.Redis, pipe: Any, watched: str,
                  write: Callable[[Any], None]) -> SlotSteps | None:
    """For a compare-and-set (``WATCH watched`` ... ``MULTI``): queue ``write``'s commands
    in ``pipe``. On a cluster only those of ``watched``'s slot go in ``pipe``; the others
    (global indexes) come back as :class:`SlotSteps` for the caller to run once ``pipe``
    committed (they must not be written when the compare fails). None on one Redis."""
    if not is_cluster(client):
        write(pipe)
        return None
    steps = SlotSteps(client)
    write(steps)
    slot = key_slot(watched.encode())
    rest = SlotSteps(client)
    for name, args, kwargs in steps._calls:
        key = steps._key(args, kwargs)
        target = pipe if key_slot(key.encode()) == slot else rest
        getattr(target, name)(*args, **kwargs)
    return rest


def transaction(client: redis.Redis) -> Any:
    """A MULTI pipeline on one Redis; on a cluster, :class:`SlotSteps` (one MULTI per slot,
    global indexes first). For the writes that touch an account and a global index."""
    if is_cluster(client):
        return SlotSteps(client)
    return client.pipeline(transaction=True)


class NotReplicated(redis.RedisError):
    """No replica confirmed a write within the wait (``WAIT`` answered 0)."""


def on_master_with_replica(client: redis.Redis, key: str, wait_ms: int,
                           write: Callable[[Any], None]) -> list[Any]:
    """Run ``write(pipe)`` (commands on ``key``'s slot) and then ``WAIT 1 wait_ms`` on the
    same connection to the master of ``key``, so the answer means the write is on that
    master and on at least one replica: a failover (which promotes a replica) keeps it.
    Returns the pipeline's answers without WAIT's; :class:`NotReplicated` when no replica
    confirmed in time (the write may then be lost by a failover: the caller refuses the
    request, and a retry is harmless). On one Redis (or ``wait_ms`` 0) it is just the
    pipeline."""
    if not is_cluster(client) or wait_ms <= 0:
        pipe = client.pipeline(transaction=False)
        write(pipe)
        return list(pipe.execute())
    cluster = cast(RedisCluster, client)
    for attempt in (1, 2):
        node = cluster.get_node_from_key(key)  # type: ignore[no-untyped-call]
        pipe = node.redis_connection.pipeline(transaction=False)
        write(pipe)
        pipe.execute_command("WAIT", 1, wait_ms)
        try:
            *answers, replicas = pipe.execute()
        except redis.ResponseError as error:  # MOVED: the slot's master changed
            if attempt == 2 or not str(error).startswith(("MOVED", "ASK", "CLUSTERDOWN")):
                raise
            cluster.nodes_manager.initialize()
            continue
        if int(replicas) < 1:
            raise NotReplicated(f"no replica confirmed the write within {wait_ms} ms")
        return list(answers)
    raise AssertionError("unreachable")


OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    redis.ConnectionError, redis.TimeoutError, ClusterDownError, TryAgainError,
    SlotNotCoveredError, ClusterError)
"""What a long-running process waits out as a Redis outage (with growing waits) rather than
dies of: on a cluster, a failover answers ``CLUSTERDOWN``/``TRYAGAIN`` or leaves a slot
unserved for a second or two."""
