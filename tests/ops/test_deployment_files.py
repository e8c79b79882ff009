"""The Procfile and docker-compose.yml describe the same processes, and each Procfile
command really starts against a real Redis and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import re
import shutil
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


def test_compose_runs_the_procfile_processes_with_the_same_commands(
        compose: dict[str, Any]) -> None:
    procfile = read_procfile()
    assert list(procfile) == ["web", "collector", "scheduler", "worker"]
    services = compose["services"]
    for name, command in procfile.items():
        assert with_defaults(services[name]["command"]) == with_defaults(command), name


def test_compose_redis_persists_with_aof_on_a_named_volume(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--appendfsync everysec" in command
    volume = redis["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]
    assert redis["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]


def test_compose_worker_can_be_scaled_and_web_is_health_checked(compose: dict[str, Any]) -> None:
    services = compose["services"]
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    for name in ("web", "collector", "scheduler", "worker"):
        environment = services[name]["environment"]
        assert environment["REDIS_URL"] == "redis://redis:6379/0", name
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_compose_keeps_the_sandbox_behind_a_profile(compose: dict[str, Any]) -> None:
    sandbox = compose["services"]["sandbox"]
    assert sandbox["profiles"] == ["sandbox"]
    assert sandbox["command"].startswith("contact-sync sandbox ")


def test_compose_publishes_neither_metrics_nor_the_sandbox_beyond_this_machine(
        compose: dict[str, Any]) -> None:
    """Issue 19 (findings 6, 9): /metrics names every tenant; the sandbox accepts any key."""
    published = {name: [str(port) for port in service.get("ports", [])]
                 for name, service in compose["services"].items()}
    assert not [port for ports in published.values() for port in ports if "9464" in port]
    assert compose["services"]["web"]["environment"]["SYNC_METRICS_PORT"] == "9464"
    assert published["sandbox"] == ["127.0.0.1:8080:8080"]


def test_compose_config_is_valid_for_docker_compose() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root")}
    for extra in ([], ["--profile", "sandbox"]):
        done = subprocess.run([binary, "-f", str(COMPOSE), *extra, "config", "-q"],
                              cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stderr


def test_secrets_stay_out_of_git_and_out_of_the_image() -> None:
    ignored = subprocess.run(["git", "check-ignore", ".env", ".env.production"],
                             cwd=PROJECT_ROOT, capture_output=True, text=True, check=False,
                             timeout=30)
    assert ignored.stdout.split() == [".env", ".env.production"], ignored.stderr
    docker = {line.strip() for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()}
    assert {".env", ".env.*", ".venv", ".git", "**/__pycache__", ".pytest_cache",
            ".mypy_cache", ".ruff_cache", ".hypothesis"} <= docker
    assert "COPY . ." in (PROJECT_ROOT / "Dockerfile").read_text()


def test_the_dockerfile_pins_the_uv_image_to_a_release() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    images = re.findall(r"ghcr\.io/astral-sh/uv:(\S+)", dockerfile)
    assert images, "the uv image is not copied from"
    for tag in images:
        assert re.fullmatch(r"\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?", tag), tag


def test_compose_health_checks_collector_scheduler_and_worker(compose: dict[str, Any]) -> None:
    for name in ("collector", "scheduler", "worker"):
        check = compose["services"][name]["healthcheck"]
        assert check["test"] == ["CMD", "contact-sync", "healthcheck", name], name
        assert check["interval"] and check["retries"] >= 1, name


def _healthcheck(compose: dict[str, Any], name: str, env: dict[str, str],
                 pid: int) -> subprocess.CompletedProcess[str]:
    """The service's compose health check, run as Docker would (``--pid``: outside a
    container the worker's dramatiq is not process 1)."""
    command = [str(BIN / part) if part == "contact-sync" else part
               for part in compose["services"][name]["healthcheck"]["test"][1:]]
    if name == "worker":
        command += ["--pid", str(pid)]
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def _command_missing(command: str) -> str | None:
    """Why the process cannot start yet in this tree (another area not landed), or None."""
    # The worker runs the actors; the scheduler enqueues to the batch actor.
    needs = {"dramatiq ": ["workers/broker.py", "workers/dramatiq_app.py"],
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
def test_procfile_command_starts_against_redis_and_stops_on_sigterm(
        name: str, redis_url: str, compose: dict[str, Any]) -> None:
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
        if name != "web":  # web's check is /healthz, waited for above
            healthy = _healthcheck(compose, name, env, process.pid)
            assert healthy.returncode == 0, healthy.stdout + healthy.stderr
            assert healthy.stdout.strip() == f"healthy: {name}"
        process.send_signal(signal.SIGTERM)  # to the process, as docker stop does
        process.wait(timeout=60)
        reader.join(timeout=30)
        if name != "web":
            gone = _healthcheck(compose, name, env, process.pid)
            assert gone.returncode == 1 and gone.stdout.startswith("unhealthy: "), gone.stdout
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    text = b"".join(lines).decode(errors="replace")
    assert process.returncode == 0, text[-2000:]
    assert "Traceback" not in text, text[-2000:]


OPERATIONS = PROJECT_ROOT / "docs" / "OPERATIONS.md"
APP_SERVICES = ("web", "collector", "scheduler", "worker")
ONE_PROCESS_ONLY = {"PORT": "web", "WORKER_PROCESSES": "worker", "WORKER_THREADS": "worker",
                    "dramatiq_prom_port": "worker", "SYNC_METRICS_PORT": "web",
                    "SYNC_METRICS_HOST": "web", "SYNC_METRICS_ACCOUNT_SERIES": "web",
                    **dict.fromkeys(("SYNC_CONSOLE_SECRET", "SYNC_CONSOLE_TOKENS",
                                     "SYNC_CONSOLE_FRAME_ANCESTORS", "SYNC_CONSOLE_LINK_TTL",
                                     "SYNC_CONSOLE_SESSION_TTL"), "web")}
"""Variables the environment table itself ties to one process."""


def documented_variables() -> list[str]:
    """Every variable named in the first column of OPERATIONS' "Environment" tables."""
    text = OPERATIONS.read_text()
    section = text.split("### Environment", 1)[1].split("\n### ", 1)[0]
    names: list[str] = []
    for line in section.splitlines():
        if line.startswith("| `"):
            names += re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", line.split("|")[1])
    return names


def test_compose_passes_every_variable_of_the_environment_table(
        compose: dict[str, Any]) -> None:
    names = documented_variables()
    assert {"SYNC_API_TOKENS", "SYNC_PHONE_REGION", "KLAVIYO_OAUTH_CLIENT_ID",
            "SYNC_PUBLIC_URL", "SYNC_CHUNK_MAX_PROFILES"} <= set(names)
    services = compose["services"]
    dropped = []
    for name in names:
        for service in APP_SERVICES:
            if ONE_PROCESS_ONLY.get(name, service) != service:
                continue
            passed = name in services[service]["environment"]
            if not (passed or f"${{{name}" in services[service]["command"]):
                dropped.append(f"{name} ({service})")
    assert not dropped, f"docker-compose.yml does not pass: {', '.join(dropped)}"


def test_docker_compose_takes_documented_variables_from_the_shell_and_dot_env(
        tmp_path: Path) -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    (tmp_path / ".env").write_text("SYNC_API_TOKENS=from-dot-env\n")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root"),
           "SYNC_PHONE_REGION": "GB"}
    done = subprocess.run([binary, "config"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert environment["SYNC_API_TOKENS"] == "from-dot-env", name
        assert environment["SYNC_PHONE_REGION"] == "GB", name


def test_the_procfile_runs_under_honcho_as_operations_says(redis_url: str) -> None:
    section = OPERATIONS.read_text().split("### A platform that reads Procfiles", 1)[1]
    documented = re.search(r"`(PATH=\S+ \S+honcho start)`", section)
    assert documented, "OPERATIONS does not say how to run the Procfile with honcho"
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"),
           "REDIS_URL": redis_url, "PORT": str(port), "SYNC_WEBHOOK_SECRET": "s",
           "KLAVIYO_API_KEY": "pk_test_not_called", "WORKER_PROCESSES": "1",
           "WORKER_THREADS": "1", "KLAVIYO_BASE_URL": f"http://127.0.0.1:{free_port()}"}
    process = subprocess.Popen(["sh", "-c", documented.group(1)], cwd=PROJECT_ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        _wait_healthy(port, process, timeout=90)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        reader.join(timeout=10)
    output = b"".join(lines).decode(errors="replace")
    assert "not found" not in output, output[-2000:]
