"""A private local Redis Cluster: N masters with one replica each, on free loopback ports.

Used by the test suite's cluster part (tests/support/redis_cluster.py) and by the benches
(bench/) to run the service against a real cluster: each node is a ``redis-server
--cluster-enabled yes`` in its own directory (AOF on, like :class:`EmbeddedRedis`), joined
with ``redis-cli --cluster create ... --cluster-replicas 1``. :meth:`kill_master_of` SIGKILLs
the master of a slot and waits until its replica has taken over (the cluster's own failover).
:func:`cluster_shape` is the whole cluster shape of the service: the cluster for the state,
a redis-server of its own for the Dramatiq queues, and the environment the processes need.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import redis
from redis.crc import key_slot

from shared.redis_server import (
    REDIS_MISSING,
    STREAM_NODE_MAX_ENTRIES,
    EmbeddedRedis,
    RedisServerNotFound,
    free_port,
    stop_process,
)

BUS_PORT_OFFSET = 10_000
"""A cluster node also listens on its port + 10,000 (the cluster bus)."""
NODE_TIMEOUT_MS = 1_000
"""``cluster-node-timeout``: how long a master may be silent before its replica takes over
(a failover takes about twice this)."""


def free_node_port(taken: set[int]) -> int:
    """A free loopback port whose cluster-bus port (+10,000) exists and is free too."""
    while True:
        port = free_port()
        if port + BUS_PORT_OFFSET > 65_535 or port in taken or port + BUS_PORT_OFFSET in taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + BUS_PORT_OFFSET))
            except OSError:
                continue
        taken.update((port, port + BUS_PORT_OFFSET))
        return port


class ClusterNode:
    """One ``redis-server --cluster-enabled yes`` process of the cluster."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port = port
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, binary: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.directory), "--cluster-enabled", "yes",
             "--cluster-config-file", "nodes.conf",
             "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
             "--stream-node-max-entries", str(STREAM_NODE_MAX_ENTRIES),
             "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=0.5, decode_responses=True)

    def command(self, *args: str) -> Any:
        """One command to this node alone (``CLUSTER INFO``, ``CLUSTER NODES``...), parsed."""
        client = self.client()
        try:
            return client.execute_command(*args)  # type: ignore[no-untyped-call]
        finally:
            client.close()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_process(process)


class EmbeddedRedisCluster:
    """``masters`` masters and as many replicas, started and joined; a context manager."""

    def __init__(self, masters: int = 3, directory: Path | None = None) -> None:
        self._own_dir = directory is None
        self.directory = directory or Path(tempfile.mkdtemp(prefix="contact-sync-cluster-"))
        taken: set[int] = set()
        self.nodes = [ClusterNode(port, self.directory / str(port))
                      for port in (free_node_port(taken) for _ in range(masters * 2))]
        self.masters = masters

    @property
    def url(self) -> str:
        """``redis+cluster://host:port,host:port,...`` naming every node (a client needs
        one that answers; naming them all survives the loss of any one)."""
        return "redis+cluster://" + ",".join(node.address for node in self.nodes)

    def start(self, timeout: float = 30.0) -> EmbeddedRedisCluster:
        binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if binary is None or cli is None:
            raise RedisServerNotFound(REDIS_MISSING)
        atexit.register(self.stop)
        for node in self.nodes:
            node.start(binary)
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            self._wait(partial(node.command, "PING"), deadline, "start")
        subprocess.run(
            [cli, "--cluster", "create", *(node.address for node in self.nodes),
             "--cluster-replicas", "1", "--cluster-yes"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
        self._wait(self._settled, deadline, "settle")
        return self

    def _settled(self) -> bool:
        """Every live node sees the cluster ``ok``, ``masters`` healthy masters, and every
        live replica in sync with its master."""
        for node in self.nodes:
            if not node.alive:
                continue
            if node.command("CLUSTER INFO")["cluster_state"] != "ok":
                return False
            flags = [peer["flags"] for peer in node.command("CLUSTER NODES").values()]
            if sum("master" in f and "fail" not in f for f in flags) != self.masters:
                return False
            replication = node.command("INFO", "replication")
            if (replication["role"] == "slave"
                    and replication.get("master_link_status") != "up"):
                return False
        return True

    @staticmethod
    def _wait(ready: Callable[[], bool], deadline: float, what: str) -> None:
        while True:
            try:
                if ready():
                    return
            except (redis.RedisError, LookupError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Redis Cluster did not {what} in time")
            time.sleep(0.05)

    def live_masters(self) -> list[ClusterNode]:
        """The nodes that are masters now (after any failover)."""
        found = []
        for node in self.nodes:
            if not node.alive:
                continue
            if node.command("INFO", "replication")["role"] == "master":
                found.append(node)
        return found

    def master_of(self, key: str) -> ClusterNode:
        """The live master serving ``key``'s slot."""
        slot = key_slot(key.encode())
        for node in self.live_masters():
            for start, end, master, *_replicas in node.command("CLUSTER SLOTS"):
                if int(start) <= slot <= int(end) and int(master[1]) == node.port:
                    return node
        raise LookupError(f"no live master serves slot {slot}")

    def kill_master_of(self, key: str, timeout: float = 30.0) -> ClusterNode:
        """SIGKILL the master of ``key``'s slot; returns it once a replica serves the slot."""
        victim = self.master_of(key)
        victim.kill()
        deadline = time.monotonic() + timeout
        self._wait(lambda: self.master_of(key) is not victim and self._settled(),
                   deadline, "fail over")
        return victim

    def flushall(self) -> None:
        """Empty every master (replicas follow)."""
        for node in self.live_masters():
            node.command("FLUSHALL")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> EmbeddedRedisCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextmanager
def cluster_shape(masters: int = 3) -> Iterator[tuple[EmbeddedRedisCluster, dict[str, str]]]:
    """A started cluster of ``masters`` masters + as many replicas for the state, a
    redis-server for the Dramatiq queues (a cluster cannot hold them:
    :mod:`shared.broker_redis`), and the environment the processes need on them:
    ``SYNC_BROKER_URL`` (the queues) and ``SYNC_INGEST_SHARDS`` (one ingest stream per
    master). ``REDIS_URL`` is the cluster's :attr:`EmbeddedRedisCluster.url`."""
    with EmbeddedRedisCluster(masters) as cluster, EmbeddedRedis() as queues:
        yield cluster, {"SYNC_BROKER_URL": queues.url, "SYNC_INGEST_SHARDS": str(masters)}
