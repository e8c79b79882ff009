"""``contact-sync run``: every Procfile process under one supervisor (honcho).

Whatever happens to its output, ``run`` stops everything it started, the processes first and
the embedded Redis last: a closed pipe (``run | head -5``) or a closed terminal (the write
fails with EPIPE/EIO; SIGHUP) stops the stack as Ctrl-C and SIGTERM do, and no line is
written after that. Its port is checked before anything starts.

For a second shell (``accounts add``, ``status``, the curl of docs/ACCOUNT_API.md...),
``run`` writes the environment of its processes that the shell lacks (``REDIS_URL``, a
generated ``SYNC_SECRET_KEY``, the sandbox's ``KLAVIYO_BASE_URL``/``KLAVIYO_API_KEY``, the
webhook secret, the account API's token, ``SYNC_INTERVAL``) to a file only its user can
read, names the file on screen and removes it on exit. Its web listens on 127.0.0.1 unless
``--host`` says otherwise.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import signal
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import IO, Annotated, Any, cast

import typer
from cryptography.fernet import Fernet
from honcho.manager import Manager
from honcho.printer import Printer

from cli.process_cmds import ensure_port_free, open_redis
from cli.procfile import (
    DEFAULT_WEB_PORT,
    LOCAL_HOST,
    STOP_GRACE_SECONDS,
    LocalStack,
    build_manager,
)
from shared.redis_server import RedisServerNotFound
from shared.settings import Settings, get_settings

SHARED_ENV = ("REDIS_URL", "SYNC_SECRET_KEY", "KLAVIYO_API_KEY", "SYNC_WEBHOOK_SECRET",
              "SYNC_API_TOKENS", "SYNC_CONSOLE_SECRET", "SYNC_CONSOLE_TOKENS")
"""What another shell's commands need to reach the stack (written when ``run`` supplied it;
``REDIS_URL`` always)."""
STACK_SETTINGS = {"KLAVIYO_BASE_URL": "klaviyo_base_url", "SYNC_INTERVAL": "interval",
                  "SYNC_LIST_PULL_INTERVAL": "list_pull_interval",
                  "SYNC_LIST_DISCOVERY_AT": "list_discovery_at"}
"""Variable -> setting: nothing secret, and what every shell must agree on with the stack
(which Klaviyo a key is checked against, the pace ``status`` and ``lists`` report): always
written, as the stack has them (the default when unset)."""
OUTPUT_LOST_RC = 128 + signal.SIGPIPE
HANGUP_RC = 128 + signal.SIGHUP


class Stopper:
    """Stops the honcho manager once, from a lost output or SIGHUP. Until every process has
    reported its start (honcho cannot signal a process it has no pid of), the stop waits:
    every start is printed, and each print tries again."""

    def __init__(self) -> None:
        self.manager: Manager | None = None
        self.returncode: int | None = None

    def request(self, returncode: int) -> None:
        if self.returncode is None:
            self.returncode = returncode
        self.try_now()

    def try_now(self) -> None:
        manager = self.manager
        if self.returncode is None or manager is None or not manager._all_started():
            return
        if manager.returncode is None:
            manager.returncode = self.returncode
        manager.terminate()


class GuardedOutput(io.TextIOBase):
    """``stdout`` for the notes and honcho's printer: the first failed write (EPIPE, EIO, a
    closed file) asks :class:`Stopper` to stop the stack; later lines are dropped."""

    def __init__(self, stream: IO[str], stopper: Stopper) -> None:
        self.stream = stream
        self.stopper = stopper
        self.lost = False

    def write(self, text: str) -> int:
        if not self.lost:
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError, AttributeError):  # AttributeError: no stdout at all
                self.lost = True
                _silence_stdout()
                self.stopper.request(OUTPUT_LOST_RC)
        self.stopper.try_now()
        return len(text)

    def flush(self) -> None:
        pass  # every write is flushed at once

    def isatty(self) -> bool:
        try:
            return not self.lost and self.stream.isatty()
        except (OSError, ValueError, AttributeError):
            return False


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null: Python's final flush must not fail on the closed pipe."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _stop_on(stopper: Stopper, signals: Mapping[signal.Signals, int]) -> None:
    """These signals stop the stack (honcho's loop takes SIGINT and SIGTERM over once it
    runs; until then a stop is only recorded, and the loop is not entered)."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        stopper.request(signals[signal.Signals(signum)])

    for sig in signals:
        signal.signal(sig, handler)


def _stop_leftovers(manager: Manager) -> None:
    """Last resort when honcho's loop ended by an exception: SIGTERM each process group it
    started, wait for honcho's relays, SIGKILL what is left; before the Redis goes."""
    processes: dict[str, dict[str, Any]] = manager._processes
    running = [p for p in processes.values() if p.get("pid") and "returncode" not in p]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for process in running:
            with contextlib.suppress(OSError):
                os.killpg(process["pid"], sig)
        for process in running:
            relay = process.get("process")
            if relay is not None:
                relay.join(timeout=STOP_GRACE_SECONDS if sig == signal.SIGTERM else 5)
        running = [p for p in running if p.get("process") and p["process"].is_alive()]
        if not running:
            return


