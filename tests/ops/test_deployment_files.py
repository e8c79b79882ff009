"""The Procfile and docker-compose.yml describe the same processes, and each Procfile
command really starts against a real Redis and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from cli.procfile import PROCFILE, PROJECT_ROOT, read_procfile
from shared.redis_server import free_port

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
DEFAULT_ONLY = re.compile(r"\$\{(\w+):-([^}]*)\}")
BIN = Path(sys.executable).parent


def with_defaults(command: str) -> str:
    """``${VAR:-default}`` -> ``default``: what both compose and sh make of an unset VAR."""
    return DEFAULT_ONLY.sub(lambda match: match.group(2), command)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def test_compose_runs_the_procfile_processes_with_the_same_commands(compose):
    procfile = read_procfile()
    assert list(procfile) == ["web", "collector", "scheduler", "worker"]
    services = compose["services"]
    for name, command in procfile.items():
        assert with_defaults(services[name]["command"]) == with_defaults(command), name


def test_compose_redis_persists_with_aof_on_a_named_volume(compose):
    redis = compose["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--appendfsync everysec" in command
    volume = redis["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]
    assert redis["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]


def test_compose_worker_can_be_scaled_and_web_is_health_checked(compose):
    services = compose["services"]
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    for name in ("web", "collector", "scheduler", "worker"):
        environment = services[name]["environment"]
        assert environment["REDIS_URL"] == "redis://redis:6379/0", name
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_compose_keeps_the_sandbox_behind_a_profile(compose):
    sandbox = compose["services"]["sandbox"]
    assert sandbox["profiles"] == ["sandbox"]
    assert sandbox["command"].startswith("contact-sync sandbox ")


def _command_missing(command: str) -> str | None:
    """Why the process cannot start yet in this tree (another area not landed), or None."""
    # The worker runs the actors; the scheduler enqueues to the batch actor.
    needs = {"dramatiq ": ["workers/broker.py", "workers/actors/batch.py"],
             "contact-sync scheduler": ["workers/broker.py", "workers/actors/batch.py"]}
    for prefix, paths in needs.items():
        for path in paths:
            if command.startswith(prefix) and not (PROJECT_ROOT / path).exists():
                return f"{path} (H5) has not landed yet"
    if command.startswith("contact-sync "):
        probe = [str(BIN / "contact-sync"), command.split()[1], "--help"]
        done = subprocess.run(probe, cwd=PROJECT_ROOT, capture_output=True, timeout=60)
        if done.returncode != 0:
            return f"`contact-sync {command.split()[1]}` does not exist yet"
    return None


def _wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("web never answered /healthz")


READY = {"collector": b"started", "scheduler": b"scheduler started",
         "worker": b"ready for action"}
"""What each process logs once it is in its loop (and its signal handlers are set)."""


@pytest.mark.parametrize("name", list(read_procfile(PROCFILE)))
def test_procfile_command_starts_against_redis_and_stops_on_sigterm(name, redis_url):
    command = read_procfile()[name]
    missing = _command_missing(command)
    assert not missing, missing
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PORT": str(port),
        "REDIS_URL": redis_url,
        "SYNC_WEBHOOK_SECRET": "test-secret-for-process-start",
        "KLAVIYO_API_KEY": "pk_test_not_called",
        "KLAVIYO_BASE_URL": f"http://127.0.0.1:{free_port()}",
        "WORKER_PROCESSES": "1",
        "WORKER_THREADS": "2",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        ["sh", "-c", f"exec {command}"], cwd=PROJECT_ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        if name == "web":
            _wait_healthy(port, process)
        else:  # until it says it is in its loop (imports take a while on a loaded machine)
            deadline = time.monotonic() + 60
            while READY[name] not in b"".join(lines) and process.poll() is None:
                assert time.monotonic() < deadline, f"{name} never said {READY[name]!r}"
                time.sleep(0.1)
        if process.poll() is not None:
            reader.join(timeout=10)
            output = b"".join(lines).decode(errors="replace")
            raise AssertionError(f"{name} exited early ({process.returncode}): {output[-2000:]}")
        process.send_signal(signal.SIGTERM)  # to the process, as docker stop does
        process.wait(timeout=60)
        reader.join(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    output = b"".join(lines)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-2000:]
    assert "Traceback" not in text, text[-2000:]
