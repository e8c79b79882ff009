"""Collecting everything the service writes outside its data (logs, Sentry envelopes,
Dramatiq messages, CLI output, the whole of Redis) so a test can scan it for personal data
and secrets."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from cli.procfile import PROJECT_ROOT
from shared import constants as keys

CONTACT_SYNC = str(Path(sys.executable).with_name("contact-sync"))


def dump_keys(client: redis.Redis, pattern: str = "*") -> dict[str, str]:
    """Every key matching ``pattern`` with its whole value as text (any Redis type)."""
    found: dict[str, str] = {}
    for raw in client.scan_iter(match=pattern, count=1000):
        name = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        kind = client.type(raw)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        value: object
        if kind == "string":
            value = client.get(raw)
        elif kind == "hash":
            value = client.hgetall(raw)
        elif kind == "list":
            value = client.lrange(raw, 0, -1)
        elif kind == "set":
            value = client.smembers(raw)
        elif kind == "zset":
            value = client.zrange(raw, 0, -1, withscores=True)
        elif kind == "stream":
            value = client.xrange(raw)
        else:
            continue  # gone meanwhile
        found[name] = _text(value)
    return found


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return " ".join(f"{_text(k)}={_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return " ".join(_text(item) for item in value)
    return str(value)


class DramatiqSnapshots:
    """Snapshots of every Dramatiq key (queues, delay queues, message hashes, dead letters)
    taken every ``every_s`` seconds in a thread: messages live only briefly."""

    def __init__(self, redis_url: str, every_s: float = 0.05) -> None:
        self.client = redis.Redis.from_url(redis_url)
        self.every_s = every_s
        self.seen: dict[str, set[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.take()

    def take(self) -> None:
        for name, text in dump_keys(self.client, f"{keys.DRAMATIQ_NAMESPACE}*").items():
            self.seen.setdefault(name, set()).add(text)

    def text(self) -> str:
        return "\n".join(f"{name}: {text}" for name, texts in self.seen.items()
                         for text in texts)

    @contextmanager
    def running(self) -> Iterator[DramatiqSnapshots]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=10)
            self.take()
            self.client.close()


def cli(env: dict[str, str], *args: str) -> str:
    """``contact-sync ARGS`` with ``env``; its stdout and stderr, whatever its exit code."""
    done = subprocess.run([CONTACT_SYNC, *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    return f"$ contact-sync {' '.join(args)} (exit {done.returncode})\n{done.stdout}{done.stderr}"


def leaks(sources: dict[str, str], secrets: Iterable[str]) -> list[str]:
    """``"<source>: <secret>"`` for every secret found in a source."""
    return [f"{name}: {secret}" for name, text in sources.items() for secret in secrets
            if secret in text]
