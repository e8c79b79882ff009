"""``contact-sync run`` as a new operator uses it (issue 11, items 9 and 10): piped into
``head``, in a terminal that closes, beside a second shell, on a port already taken.

Every process ``run`` starts inherits a marker variable; "nothing left" means no process on
this machine carries it any more (the embedded redis-server included)."""

from __future__ import annotations

import os
import re
import secrets
import shlex
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from cli.procfile import PROJECT_ROOT
from shared.redis_server import free_port

COMMAND = str(Path(sys.executable).with_name("contact-sync"))
PROCESSES = ("web.1", "collector.1", "scheduler.1", "worker.1", "sandbox.1")
CONFIGURED = ("REDIS_URL", "KLAVIYO_API_KEY", "KLAVIYO_BASE_URL", "SYNC_WEBHOOK_SECRET",
              "SYNC_SECRET_KEY", "PORT")

pytestmark = pytest.mark.slow


def _env(marker: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CONFIGURED}
    env.update(WORKER_PROCESSES="1", WORKER_THREADS="2", PYTHONUNBUFFERED="1",
               CONTACT_SYNC_TEST_MARK=marker)
    return env


def _marked(marker: str) -> list[int]:
    """Pids of the processes carrying ``marker`` in their environment."""
    needle = f"CONTACT_SYNC_TEST_MARK={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _listening(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) == 0


def _wait_for(condition: object, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not (callable(condition) and condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture
def marker() -> Iterator[str]:
    """The test's marker; whatever still carries it afterwards is killed (on failure)."""
    token = secrets.token_hex(6)
    yield token
    for pid in _marked(token):
        with suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@contextmanager
def running(marker: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    """``contact-sync run`` with its output on a pipe; whatever remains is killed after."""
    process = subprocess.Popen(
        [COMMAND, "run", *args], cwd=PROJECT_ROOT, env=_env(marker), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        yield process
    finally:
        for pid in _marked(marker):
            with suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        process.kill()
        process.wait(timeout=30)


def _read_until_started(process: subprocess.Popen[str]) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while not all(any(f"{name} started" in line for line in lines) for name in PROCESSES):
        line = process.stdout.readline()
        assert line and time.monotonic() < deadline, "".join(lines)
        lines.append(line)
    return lines


def _nothing_left(process: subprocess.Popen[str], marker: str, code: int) -> None:
    assert process.wait(timeout=120) == code
    _wait_for(lambda: not _marked(marker), f"every process of the run to stop ({marker})", 60)
    assert process.stderr is not None
    assert "Traceback" not in process.stderr.read()


def test_run_piped_into_head_stops_every_process_and_its_redis(marker: str) -> None:
    pipeline = subprocess.run(
        ["bash", "-c", f"{shlex.quote(COMMAND)} run --port {free_port()} | head -5"],
        cwd=PROJECT_ROOT, env=_env(marker), capture_output=True, text=True, timeout=180)
    assert len(pipeline.stdout.splitlines()) == 5 and "embedded redis-server" in pipeline.stdout
    _wait_for(lambda: not _marked(marker), "every process of the run to stop", 60)
    assert "Traceback" not in pipeline.stderr


def test_run_stops_everything_when_its_output_closes_after_the_processes_started(
    marker: str,
) -> None:
    with running(marker, "--port", str(free_port())) as process:
        lines = _read_until_started(process)
        data_dir = re.search(r"data in (\S+),", "".join(lines))
        assert process.stdout is not None and data_dir
        process.stdout.close()  # the reader of the pipe is gone (head, less quitting)
        _nothing_left(process, marker, 128 + signal.SIGPIPE)
        assert not Path(data_dir.group(1)).exists()  # the embedded Redis went last


def test_a_hangup_from_a_closed_terminal_stops_everything(marker: str) -> None:
    with running(marker, "--port", str(free_port())) as process:
        _read_until_started(process)
        assert process.stdout is not None
        reader = threading.Thread(target=process.stdout.read, daemon=True)
        reader.start()
        process.send_signal(signal.SIGHUP)
        _nothing_left(process, marker, 128 + signal.SIGHUP)


def test_run_refuses_a_taken_port_in_one_line_before_starting_anything(marker: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with running(marker, "--port", str(port)) as process:
            out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert err.strip().splitlines() == [
        f"Error: port {port} on 127.0.0.1 is already in use: web cannot listen there; stop what "
        "uses it or choose another with --port (or PORT)"]
    assert "embedded" not in out and not _marked(marker)


def test_a_second_shell_reaches_the_stack_through_the_environment_file_run_names(
    marker: str,
) -> None:
    with running(marker, "--port", str(free_port())) as process:
        lines = _read_until_started(process)
        named = re.search(r"set -a; \. (\S+); set \+a", "".join(lines))
        assert named, "".join(lines)
        env_file = Path(named.group(1))
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        shared = dict(line.split("=", 1) for line in env_file.read_text().splitlines()
                      if line and not line.startswith("#"))
        shared = {name: shlex.split(value)[0] for name, value in shared.items()}
        assert {"REDIS_URL", "SYNC_SECRET_KEY", "KLAVIYO_BASE_URL", "KLAVIYO_API_KEY",
                "SYNC_WEBHOOK_SECRET"} <= set(shared)
        output: list[str] = []
        reader = threading.Thread(target=lambda: output.extend(process.stdout or []),
                                  daemon=True)
        reader.start()
        other_shell = {**_env(f"{marker}-other"), **shared}

        def command(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([COMMAND, *args], env=other_shell, capture_output=True,
                                  text=True, timeout=60)

        # honcho says "sandbox.1 started" when it spawns the process, not when it listens
        sandbox = urlsplit(shared["KLAVIYO_BASE_URL"])
        _wait_for(lambda: _listening(sandbox.hostname or "127.0.0.1", sandbox.port or 80),
                  "the sandbox to listen", 60)
        added = command("accounts", "add", "acme", "--klaviyo-key", shared["KLAVIYO_API_KEY"])
        assert added.returncode == 0, added.stderr
        listed = command("accounts", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        assert "acme" in listed.stdout and "Traceback" not in listed.stderr
        assert shared["KLAVIYO_API_KEY"] not in listed.stdout
        process.send_signal(signal.SIGTERM)
        _nothing_left(process, marker, 128 + signal.SIGTERM)
        reader.join(timeout=30)
    assert not env_file.exists()
    assert "Traceback" not in "".join(output), "".join(output)[-3000:]


def test_web_refuses_a_taken_port_in_one_line(redis_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [COMMAND, "web", "--host", "127.0.0.1", "--port", str(port)], timeout=60,
            env={**_env("web"), "REDIS_URL": redis_url, "SYNC_WEBHOOK_SECRET": "whsec-x"},
            capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"Error: port {port} on 127.0.0.1 is already in use: web cannot listen there; stop "
        "what uses it or choose another with --port (or PORT)"]
