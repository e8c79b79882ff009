"""The Procfile's processes and the environment to run them on one machine.

``contact-sync run`` and ``contact-sync demo`` both start every Procfile process under
honcho. What they share lives here: reading the Procfile, filling the gaps of an
unconfigured environment (an embedded Redis, the Klaviyo sandbox, a webhook secret) and
building honcho's :class:`~honcho.manager.Manager`.

    with LocalStack(os.environ) as stack:
        for line in stack.notes:
            print(line)
        manager = build_manager(stack.processes, stack.env)
        manager.loop()          # blocks; Ctrl-C / SIGTERM stops every process
"""

from __future__ import annotations

import errno
import os
import secrets
import shlex
import signal
import sys
from collections.abc import Iterable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import honcho.manager
from honcho.compat import ProcessManager
from honcho.environ import expand_processes, parse_procfile
from honcho.manager import Manager
from honcho.printer import Printer

from sandbox.oauth_grants import DEFAULT_REDIRECT_URIS
from shared.redis_server import EmbeddedRedis, free_port

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROCFILE = PROJECT_ROOT / "Procfile"
DEFAULT_WEB_PORT = 8000
SANDBOX_PROCESS = "sandbox"
LOCAL_HOST = "127.0.0.1"
"""Where a local stack's web listens unless told otherwise: a trial on a laptop does not
offer its webhook and account API to the whole network."""
STOP_GRACE_SECONDS = 30
"""How long a stopping process may take before SIGKILL: longer than the worker's
``--worker-shutdown-timeout`` (25 s), so running messages can finish."""


def read_procfile(path: Path = PROCFILE) -> dict[str, str]:
    """Process name -> command, in the Procfile's order."""
    if not path.is_file():
        raise FileNotFoundError(f"no Procfile at {path}")
    return dict(parse_procfile(path.read_text()).processes)


OAUTH_CALLBACK_PATH = "/v1/oauth/klaviyo/callback"


def sandbox_command(port: int, key: str, public_url: str = "") -> str:
    """The command that serves the Klaviyo sandbox on ``port``, accepting ``key``; with the
    stack's ``SYNC_PUBLIC_URL``, its OAuth app also has that ``web``'s callback registered
    (besides the sandbox's defaults, ``web`` on port 8000)."""
    command = f"contact-sync sandbox --port {port} --keys {key}"
    if public_url:
        callback = public_url.rstrip("/") + OAUTH_CALLBACK_PATH
        for uri in dict.fromkeys([callback, *DEFAULT_REDIRECT_URIS]):
            command += f" --oauth-redirect-uri {shlex.quote(uri)}"
    return command


def _is_set(env: Mapping[str, str], name: str) -> bool:
    return bool(env.get(name, "").strip())


