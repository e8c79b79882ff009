"""``contact-sync web`` as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

from producers.signature import sign
from shared.redis_server import free_port

COMMAND = str(Path(sys.executable).with_name("contact-sync"))


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SYNC_WEBHOOK_SECRET", "REDIS_URL", "PORT")}
    return {**env, **values}


def test_web_refuses_to_start_without_a_webhook_secret(redis_url: str):
    done = subprocess.run([COMMAND, "web"], env=_env(REDIS_URL=redis_url),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "SYNC_WEBHOOK_SECRET is not set" in done.stderr


def test_web_refuses_to_start_without_redis_url():
    done = subprocess.run([COMMAND, "web"], env=_env(SYNC_WEBHOOK_SECRET="s"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "REDIS_URL is not set" in done.stderr


def test_web_listens_on_port_from_the_environment_and_stores_signed_events(
    redis_url: str, test_account: str,
):
    port = free_port()
    process = subprocess.Popen(
        [COMMAND, "web", "--host", "127.0.0.1"],
        env=_env(REDIS_URL=redis_url, SYNC_WEBHOOK_SECRET="s1", PORT=str(port)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "web did not start"
            time.sleep(0.1)
        body = orjson.dumps({"events": [{
            "event_id": "e-1", "account_id": "acme", "type": "contact.deleted",
            "occurred_at": "2026-11-22T10:00:00Z", "contact": {"id": "C-1"}}]})
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/contact-events", content=body,
                            headers={"X-Sync-Signature": sign("s1", body)})
        assert answer.status_code == 202
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert b"Traceback" not in output
