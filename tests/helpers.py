"""Helpers shared by tests that run the CLI in a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def profiler_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "profiler", *args]


def interruptible_profiler_command(*args: str) -> list[str]:
    """The CLI as a terminal's foreground job runs it, Ctrl-C delivered: a suite started as a
    background job inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler of
    its own."""
    start = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv[0] = 'profiler'; runpy.run_module('profiler', run_name='__main__', "
        "alter_sys=True)"
    )
    return [sys.executable, "-c", start, *args]


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for running the CLI in a child, with this checkout and the test fakes
    importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


def run_probe(source: str, folder: Path, *args: str, timeout_s: float) -> object:
    """Run ``source`` as a script in a fresh interpreter of this checkout; the JSON its last line
    prints."""
    script = folder / "probe.py"
    script.write_text(source)
    done = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=subprocess_env(),
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


MARK = "PROFILER_TEST_MARK"


def marked_processes(mark: str) -> list:
    """Every process whose environment carries ``MARK=mark``: a run's parent and all it started,
    whatever they changed in their own environment (a worker sets its own TMPDIR)."""
    import psutil

    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(MARK) == mark:
                found.append(process)
        except psutil.Error:
            continue
    return found


def lasting(processes: list) -> list:
    """The processes that will outlive this moment: not multiprocessing's resource tracker (it
    follows its parent out on its own), and not one already in its exit, whose memory the kernel
    has released (its command line reads empty) or that only waits to be reaped."""
    import psutil

    left = []
    for process in processes:
        try:
            command = process.cmdline()
            ending = not command or process.status() == psutil.STATUS_ZOMBIE
        except psutil.Error:
            continue
        if not ending and not any("resource_tracker" in part for part in command):
            left.append(process)
    return left
