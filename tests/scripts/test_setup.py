"""``scripts/setup`` on a machine where uv was installed before but ``~/.local/bin`` is not
on ``PATH``: it uses that uv instead of installing it again, and ``make demo``'s set-up
installs no test tool (docker-compose, rabbitmq-server) with apt."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _tool(directory: Path, name: str, body: str, calls: Path) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\necho {name} \"$@\" >> {calls}\n{body}\n")
    path.chmod(0o755)


def _setup(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run a copy of scripts/setup as root on a PATH with only the tools it names: uv only in
    ``~/.local/bin``, ``python3`` and ``apt-get`` that record their calls."""
    tree = tmp_path / "tree"
    (tree / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "setup", tree / "scripts" / "setup")
    bin_dir, home_bin = tmp_path / "bin", tmp_path / "home" / ".local" / "bin"
    bin_dir.mkdir()
    home_bin.mkdir(parents=True)
    for name in ("bash", "dirname", "sh"):
        found = shutil.which(name)
        assert found, name
        (bin_dir / name).symlink_to(found)
    calls = tmp_path / "calls"
    _tool(home_bin, "uv", "exit 0", calls)
    for name in ("python3", "apt-get", "redis-server"):
        _tool(bin_dir, name, "exit 0", calls)
    _tool(bin_dir, "id", "echo 0", calls)  # as root, where apt-get would be used
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path / "home")}
    done = subprocess.run([str(bin_dir / "bash"), str(tree / "scripts" / "setup"), *args],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    return done, calls.read_text() if calls.exists() else ""


def test_setup_uses_the_uv_in_local_bin_instead_of_installing_it_again(tmp_path: Path) -> None:
    done, calls = _setup(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "installing uv" not in done.stderr
    assert "python3 -m pip" not in calls
    assert "uv sync --frozen" in calls


def test_demo_setup_installs_no_docker_compose_and_test_setup_tries(tmp_path: Path) -> None:
    done, calls = _setup(tmp_path / "demo")
    assert done.returncode == 0, done.stderr
    assert "docker-compose" not in calls + done.stderr
    assert "rabbitmq" not in calls + done.stderr
    done, calls = _setup(tmp_path / "test", "--test-tools")
    assert done.returncode == 0, done.stderr
    assert "apt-get install -y -qq docker-compose" in calls
    # rabbitmq-server: unless this machine has Debian's package already
    assert os.access("/usr/lib/rabbitmq/bin/rabbitmq-server", os.X_OK) or (
        "apt-get install -y -qq rabbitmq-server" in calls)
    if "rabbitmq-server" in calls:
        assert "installing Debian's rabbitmq-server package" in done.stderr


def test_make_demo_sets_up_without_test_tools_and_make_test_with_them() -> None:
    makefile = (ROOT / "Makefile").read_text()
    demo = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    test = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "setup" in demo and "--test-tools" not in demo
    assert "./scripts/setup --test-tools" in test
    assert os.access(ROOT / "scripts" / "setup", os.X_OK)
