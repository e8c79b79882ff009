"""A real ``contact-sync web`` process for the security tests, its output in a file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from shared.redis_server import free_port

COMMAND = str(Path(sys.executable).with_name("contact-sync"))


@contextmanager
def running_web(env: dict[str, str], log: Path, timeout: float = 60) -> Iterator[int]:
    """``contact-sync web`` on a free port with ``env`` added to a clean environment (no
    ``SYNC_*``/``SENTRY_*`` of the caller's); yields the port once /healthz answers."""
    with web_process(env, log, timeout) as (port, _process):
        yield port


@contextmanager
def web_process(env: dict[str, str], log: Path,
                timeout: float = 60) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """:func:`running_web`, yielding the port and the process."""
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SYNC_", "SENTRY_"))}
    full = {**base, "PORT": str(port), "PYTHONUNBUFFERED": "1",
            "SYNC_METRICS_PORT": str(free_port()), **env}
    with log.open("wb") as out:
        process = subprocess.Popen([COMMAND, "web", "--host", "127.0.0.1"], env=full,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"web did not start: {log.read_text()}"
            time.sleep(0.1)
        yield port, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