def write_env_file(stack_env: Mapping[str, str], base_env: Mapping[str, str],
                   path: Path) -> list[str]:
    """Write (mode 0600) what another shell needs; returns the variable names written."""
    values = {name: stack_env[name] for name in SHARED_ENV if stack_env.get(name)
              and (name == "REDIS_URL" or stack_env[name] != base_env.get(name))}
    for name, field in STACK_SETTINGS.items():
        values[name] = (stack_env.get(name, "").strip()
                        or str(Settings.model_fields[field].default))
    names = list(values)
    lines = [f"# contact-sync run (pid {os.getpid()}): load with  set -a; . {path}; set +a",
             *(f"{name}={shlex.quote(value)}" for name, value in values.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)  # also when the file was there before
    return names


def _prepare_env(port: int | None, host: str) -> tuple[dict[str, str], list[str]]:
    """The base environment of the stack and lines to show; exits 2 when the web port is
    taken or the configured Redis does not answer (before anything starts)."""
    env = dict(os.environ)
    if port is not None:
        env["PORT"] = str(port)
    ensure_port_free(int(env.get("PORT") or DEFAULT_WEB_PORT), host)
    notes: list[str] = []
    if env.get("REDIS_URL", "").strip():
        open_redis(get_settings()).close()
        if not env.get("SYNC_SECRET_KEY", "").strip():
            notes.append("warning: SYNC_SECRET_KEY is not set: accounts' Klaviyo keys can be "
                         "neither stored nor read; set it in every shell using this Redis")
    elif not env.get("SYNC_SECRET_KEY", "").strip():
        # Embedded Redis: its data goes with it, so a key made for this run is enough.
        env["SYNC_SECRET_KEY"] = Fernet.generate_key().decode()
        notes.append("SYNC_SECRET_KEY: generated for this run (encrypts the accounts' keys)")
    return env, notes


def run(
    port: Annotated[
        int | None, typer.Option(help="Port of the web process (default: $PORT or 8000).")
    ] = None,
    host: Annotated[str, typer.Option(
        help="Interface the web process listens on; 0.0.0.0 to be reached from other "
             "machines.")] = LOCAL_HOST,
    env_file: Annotated[Path | None, typer.Option(
        help="Where to write the environment other shells need (default: a new private "
             "temporary directory). Removed on exit.")] = None,
) -> None:
    """Run web, collector, scheduler and worker together (the Procfile), with an embedded
    Redis and Klaviyo sandbox when REDIS_URL / KLAVIYO_API_KEY are unset. Ctrl-C, SIGTERM,
    SIGHUP or a closed output stop all."""
    base_env, notes = _prepare_env(port, host)
    stopper = Stopper()
    _stop_on(stopper, {signal.SIGHUP: HANGUP_RC, signal.SIGINT: 128 + signal.SIGINT,
                       signal.SIGTERM: 128 + signal.SIGTERM})
    try:
        stack = LocalStack(base_env, web_host=host).start()
    except (RedisServerNotFound, FileNotFoundError) as error:
        typer.secho(f"Error: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from None
    out = GuardedOutput(sys.stdout, stopper)
    screen = cast(IO[str], out)
    env_path = env_file or Path(tempfile.mkdtemp(prefix="contact-sync-run-")) / "run.env"
    manager: Manager | None = None
    try:
        written = write_env_file(stack.env, os.environ, env_path)
        for note in [*stack.notes, *notes]:
            typer.secho(note, fg=typer.colors.CYAN, file=screen)
        typer.secho(f"Other shells reach this stack with: set -a; . {env_path}; set +a "
                    f"({', '.join(written)}; removed on exit)", fg=typer.colors.CYAN, file=screen)
        web_url = f"http://{host}:{stack.env['PORT']}"
        typer.secho(
            f"Starting {', '.join(stack.processes)}; web on {web_url} (webhook "
            f"/v1/contact-events, account API /v1/accounts, OpenAPI {web_url}/docs). "
            "Ctrl-C stops everything.", fg=typer.colors.CYAN, file=screen,
        )
        manager = build_manager(stack.processes, stack.env, printer=Printer(out))
        stopper.manager = manager
        if stopper.returncode is None:
            try:
                manager.loop()
            except BaseException:
                _stop_leftovers(manager)
                raise
    finally:
        env_path.unlink(missing_ok=True)
        if env_file is None:
            env_path.parent.rmdir()
        stack.stop()
    raise typer.Exit(stopper.returncode or (manager.returncode if manager else None) or 0)
