"""A private RabbitMQ node for the tests that run the workers on RabbitMQ
(``SYNC_BROKER_URL=amqp://...``), beside the Redis servers' fixtures.

The node is Debian's ``rabbitmq-server`` started as a private node: its own node name
(``rabbit-<random>@localhost``), free loopback ports (AMQP, distribution, and its own
``epmd``), and its database, logs, config, cookie and plugin list in a temporary
directory, so it touches neither the system service (scripts/setup stops it) nor another
test process's node. Starting it takes 6-8 s (Erlang; measured on a 2-core machine), a
virtual host ~3 s (two ``rabbitmqctl`` runs), stopping ~1 s; so it is started once per test
process, when a test first asks for it (tests/e2e/test_rabbitmq_broker.py, one module,
so one node), and each user gets a virtual host of its own (:meth:`RabbitNode.fresh_url`):
two stacks never share a queue. Without
``rabbitmq-server`` (scripts/setup ``--test-tools`` installs it) the tests that need it are
skipped, saying so.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pika
import pika.exceptions
import pytest

from shared.redis_server import free_port

START_TIMEOUT_S = 90.0
STOP_GRACE_S = 20.0
USER = "sync"


def _script(name: str) -> str | None:
    """A RabbitMQ script that runs as any user: Debian's /usr/sbin wrappers insist on root
    or the ``rabbitmq`` user, the scripts they wrap do not."""
    for found in (f"/usr/lib/rabbitmq/bin/{name}",
                  *sorted(glob.glob(f"/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/{name}"))):
        if os.access(found, os.X_OK):
            return found
    return shutil.which(name)


def _epmd() -> str | None:
    return shutil.which("epmd") or next(
        iter(sorted(glob.glob("/usr/lib/erlang/erts-*/bin/epmd"))), None)


class RabbitNode:
    """One private RabbitMQ node; use as a context manager."""

    def __init__(self) -> None:
        self.name = f"rabbit-{secrets.token_hex(4)}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.password = f"pw-{secrets.token_hex(12)}"
        self.directory = Path(tempfile.mkdtemp(prefix="contact-sync-rabbitmq-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.started_in_s = 0.0

    @property
    def env(self) -> dict[str, str]:
        d = self.directory
        return {
            **os.environ,
            "HOME": str(d / "home"),  # the Erlang cookie
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_PID_FILE": str(d / "node.pid"),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq"),  # rabbitmq.conf
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
        }

    def url(self, vhost: str = "/") -> str:
        quoted = vhost.replace("/", "%2F")
        return f"amqp://{USER}:{self.password}@127.0.0.1:{self.port}/{quoted}"

    def start(self) -> RabbitNode:
        server = _script("rabbitmq-server")
        if server is None:
            raise FileNotFoundError("rabbitmq-server is not installed")
        d = self.directory
        (d / "home").mkdir()
        (d / "enabled_plugins").write_text("[].\n")
        (d / "rabbitmq-env.conf").write_text("")
        (d / "rabbitmq.conf").write_text(
            f"default_user = {USER}\ndefault_pass = {self.password}\n"
            "log.console = false\nlog.file.level = warning\n")
        began = time.monotonic()
        with (d / "server.out").open("wb") as out:
            self.process = subprocess.Popen([server], env=self.env, cwd=d, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() - began > START_TIMEOUT_S:
                output = (d / "server.out").read_text(errors="replace")[-3000:]
                self.stop()
                raise RuntimeError(f"RabbitMQ node {self.name} did not start:\n{output}")
            time.sleep(0.2)
        self.started_in_s = time.monotonic() - began
        return self

    def _answers(self) -> bool:
        parameters = pika.URLParameters(self.url())
        parameters.connection_attempts = 1
        parameters.socket_timeout = 2
        try:
            pika.BlockingConnection(parameters).close()
        except pika.exceptions.AMQPError:
            return False
        return True

    def ctl(self, *args: str) -> None:
        """``rabbitmqctl -n NODE ARGS`` on this node."""
        ctl = _script("rabbitmqctl")
        assert ctl is not None
        subprocess.run([ctl, "-n", self.name, *args], env=self.env, cwd=self.directory,
                       check=True, capture_output=True, timeout=60)

    def fresh_url(self) -> str:
        """The URL of a new, empty virtual host of the node (the user may use it)."""
        vhost = f"v-{secrets.token_hex(4)}"
        self.ctl("add_vhost", vhost)
        self.ctl("set_permissions", "-p", vhost, USER, ".*", ".*", ".*")
        return self.url(vhost)

    def stop(self) -> None:
        """SIGTERM the node (Erlang stops cleanly), SIGKILL it after a grace; stop its
        epmd; remove its directory."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        epmd = _epmd()
        if epmd is not None:
            subprocess.run([epmd, "-port", str(self.epmd_port), "-kill"], env=self.env,
                           capture_output=True, timeout=30, check=False)
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RabbitNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def rabbitmq_node() -> Iterator[RabbitNode]:
    """One private RabbitMQ node for this test process; skips the test without
    ``rabbitmq-server``."""
    if _script("rabbitmq-server") is None:
        pytest.skip("rabbitmq-server is not installed (scripts/setup --test-tools installs "
                    "Debian's package): the RabbitMQ broker's tests do not run")
    with RabbitNode() as node:
        yield node
