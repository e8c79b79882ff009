"""An embedded, private ``redis-server`` for when ``REDIS_URL`` is unset.

Used by ``contact-sync demo``/``run`` and by the test suite alike: a free port, its own
directory, AOF on (``appendfsync everysec``), stopped on exit.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

REDIS_MISSING = (
    "redis-server was not found on PATH. Install it (Debian/Ubuntu: "
    "'sudo apt-get install redis-server'; macOS: 'brew install redis') or set REDIS_URL "
    "to a running Redis."
)


class RedisServerNotFound(RuntimeError):
    """No ``redis-server`` binary is available."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[bytes] | None, grace: float = 10.0) -> None:
    """SIGTERM a server process, SIGKILL it if it is still there after ``grace`` seconds."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
STREAM_NODE_MAX_ENTRIES = 1
"""Redis keeps the bytes of a stream entry that XDEL or XTRIM removed until every entry of
its node (100 by default) is gone, in memory and in snapshots; an erased contact's events
must leave at once."""


class EmbeddedRedis:
    """A private redis-server process. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        port: int | None = None,
        directory: Path | None = None,
        appendfsync: str = "everysec",
    ) -> None:
        self.port = port or free_port()
        self._own_dir = directory is None
        self.directory = directory or Path(tempfile.mkdtemp(prefix="contact-sync-redis-"))
        self.appendfsync = appendfsync
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisServerNotFound(REDIS_MISSING)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.directory),
                "--appendonly", "yes",
                "--appendfsync", self.appendfsync,
                "--save", "",
                "--daemonize", "no",
                "--loglevel", "warning",
                # one entry per stream node: a deleted or trimmed entry's bytes leave memory
                # (and snapshots) at once, not when its whole node is gone (erasure,
                # docs/OPERATIONS.md "Redis")
                "--stream-node-max-entries", str(STREAM_NODE_MAX_ENTRIES),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session: a Ctrl-C in the terminal reaches the processes that use this
            # Redis, which shut down cleanly, and not the server first; stop() ends it last.
            start_new_session=True,
        )
        atexit.register(self.stop)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)
            finally:
                client.close()
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove its directory if it made it."""
        process, self.process = self.process, None
        stop_process(process)
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL the server, keeping its directory (AOF) for a restart on the same port."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
