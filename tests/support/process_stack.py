"""The service's real processes, started from the Procfile, for end-to-end tests.

Every process runs the Procfile's own command in its own session (so a SIGKILL of a
``dramatiq`` worker takes its forked children with it, as a killed container would), on the
test's Redis and the Klaviyo sandbox. Output goes to a file per process, read back with
:meth:`ProcessStack.output` when a test fails.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis
from cryptography.fernet import Fernet

from cli.procfile import PROJECT_ROOT, read_procfile
from producers.signature import sign
from shared import constants as keys
from shared.broker_redis import is_rabbitmq_url
from shared.redis_client import connect
from shared.redis_server import free_port
from tests.support.accounts import accounts_of, configure_accounts

HEARTBEATS = keys.dramatiq_queue("__heartbeats__")
STOP_GRACE_S = 30.0


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` until it is truthy; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def contact_event(account: str, contact_id: str, occurred_at: str, *,
                  event_type: str = "contact.upserted", event_id: str | None = None,
                  **contact: Any) -> dict[str, Any]:
    """One event of the webhook contract (docs/ARCHITECTURE.md §1)."""
    return {"event_id": event_id or f"evt-{secrets.token_hex(6)}", "account_id": account,
            "type": event_type, "occurred_at": occurred_at,
            "contact": {"id": contact_id, **contact}}


@dataclass
class Managed:
    """One running process of the stack."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    port: int | None = None


