"""The Dramatiq worker(s) a push bench runs and what they cost: CPU time (every thread and
process, from /proc) and peak resident set (VmHWM).

:class:`Workers` runs one worker inside the bench process (its CPU and memory are the bench
process's) or ``dramatiq workers.dramatiq_app`` processes as deployed. Used by
:mod:`bench.push_throughput` and :mod:`bench.plan_scaling`.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time

import dramatiq

from shared import constants as keys
from shared.broker_redis import broker_redis
from shared.freed_memory import release
from shared.redis_client import connect


def peak_rss_mb(pid: int | str = "self") -> float:
    """The peak resident set (VmHWM) of a process, in MB (by default the bench process,
    which runs the in-process worker's threads)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss() -> None:
    """Start this process's VmHWM again from its current resident set (``/proc/self/
    clear_refs``, proc(5)), so a second run in the same process measures its own peak."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass


class Workers:
    """The Dramatiq worker(s) the bench runs: ``processes`` 0 is one worker in this process
    (its CPU is this process's); 1 or more run ``dramatiq workers.dramatiq_app`` as
    deployed (Procfile: 2 processes), measured from /proc."""

    def __init__(self, processes: int, threads: int) -> None:
        self.processes, self.threads = processes, threads
        self._worker: dramatiq.Worker | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Workers:
        if not self.processes:
            gc.collect()
            release()  # what an earlier run in this process freed leaves the resident set
            reset_peak_rss()
            self._worker = dramatiq.Worker(dramatiq.get_broker(), worker_threads=self.threads,
                                           worker_timeout=20)
            self._worker.start()
            return self
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "workers.dramatiq_app", "--processes",
             str(self.processes), "--threads", str(self.threads)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = broker_redis(connect(os.environ["REDIS_URL"]))  # the heartbeats' Redis
        assert client is not None, "a Redis broker"
        deadline = time.monotonic() + 60
        while client.zcard(keys.dramatiq_heartbeats()) < self.processes:  # each consumes
            if time.monotonic() > deadline or self._proc.poll() is not None:
                raise SystemExit("the dramatiq worker processes did not start")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._worker is not None:
            self._worker.stop()
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(60)

    def _pids(self) -> list[int]:
        assert self._proc is not None
        return [self._proc.pid, *children_of(self._proc.pid)]

    def cpu_seconds(self) -> float:
        if self._proc is None:
            return time.process_time()
        return sum(process_cpu_seconds(pid) for pid in self._pids())

    def peak_rss_mb(self) -> float:
        """The largest peak resident set of a process running actors."""
        if self._proc is None:
            return peak_rss_mb()
        return max(peak_rss_mb(pid) for pid in self._pids())


def _stat_fields(pid: int | str) -> list[str]:
    """``/proc/<pid>/stat`` after the command name: state, ppid, ... (proc(5), from field 3)."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (dramatiq's worker processes)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(_stat_fields(entry)[1])
            except OSError:
                continue
            if parent == pid:
                found.append(int(entry))
    return found


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
