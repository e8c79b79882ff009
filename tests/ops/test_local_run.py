"""`contact-sync run`'s building blocks: the local environment fills what is unconfigured,
and the honcho supervisor starts every process and stops them all on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import redis

from cli.procfile import PROJECT_ROOT, SANDBOX_PROCESS, LocalStack, read_procfile
from tests.support.redis_reads import hash_fields


def test_unconfigured_environment_gets_embedded_redis_sandbox_and_a_secret() -> None:
    with LocalStack({"PATH": os.environ["PATH"]}) as stack:
        assert stack.redis is not None
        assert redis.Redis.from_url(stack.env["REDIS_URL"]).ping()
        assert stack.env["KLAVIYO_BASE_URL"].startswith("http://127.0.0.1:")
        assert stack.env["KLAVIYO_API_KEY"] in stack.processes[SANDBOX_PROCESS]
        assert stack.env["SYNC_WEBHOOK_SECRET"]
        assert list(stack.processes)[:4] == list(read_procfile())
        notes = "\n".join(stack.notes)
        assert "embedded redis-server" in notes and "embedded sandbox" in notes
        assert stack.env["SYNC_WEBHOOK_SECRET"] in notes
        directory = stack.redis.directory
    assert not directory.exists()


def test_configured_environment_is_used_as_is(redis_url: str) -> None:
    env = {"REDIS_URL": redis_url, "KLAVIYO_API_KEY": "pk_real", "SYNC_WEBHOOK_SECRET": "s1"}
    with LocalStack(env) as stack:
        assert stack.redis is None
        assert stack.env["REDIS_URL"] == redis_url
        assert stack.env["SYNC_WEBHOOK_SECRET"] == "s1"
        assert SANDBOX_PROCESS not in stack.processes


SUPERVISOR = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from cli.procfile import LocalStack, build_manager
    with LocalStack(os.environ, procfile=Path(sys.argv[1])) as stack:
        manager = build_manager(stack.processes, stack.env)
        manager.loop()
    sys.exit(manager.returncode)
    """
)

CHILD = (
    "python -c \"import os, time, redis; "
    "redis.Redis.from_url(os.environ['REDIS_URL']).hset('pids', '{name}', os.getpid()); "
    "time.sleep(600)\""
)


def test_supervisor_starts_every_process_and_stops_them_all_on_sigterm(
        redis_url: str, tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text("".join(f"{n}: {CHILD.format(name=n)}\n" for n in ("one", "two")))
    env = {**os.environ, "REDIS_URL": redis_url, "KLAVIYO_API_KEY": "pk_x",
           "SYNC_WEBHOOK_SECRET": "s"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, str(procfile)], cwd=PROJECT_ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        pids: dict[str, str] = {}
        for _ in range(300):
            pids = hash_fields(client, "pids")
            if len(pids) == 2 or supervisor.poll() is not None:
                break
            time.sleep(0.1)
        assert set(pids) == {"one", "two"}
        supervisor.send_signal(signal.SIGTERM)
        output, _ = supervisor.communicate(timeout=30)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
    assert b"SIGTERM received" in output
    for pid in pids.values():
        assert _gone(int(pid)), f"child {pid} survived the supervisor"


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie waiting for its reaper counts as exited)."""
    for _ in range(100):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


def test_a_local_stack_web_listens_on_loopback_unless_told_otherwise_and_the_api_is_on(
) -> None:
    env = {"PATH": os.environ["PATH"], "REDIS_URL": "redis://127.0.0.1:1/0",
           "KLAVIYO_API_KEY": "pk_x"}
    stack = LocalStack(env).start()
    assert stack.processes["web"].endswith(" --host 127.0.0.1")
    token = stack.env["SYNC_API_TOKENS"]
    assert token and any(token in note for note in stack.notes)
    operator = stack.env["SYNC_CONSOLE_TOKENS"]  # the console is on, its login printed
    assert stack.env["SYNC_CONSOLE_SECRET"] and any(operator in note for note in stack.notes)
    widened = LocalStack(env, web_host="0.0.0.0").start()
    assert widened.processes["web"].endswith(" --host 0.0.0.0")
    mine = LocalStack({**env, "SYNC_API_TOKENS": "t1,t2"}).start()
    assert mine.env["SYNC_API_TOKENS"] == "t1,t2"
    assert not any("t1" in note for note in mine.notes)


def test_the_environment_file_carries_what_every_shell_must_share_even_if_set_there(
        tmp_path: Path) -> None:
    from cli.run_cmd import write_env_file

    stack_env = {"REDIS_URL": "redis://127.0.0.1:7000/0", "KLAVIYO_API_KEY": "pk_mine",
                 "KLAVIYO_BASE_URL": "http://127.0.0.1:9999", "SYNC_INTERVAL": "30",
                 "SYNC_API_TOKENS": "generated"}
    # The shell that started run had set the Klaviyo URL, the interval and its key itself.
    base_env = {"KLAVIYO_BASE_URL": "http://127.0.0.1:9999", "SYNC_INTERVAL": "30",
                "KLAVIYO_API_KEY": "pk_mine"}
    path = tmp_path / "run.env"
    names = write_env_file(stack_env, base_env, path)
    written = dict(line.split("=", 1) for line in path.read_text().splitlines()
                   if not line.startswith("#"))
    assert written["KLAVIYO_BASE_URL"] == "http://127.0.0.1:9999"
    assert written["SYNC_INTERVAL"] == "30"
    assert written["SYNC_LIST_PULL_INTERVAL"] == "900"  # the stack's (its default)
    assert written["SYNC_API_TOKENS"] == "generated"
    assert "KLAVIYO_API_KEY" not in written  # a secret you set yourself stays yours
    assert set(names) == set(written)
