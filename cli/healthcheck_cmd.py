"""``contact-sync healthcheck KIND``: the container health checks of docker-compose.yml.

What each kind's check proves, no more:

* ``web``, ``collector``, ``scheduler``: a process of that kind *on this host* (the
  container's hostname) wrote its heartbeat into Redis within the last 30 s
  (:mod:`shared.state.heartbeats`: they beat from their main loops, so a process stuck
  outside its loop, or cut off from Redis, turns unhealthy).
* ``worker``: Dramatiq's heartbeats name broker ids, not hosts, so a worker container
  cannot find its own. It checks that process ``--pid`` (1: the container's main process)
  runs ``dramatiq`` and still has at least one worker child process, and that Redis holds
  a Dramatiq heartbeat younger than 30 s (from some worker, not necessarily this one).
  With a RabbitMQ broker (no Dramatiq heartbeats) the workers beat into the state like
  the other kinds, so the last check is a worker of this host's heartbeat.

One line on stdout, exit 0 when healthy, 1 when not (Redis unreachable included).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Annotated, Any

import redis
import typer

from shared import constants as keys
from shared.broker_redis import BrokerNotConfigured, broker_redis
from shared.redis_client import connect, describe_redis_error
from shared.redis_text import as_text
from shared.settings import get_settings
from shared.state.heartbeats import ALIVE_S

KINDS = ("web", "collector", "scheduler", "worker")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(pid) and fields[0] != "Z":  # state, ppid; zombies are dead
            found.append(int(stat.parent.name))
    return found


def _own_heartbeat(client: redis.Redis, kind: str, now: float) -> str | None:
    """Why this host's ``kind`` is unhealthy, or ``None``."""
    prefix = f"{kind}:{socket.gethostname()}:"
    beats: Any = client.zrangebyscore(keys.HEARTBEATS, now - ALIVE_S, "+inf", withscores=True)
    fresh = [score for member, score in beats if as_text(member).startswith(prefix)]
    if fresh:
        return None
    return f"no heartbeat from a {kind} on {socket.gethostname()} in the last {ALIVE_S:.0f} s"


def _worker(client: redis.Redis, pid: int, now: float) -> str | None:
    if "dramatiq" not in _cmdline(pid):
        return f"process {pid} is not a dramatiq worker ({_cmdline(pid)[:80] or 'not running'})"
    if not _children(pid):
        return f"dramatiq (process {pid}) has no worker processes left"
    broker = broker_redis(client)
    if broker is None:  # RabbitMQ
        return _own_heartbeat(client, "worker", now)
    if not broker.zcount(keys.dramatiq_heartbeats(), (now - ALIVE_S) * 1000, "+inf"):
        return f"no Dramatiq worker heartbeat in Redis in the last {ALIVE_S:.0f} s"
    return None


def healthcheck(
    kind: Annotated[str, typer.Argument(help="web, collector, scheduler or worker.")],
    pid: Annotated[int, typer.Option(
        "--pid", help="worker only: the dramatiq process to look at (1 in a container).")] = 1,
) -> None:
    """Exit 0 when this container's process of KIND is healthy (see the module doc:
    heartbeats for web, collector and scheduler; a live dramatiq with worker children and a
    fresh Dramatiq heartbeat for worker)."""
    if kind not in KINDS:
        typer.echo(f"unhealthy: unknown kind {kind!r}; use one of {', '.join(KINDS)}")
        raise typer.Exit(1)
    settings = get_settings()
    if not settings.redis_url:
        typer.echo("unhealthy: REDIS_URL is not set")
        raise typer.Exit(1)
    try:
        client = connect(settings.redis_url)
        now = time.time()
        problem = _worker(client, pid, now) if kind == "worker" else (
            _own_heartbeat(client, kind, now))
    except (redis.RedisError, ValueError) as error:
        problem = describe_redis_error(error, settings.redis_url)
    except BrokerNotConfigured as error:
        problem = str(error)
    if problem:
        typer.echo(f"unhealthy: {problem}")
        raise typer.Exit(1)
    typer.echo(f"healthy: {kind}")
