"""Regression (issue 11, item 11): a wrong ``REDIS_URL`` or a Redis that does not answer
gives one clear line naming host and port (never the password), exit code 2, no traceback,
whatever the command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.redis_server import EmbeddedRedis, free_port

COMMAND = str(Path(sys.executable).with_name("contact-sync"))
COMMANDS = (["status"], ["accounts", "list"], ["dlq", "list"])


def _run(args: list[str], redis_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNC_", "REDIS_"))}
    env.update(REDIS_URL=redis_url, SYNC_WEBHOOK_SECRET="whsec-x")
    return subprocess.run([COMMAND, *args], env=env, capture_output=True, text=True,
                          timeout=60)


def _one_clear_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    return lines[0]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_redis_url_without_scheme_says_how_to_write_it(args: list[str]) -> None:
    line = _one_clear_line(_run(args, "localhost:6379"))
    assert "REDIS_URL 'localhost:6379' has no redis:// scheme" in line
    assert "redis://localhost:6379/0" in line


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_an_unreachable_redis_is_named_by_host_and_port_without_its_password(
    args: list[str],
) -> None:
    port = free_port()
    line = _one_clear_line(_run(args, f"redis://:hunter2-secret@127.0.0.1:{port}/0"))
    assert f"Redis at 127.0.0.1:{port} is unreachable (Connection refused)" in line
    assert "hunter2" not in line


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_redis_answering_an_error_is_not_called_unreachable(
    args: list[str], redis_server: EmbeddedRedis,
) -> None:
    line = _one_clear_line(_run(args, f"redis://127.0.0.1:{redis_server.port}/99"))
    assert f"Redis at 127.0.0.1:{redis_server.port} answered an error: DB index is out of " \
           "range (database 99 of REDIS_URL" in line
    assert "unreachable" not in line


def test_web_with_a_redis_url_without_scheme_stops_with_one_line() -> None:
    line = _one_clear_line(_run(["web"], "user:hunter2-secret@localhost:6379"))
    assert "REDIS_URL '***@localhost:6379' has no redis:// scheme" in line


def _procfile_worker(redis_url: str | None) -> subprocess.CompletedProcess[str]:
    """The Procfile's worker line, as a platform runs it (the venv's bin on PATH)."""
    from cli.procfile import PROJECT_ROOT, read_procfile

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNC_", "REDIS_"))}
    env.update(WORKER_PROCESSES="1", WORKER_THREADS="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    return subprocess.run(["sh", "-c", f"exec {read_procfile()['worker']}"], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("redis_url", [None, "unreachable"])
def test_the_procfile_worker_without_a_usable_redis_says_one_line_and_exits_2(
        redis_url: str | None) -> None:
    port = free_port()
    done = _procfile_worker(None if redis_url is None else
                            f"redis://:hunter2-secret@127.0.0.1:{port}/0")
    output = done.stderr + done.stdout
    assert done.returncode == 2, output
    assert "Traceback" not in output and "RegisterQueues" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("Error: ")]
    expected = ("REDIS_URL is not set" if redis_url is None
                else f"Redis at 127.0.0.1:{port} is unreachable (Connection refused)")
    assert len(errors) == 1 and expected in errors[0], output
    assert "hunter2" not in output
