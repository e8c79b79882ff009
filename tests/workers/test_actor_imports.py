"""Importing an actor module starts no broker; ``workers.dramatiq_app`` is the one place
that does (the ``dramatiq`` CLI's entry module)."""

from __future__ import annotations

import os
import subprocess
import sys

from cli.procfile import PROJECT_ROOT, read_procfile


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    return subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_actors_import_without_redis_and_refuse_to_send_until_a_broker_is_set_up() -> None:
    done = _python(
        "import dramatiq.broker, workers.push.batch, workers.reverse.actors, workers.scheduler, "
        "cli.main\n"
        "print(type(dramatiq.broker.global_broker).__name__)\n"
        "workers.push.batch.sync_batch.send('acme', 'b-1')\n")
    assert done.stdout.strip() == "NoBrokerYet"
    assert "no Dramatiq broker is set up in this process" in done.stderr
    assert "workers.dramatiq_app" in done.stderr


def test_the_dramatiq_entry_module_needs_redis_url_and_says_so() -> None:
    done = _python("import workers.dramatiq_app")
    assert done.returncode != 0
    assert "REDIS_URL is not set" in done.stderr


def test_setting_up_the_broker_moves_the_declared_actors_onto_it(redis_url: str) -> None:
    done = _python(
        "import dramatiq, workers.push.batch\n"
        "import workers.dramatiq_app\n"
        "broker = dramatiq.get_broker()\n"
        "print(type(broker).__name__, workers.push.batch.sync_batch.broker is broker,\n"
        "      sorted(broker.get_declared_actors()))\n", REDIS_URL=redis_url)
    assert done.returncode == 0, done.stderr
    kind, same, *actors = done.stdout.split()
    assert (kind, same) == ("RecoveringRedisBroker", "True")
    assert "'sync_batch'," in actors and "'pull_list_members'," in actors


def test_the_procfile_worker_runs_the_entry_module() -> None:
    assert read_procfile()["worker"].startswith("dramatiq workers.dramatiq_app ")
