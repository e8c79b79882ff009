"""docs/ACCOUNT_API.md, followed literally: its shell blocks, run one after the other in one
bash session against a real ``contact-sync run`` with nothing configured (embedded Redis
and sandbox), reach a synced account with a default list and a sync in its history; and
the examples the document gives are what the API answers."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from cli.procfile import PROJECT_ROOT
from shared.redis_server import free_port
from tests.ops.shell_session import ShellSession, sh_blocks, sh_blocks_of

COMMAND = str(Path(sys.executable).with_name("contact-sync"))
DOC = PROJECT_ROOT / "docs" / "ACCOUNT_API.md"
OAUTH_DOC = PROJECT_ROOT / "docs" / "OAUTH.md"
STACK_ENV = ("REDIS_URL", "KLAVIYO_API_KEY", "KLAVIYO_BASE_URL", "SYNC_WEBHOOK_SECRET", "PORT",
             "SYNC_API_TOKENS", "SYNC_SECRET_KEY", "SYNC_INTERVAL")


@dataclass
class RunningStack:
    port: int
    env_file: Path
    lines: list[str]

    def env(self) -> dict[str, str]:
        values = {}
        for line in self.env_file.read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                name, value = line.split("=", 1)
                values[name] = value.strip("'")
        return values


@contextlib.contextmanager
def start_run(tmp_path: Path, extra_env: dict[str, str] | None = None,
              ) -> Iterator[RunningStack]:
    """``contact-sync run`` as a newcomer starts it: nothing of the stack configured but
    ``extra_env``."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in STACK_ENV}
    env.update(WORKER_PROCESSES="1", WORKER_THREADS="2", PYTHONUNBUFFERED="1")
    env.update({k: v.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
                for k, v in (extra_env or {}).items()})
    env_file = tmp_path / "run" / "run.env"
    process = subprocess.Popen(
        [COMMAND, "run", "--port", str(port), "--env-file", str(env_file)], cwd=PROJECT_ROOT,
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "web never answered:\n" + "".join(lines)
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield RunningStack(port, env_file, lines)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningStack]:
    with start_run(tmp_path) as stack:
        yield stack


def _literal(block: str, stack: RunningStack) -> str:
    """The block as the reader runs it: with the path ``run`` printed and its port."""
    return (block.replace("/tmp/contact-sync-run-XXXX/run.env", str(stack.env_file))
            .replace("http://127.0.0.1:8000", f"http://127.0.0.1:{stack.port}"))


def _json(output: str) -> object:
    return json.loads(output.strip().splitlines()[-1])


@pytest.mark.slow
def test_the_account_api_walkthrough_works_as_written_against_contact_sync_run(
        running: RunningStack, tmp_path: Path) -> None:
    output = "".join(running.lines)
    assert "Account API token: generated for this run" in output, output
    assert f"http://127.0.0.1:{running.port}/docs" in output
    blocks = sh_blocks(DOC)
    # OAuth needs a Klaviyo app configured (docs/OAUTH.md); the deletion comes last.
    oauth = [b for b in blocks if "oauth/start" in b]
    assert len(oauth) == 1
    blocks.remove(oauth[0])
    # The erasure example (section 8) would erase the contact this walkthrough syncs; it
    # has tests of its own (tests/e2e/test_erased_contacts_are_forgotten.py).
    erase = [b for b in blocks if "/erase" in b]
    assert len(erase) == 1
    blocks.remove(erase[0])
    shell = ShellSession({"PATH": os.environ["PATH"], "HOME": str(tmp_path)}, tmp_path)
    said: list[str] = []
    try:
        for block in blocks[:-1]:
            said.append(shell.run(_literal(block, running)))
        env = running.env()
        api = httpx.Client(base_url=f"http://127.0.0.1:{running.port}", headers={
            "Authorization": f"Bearer {env['SYNC_API_TOKENS'].split(',')[0]}"})

        def synced() -> dict[str, object] | None:
            history = api.get("/v1/accounts/acme/syncs").json()
            done = [s for s in history if s["status"] == "completed"]
            return done[0] if done else None

        deadline = time.monotonic() + 90
        while (sync := synced()) is None:
            assert time.monotonic() < deadline, "\n".join(said)
            time.sleep(0.5)
        account = api.get("/v1/accounts/acme").json()
        lists = api.get("/v1/accounts/acme/klaviyo/lists").json()
        assert [item["name"] for item in lists] == ["Newsletter"]
        assert account["default_list_id"] == lists[0]["id"], account
        assert account["connection"]["kind"] == "api_key", account
        assert re.fullmatch(r"\d{8}T\d{6}-[0-9a-f]{8}", str(sync["batch_id"]))
        # The contact is in the sandbox's Klaviyo account, on the default list.
        sandbox = env["KLAVIYO_BASE_URL"]
        members = httpx.get(f"{sandbox}/__sandbox/accounts/pk_sandbox_acme/lists").json()
        assert len(members["lists"][0]["members"]) == 1, members
        # Section 8: the account is deleted, and gone.
        said.append(shell.run(_literal(blocks[-1], running)))
        assert api.get("/v1/accounts/acme").status_code == 404
    finally:
        shell.close()
    text = "\n".join(said)
    assert '"accepted":1' in text.replace(" ", ""), text
    assert "Newsletter" in text