class LocalStack:
    """The environment of a local run: whatever is configured is used as is; Redis, Klaviyo
    and the webhook secret are supplied when missing. A context manager: leaving it stops
    the embedded Redis (the processes themselves are honcho's to stop)."""

    def __init__(
        self,
        base_env: Mapping[str, str],
        procfile: Path = PROCFILE,
        sandbox_port: int | None = None,
        web_host: str = LOCAL_HOST,
    ) -> None:
        self.base_env = dict(base_env)
        self.procfile = procfile
        self.sandbox_port = sandbox_port
        self.web_host = web_host
        self.env: dict[str, str] = {}
        self.processes: dict[str, str] = {}
        self.notes: list[str] = []
        """Lines for the screen: what was embedded or generated."""
        self.redis: EmbeddedRedis | None = None
        self._exit = ExitStack()

    def start(self) -> LocalStack:
        env = dict(self.base_env)
        # The children find `contact-sync` and `dramatiq` of this very virtualenv, and
        # print their lines as they come (honcho relays them).
        bin_dir = str(Path(sys.executable).parent)
        env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")]).rstrip(os.pathsep)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.setdefault("PORT", str(DEFAULT_WEB_PORT))
        processes = read_procfile(self.procfile)
        if "web" in processes:
            processes["web"] += f" --host {self.web_host}"

        if not _is_set(env, "REDIS_URL"):
            self.redis = self._exit.enter_context(EmbeddedRedis())
            env["REDIS_URL"] = self.redis.url
            self.notes.append(
                f"Redis: embedded redis-server at {self.redis.url} (data in "
                f"{self.redis.directory}, removed on exit); set REDIS_URL to use yours"
            )
        else:
            self.notes.append("Redis: REDIS_URL as configured")

        if not _is_set(env, "KLAVIYO_API_KEY"):
            port = self.sandbox_port or free_port()
            key = "pk_sandbox_" + secrets.token_hex(16)
            env["KLAVIYO_API_KEY"] = key
            env["KLAVIYO_BASE_URL"] = f"http://127.0.0.1:{port}"
            processes[SANDBOX_PROCESS] = sandbox_command(
                port, key, env.get("SYNC_PUBLIC_URL", "").strip())
            self.notes.append(
                f"Klaviyo: embedded sandbox at http://127.0.0.1:{port}, key {key} (no real "
                "Klaviyo account is called); set KLAVIYO_API_KEY to use Klaviyo"
            )
        else:
            self.notes.append(f"Klaviyo: {env.get('KLAVIYO_BASE_URL') or 'https://a.klaviyo.com'}")

        if not _is_set(env, "SYNC_WEBHOOK_SECRET"):
            secret = secrets.token_urlsafe(24)
            env["SYNC_WEBHOOK_SECRET"] = secret
            # Shown once, on purpose: this is a local run, and the CRM side needs it.
            self.notes.append(f"Webhook secret: generated for this run: {secret}")
        if not _is_set(env, "SYNC_API_TOKENS"):
            token = secrets.token_urlsafe(24)
            env["SYNC_API_TOKENS"] = token
            self.notes.append(f"Account API token: generated for this run: {token} "
                              "(docs/ACCOUNT_API.md; set SYNC_API_TOKENS to choose yours)")
        if not _is_set(env, "SYNC_CONSOLE_SECRET"):
            env["SYNC_CONSOLE_SECRET"] = secrets.token_urlsafe(32)  # signs the console's links
        if not _is_set(env, "SYNC_CONSOLE_TOKENS"):
            operator = secrets.token_urlsafe(24)
            env["SYNC_CONSOLE_TOKENS"] = operator
            self.notes.append(f"Console operator token: generated for this run: {operator} "
                              "(log in at /console/login on web; docs/CONSOLE.md; set "
                              "SYNC_CONSOLE_TOKENS to choose yours)")
        self.env = env
        self.processes = processes
        return self

    def stop(self) -> None:
        self._exit.close()

    def __enter__(self) -> LocalStack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class LeaderSignals(ProcessManager):
    """SIGTERM to each process itself, not to its whole process group (honcho's default).

    Dramatiq's main process forwards SIGTERM to its worker processes; a worker process that
    gets a second SIGTERM (the group's) exits at once, abandoning its running messages until
    the broker's heartbeat recovery. Commands are started with ``exec`` (see
    :func:`build_manager`), so the process honcho knows is the command itself. SIGKILL, the
    last resort, still goes to the whole group.
    """

    def terminate(self, pid: int) -> None:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.ESRCH):
                raise


def build_manager(
    processes: Mapping[str, str],
    env: Mapping[str, str],
    *,
    printer: Any = None,
    quiet: Iterable[str] = (),
) -> Manager:
    """A honcho manager with one instance of each process. ``loop()`` on it (from the main
    thread) runs them all and stops them all when one exits or on SIGINT/SIGTERM: SIGTERM
    to each, SIGKILL to what still runs :data:`STOP_GRACE_SECONDS` later."""
    # honcho's grace period before SIGKILL is a module setting (5 s by default).
    honcho.manager.KILL_WAIT = STOP_GRACE_SECONDS
    manager = Manager(printer=printer if printer is not None else Printer(sys.stdout))
    manager._procmgr = LeaderSignals()
    for params in expand_processes(dict(processes), env=dict(env), quiet=list(quiet)):
        manager.add_process(
            params.name, f"exec {params.cmd}", quiet=params.quiet, env=params.env,
            cwd=str(PROJECT_ROOT),
        )
    return manager
