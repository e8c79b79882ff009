"""With ``dramatiq_prom_port`` set (as in docker-compose), each worker host serves Dramatiq's
own Prometheus metrics: messages processed per actor show up after a message runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import redis

from cli.procfile import PROJECT_ROOT
from shared.redis_server import free_port
from tests.ops.test_worker_shutdown import done, send
from tests.workers.dramatiq_harness import wait_for

DRAMATIQ = str(Path(sys.executable).with_name("dramatiq"))


def test_a_worker_serves_dramatiq_metrics_when_its_port_is_set(
        r: redis.Redis, redis_url: str, tmp_path: Path) -> None:
    queue, port = f"slow_{uuid.uuid4().hex[:8]}", free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "SLOW_QUEUE": queue, "SLOW_SECONDS": "0",
           "dramatiq_prom_port": str(port), "dramatiq_prom_host": "127.0.0.1",
           "dramatiq_prom_db": str(tmp_path / "prom")}
    worker = subprocess.Popen(
        [DRAMATIQ, "tests.ops.slow_actor_app", "--processes", "1", "--threads", "1"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        send(redis_url, queue, 2)
        wait_for(lambda: len(done(r, queue)) == 2)

        def scraped() -> str | None:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                return None
            return text if 'actor_name="slow"' in text else None

        text = wait_for(scraped)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    line = next(line for line in text.splitlines()
                if line.startswith("dramatiq_messages_total") and 'actor_name="slow"' in line)
    assert float(line.rsplit(" ", 1)[1]) == 2