@dataclass
class ProcessStack:
    """Procfile processes on one Redis and one sandbox account; see the module docstring."""

    redis_url: str
    sandbox_url: str
    klaviyo_key: str
    workdir: Path
    secret: str = field(default_factory=lambda: f"whsec-{secrets.token_hex(8)}")
    env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, list[Managed]] = field(default_factory=dict)
    metrics_ports: dict[int, int] = field(default_factory=dict)
    """A web's port -> its ``/metrics`` listener's port."""

    def __post_init__(self) -> None:
        venv_bin = str(Path(sys.executable).parent)
        self.env = {
            **os.environ,
            "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
            "REDIS_URL": self.redis_url,
            "KLAVIYO_BASE_URL": self.sandbox_url,
            "KLAVIYO_API_KEY": self.klaviyo_key,
            "SYNC_WEBHOOK_SECRET": self.secret,
            "SYNC_SECRET_KEY": Fernet.generate_key().decode(),
            "SYNC_INTERVAL": "2",
            "WORKER_PROCESSES": "1",
            "WORKER_THREADS": "2",
            **self.env,
        }
        self.http = httpx.Client(timeout=30)
        self.redis = connect(self.redis_url)
        broker_url = self.env.get("SYNC_BROKER_URL") or self.redis_url
        self.broker = None if is_rabbitmq_url(broker_url) else redis.Redis.from_url(broker_url)
        """The Dramatiq broker's Redis (the state's, unless ``SYNC_BROKER_URL`` is set;
        None on RabbitMQ)."""

    # --- starting and stopping ------------------------------------------------------------
    def start(self, name: str, count: int = 1) -> None:
        """Start ``count`` more of the Procfile process ``name`` and wait until each is ready."""
        for _ in range(count):
            self._spawn(name, len(self.processes.get(name, [])))

    def _spawn(self, name: str, index: int, port: int | None = None) -> Managed:
        command = read_procfile()[name]
        env = dict(self.env)
        if name == "web":
            port = port or free_port()
            env["PORT"] = str(port)
            env.setdefault("SYNC_METRICS_PORT", str(free_port()))  # loopback-only /metrics
            self.metrics_ports[port] = int(env["SYNC_METRICS_PORT"])
        log = self.workdir / f"{name}-{index}.log"
        before = self._heartbeats() if name == "worker" else set()
        with log.open("ab") as out:
            process = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=PROJECT_ROOT,
                                       env=env, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        managed = Managed(name, process, log, port)
        group = self.processes.setdefault(name, [])
        if index < len(group):
            group[index] = managed
        else:
            group.append(managed)
        self._wait_ready(managed, before)
        return managed

    def _wait_ready(self, managed: Managed, heartbeats_before: set[str]) -> None:
        def ready() -> bool:
            if managed.process.poll() is not None:
                raise RuntimeError(f"{managed.name} exited with {managed.process.returncode}:\n"
                                   f"{managed.log.read_text(errors='replace')[-3000:]}")
            if managed.name == "web":
                try:
                    url = f"http://127.0.0.1:{managed.port}/readyz"
                    return httpx.get(url, timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False
            if managed.name == "worker":
                return bool(self._heartbeats() - heartbeats_before)
            if managed.name == "scheduler":
                return bool(self.redis.exists(keys.SCHEDULER_HEARTBEAT))
            return True

        wait_until(ready, 60, f"{managed.name} to be ready")

    def _heartbeats(self) -> set[str]:
        """The workers' heartbeats: Dramatiq's on a broker Redis; on RabbitMQ the workers'
        own in the state (workers/runtime/middleware/worker_heartbeat.py)."""
        if self.broker is not None:
            found: list[bytes] = self.broker.zrange(HEARTBEATS, 0, -1)  # type: ignore[assignment]
            return {member.decode() for member in found}
        beats: list[str] = self.redis.zrange(keys.HEARTBEATS, 0, -1)  # type: ignore[assignment]
        return {member for member in beats if member.startswith("worker:")}

    def kill(self, name: str, index: int = 0, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the process (SIGKILL: to its whole group) and, for SIGKILL, reap it."""
        managed = self.processes[name][index]
        if sig == signal.SIGKILL:
            self._kill_group(managed)
        else:
            managed.process.send_signal(sig)

    def restart(self, name: str, index: int = 0) -> None:
        """Start the same process again (same port for ``web``) after it was killed or stopped."""
        old = self.processes[name][index]
        if old.process.poll() is None:
            self._kill_group(old)
        self._spawn(name, index, port=old.port)

    def stop(self) -> None:
        """SIGTERM every process (like ``docker stop``), SIGKILL what outlives the grace."""
        running = [m for group in self.processes.values() for m in group
                   if m.process.poll() is None]
        for managed in running:
            managed.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for managed in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                managed.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            self._kill_group(managed)
        self.http.close()
        self.redis.close()
        if self.broker is not None:
            self.broker.close()

    @staticmethod
    def _kill_group(managed: Managed) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(managed.process.pid, signal.SIGKILL)
        managed.process.wait(timeout=30)

    # --- looking at it --------------------------------------------------------------------
    def pid(self, name: str, index: int = 0) -> int:
        return self.processes[name][index].process.pid

    def output(self, name: str, index: int = 0) -> str:
        """What the process printed so far (stdout and stderr)."""
        return self.processes[name][index].log.read_text(errors="replace")

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.processes['web'][0].port}"

    @property
    def metrics_url(self) -> str:
        """The first web's own ``/metrics`` listener (``SYNC_METRICS_PORT``, loopback)."""
        port = self.processes["web"][0].port
        assert port is not None
        return f"http://127.0.0.1:{self.metrics_ports[port]}"

    def configure_accounts(self, *names: str) -> None:
        """Create the accounts the test sends events for (the webhook refuses others)."""
        configure_accounts(self.redis, *names)

    def post_events(self, events: list[dict[str, Any]], *, secret: str | None = None,
                    configure: bool = True) -> httpx.Response:
        """A signed ``POST /v1/contact-events``, as the CRM sends it; the events'
        accounts are created first unless ``configure`` is false."""
        if configure:
            self.configure_accounts(*accounts_of(events))
        body = orjson.dumps({"events": events})
        headers = {"X-Sync-Signature": sign(secret or self.secret, body),
                   "Content-Type": "application/json"}
        return self.http.post(f"{self.web_url}/v1/contact-events", content=body,
                              headers=headers)

    def __enter__(self) -> ProcessStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

