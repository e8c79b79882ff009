"""A bash session a test feeds shell blocks to, one at a time, as a person pastes them into a
terminal: variables set by one block are there for the next."""

from __future__ import annotations

import re
import subprocess
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path

SH_BLOCK = re.compile(r"```sh\n(.*?)```", re.S)


def sh_blocks(markdown: Path) -> list[str]:
    """Every ```sh block of a document, in order."""
    return sh_blocks_of(markdown.read_text())


def sh_blocks_of(text: str) -> list[str]:
    """Every ```sh block of a Markdown text, in order."""
    return list(SH_BLOCK.findall(text))


class ShellSession:
    def __init__(self, env: Mapping[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, env=dict(env), cwd=cwd)

    def run(self, block: str, timeout: float = 60) -> str:
        """Run ``block``; its output (stdout and stderr), once it has finished."""
        assert self.process.stdin is not None and self.process.stdout is not None
        marker = f"__done_{uuid.uuid4().hex}__"
        self.process.stdin.write(f"{block}\necho; echo {marker}\n")
        self.process.stdin.flush()
        lines: list[str] = []
        timer = threading.Timer(timeout, self.process.kill)
        timer.start()
        try:
            for line in self.process.stdout:
                if line.strip() == marker:
                    return "".join(lines)
                lines.append(line)
        finally:
            timer.cancel()
        raise AssertionError(f"the shell ended (or {timeout} s passed) in:\n{block}\n"
                             + "".join(lines))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