@pytest.mark.slow
def test_the_account_api_documents_the_codes_and_ids_it_answers(
        running: RunningStack) -> None:
    env = running.env()
    api = httpx.Client(base_url=f"http://127.0.0.1:{running.port}", headers={
        "Authorization": f"Bearer {env['SYNC_API_TOKENS']}"})
    assert api.put("/v1/accounts/beta", json={}).status_code == 201
    refused = api.put("/v1/accounts/beta/klaviyo-key", json={"api_key": "pk_nobody_knows"})
    assert refused.status_code == 422
    code = refused.json()["klaviyo_code"]
    assert f"`klaviyo_code` e.g. `{code}`" in DOC.read_text()
    example = re.search(r"# e\.g\. (\S+)", DOC.read_text().split("## 6.", 1)[1])
    assert example and re.fullmatch(r"\d{8}T\d{6}-[0-9a-f]{8}", example.group(1))
    schema = api.get("/openapi.json").text
    assert re.findall(r'"batch_id":\s*"([^"]+)"', schema)
    for batch_id in re.findall(r'"batch_id":\s*"([^"]+)"', schema):
        assert re.fullmatch(r"\d{8}T\d{6}-[0-9a-f]{8}", batch_id), batch_id


def _outward_address() -> str | None:
    """This machine's address on its network (no packet is sent), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


@pytest.mark.slow
def test_run_serves_web_on_loopback_only(running: RunningStack) -> None:
    assert f"web on http://127.0.0.1:{running.port}" in "".join(running.lines)
    address = _outward_address()
    if address is None:
        pytest.skip("this machine has no address besides loopback")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://{address}:{running.port}/healthz", timeout=2)


@pytest.mark.slow
def test_the_oauth_walkthrough_connects_an_account_through_the_sandbox_as_written(
        tmp_path: Path) -> None:
    section = OAUTH_DOC.read_text().split("### Trying the flow with curl", 1)[1]
    blocks = sh_blocks_of(section)
    start, *steps = blocks
    assert start.rstrip().endswith("contact-sync run"), start
    extra = dict(re.findall(r"(\w+)=(\S+)", start.replace("\\\n", " ")))
    assert {"KLAVIYO_OAUTH_CLIENT_ID", "SYNC_PUBLIC_URL"} <= set(extra)
    with start_run(tmp_path, extra) as stack:
        shell = ShellSession({"PATH": os.environ["PATH"], "HOME": str(tmp_path)}, tmp_path)
        try:
            said = [shell.run(_literal(block, stack)) for block in steps]
        finally:
            shell.close()
    text = "\n".join(said)
    assert "https://crm.example/settings?connected=1" in text, text
    account = json.loads(said[-1].strip().splitlines()[-1])
    assert account["connection"]["kind"] == "oauth", account
    assert account["connection"]["state"] == "ok", account
