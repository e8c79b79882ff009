"""``contact-sync run`` with nothing configured: it embeds Redis and the sandbox, generates
a webhook secret, runs every Procfile process, takes a signed event all the way into the
sandbox, and stops all of it on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from cli.procfile import PROJECT_ROOT
from producers.signature import sign
from sandbox.inspect_client import SandboxClient
from shared.redis_client import connect
from shared.redis_server import free_port
from tests.workers.dramatiq_harness import wait_for
from workers.push.lifecycle import last_completed

COMMAND = str(Path(sys.executable).with_name("contact-sync"))
ENV_KEYS = ("REDIS_URL", "KLAVIYO_API_KEY", "KLAVIYO_BASE_URL", "SYNC_WEBHOOK_SECRET", "PORT")


def _missing() -> str | None:
    if not (PROJECT_ROOT / "workers" / "runtime" / "broker.py").exists():
        return "workers/runtime/broker.py (H5) has not landed yet"
    done = subprocess.run([COMMAND, "sandbox", "--help"], capture_output=True, timeout=60)
    if done.returncode != 0:
        return "`contact-sync sandbox` (H1) does not exist yet"
    return None


@pytest.mark.slow
def test_run_embeds_what_is_missing_serves_the_webhook_and_stops_on_sigterm() -> None:
    missing = _missing()
    assert not missing, missing
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    env.update(WORKER_PROCESSES="1", WORKER_THREADS="2", PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [COMMAND, "run", "--port", str(port)], cwd=PROJECT_ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        secret = sandbox = redis_url = None
        deadline = time.monotonic() + 60
        while secret is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"Webhook secret: generated for this run: (\S+)", line)
            secret = found.group(1) if found else None
            embedded = re.search(r"embedded sandbox at (\S+), key (\S+)", line)
            sandbox = SandboxClient(embedded.group(1), embedded.group(2)) if embedded else sandbox
            redis_at = re.search(r"embedded redis-server at (\S+)", line)
            redis_url = redis_at.group(1) if redis_at else redis_url
        assert secret and sandbox and redis_url, "".join(lines)
        # Keep reading in the background through the same buffered reader (communicate()
        # would read the raw pipe and lose what readline() already buffered).
        reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
        reader.start()
        body = json.dumps({"events": [{
            "event_id": "evt-run-1", "account_id": "default", "type": "contact.upserted",
            "occurred_at": "2026-11-22T10:00:00Z",
            "contact": {"id": "C-1", "email": "run@example.com", "marketing": "unknown"}}],
        }).encode()
        answer = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/v1/contact-events", content=body,
                                    headers={"X-Sync-Signature": sign(secret, body),
                                             "Content-Type": "application/json"}, timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert answer is not None and answer.status_code == 202, answer
        # collector -> scheduler -> worker -> the embedded sandbox
        state = connect(redis_url)
        wait_for(lambda: last_completed(state, "default"), timeout=60)
        assert sandbox.profile_by_email("run@example.com")
        assert process.poll() is None
        # To the supervisor only: a group-wide signal (a terminal's Ctrl-C) also reaches the
        # embedded redis-server, which then stops before the processes using it (see report).
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        reader.join(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    output = "".join(lines)
    assert "embedded redis-server" in output and "embedded sandbox" in output
    for name in ("web.1", "collector.1", "scheduler.1", "worker.1", "sandbox.1"):
        assert f"{name} started" in output, output[-3000:]
    assert "SIGTERM received" in output
    assert "Traceback" not in output, output[-3000:]
