"""Stop signals from outside, to every command that measures: the documented exit status, nothing
left running, nothing measured lost.

profiler.system.stopping: SIGTERM and SIGHUP end a run the way Ctrl-C does, with 128 + the signal's
number (143, 129), Ctrl-C with 130; the first stop signal decides, and the ones after it do not cut
the cleanup short. A worker and the tf.data service servers below it end themselves when their
parent dies (profiler.system.lifeline).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from profiler.analysis.scale_result import ScaleResult
from profiler.analysis.sweep_result import load_sweep
from profiler.analysis.tune_result import TuneResult
from profiler.base.codec import decode
from profiler.results.files import load_run, read_results_json
from tests.helpers import (
    MARK,
    interruptible_profiler_command,
    lasting,
    marked_processes,
    profiler_command,
    subprocess_env,
)
from tests.integration.test_faults import TINY, _gone_within, _wait_for_grandchild
from tests.integration.test_scale import SMALL as SCALE_SMALL
from tests.integration.test_scale import _cmdline
from tests.integration.test_tune import SMALL as TUNE_SMALL

STUCK = "tests.fakes:QUICK,tests.fakes:HANG,tests.fakes:QUICK_TOO"


def _start(tmp_path: Path, command: list[str], **extra: str) -> tuple[subprocess.Popen, Path, Path]:
    """The CLI in a child, its scratch folder and its tree marked; with a pid file the HANG fake
    fills."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    pid_file = tmp_path / "grandchild.pid"
    env = subprocess_env(
        TMPDIR=str(scratch),
        TF_PIPELINE_PROFILER_CACHE=str(tmp_path / "cache"),
        FAKE_HANG_PID_FILE=str(pid_file),
        **{MARK: str(tmp_path)},
        **extra,
    )
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    return process, scratch, pid_file


def _ended(process: subprocess.Popen, code: int) -> tuple[str, str]:
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == code, (process.returncode, stderr[-3000:])
    assert "Traceback" not in stderr, stderr[-3000:]
    return stdout, stderr


def _nothing_left(tmp_path: Path, scratch: Path | None) -> None:
    # At once: the command ended what it started before it exited, not the lifelines after it.
    left = lasting(marked_processes(str(tmp_path)))
    assert left == [], [_cmdline(p) for p in left]
    left = _gone_within(str(tmp_path), 10)
    assert left == [], [_cmdline(p) for p in left]
    if scratch is not None:
        assert list(scratch.iterdir()) == []


def _end(process: subprocess.Popen) -> None:
    """Whatever happened, the command ends here; what it left is for the test to find, then for the
    fixture."""
    process.kill()
    process.wait(30)


@pytest.fixture(autouse=True)
def _no_leftover_survives(tmp_path):
    """After the test has looked (and whether or not it passed), nothing of the command's tree
    outlives it."""
    yield
    for leftover in marked_processes(str(tmp_path)):
        with contextlib.suppress(psutil.Error):
            leftover.kill()


def _only(pattern: str, folder: Path) -> Path:
    (path,) = folder.glob(pattern)
    return path


def _load(kind: type, path: Path, derived: dict[str, tuple[str, ...]]) -> object:
    """A tune's or scale's file read back into its record, as a later reader would, the keys written
    only for readers (``derived``: per field) left out."""
    record = {
        key: value
        for key, value in read_results_json(path).items()
        if key not in ("format_version", "kind")
    }
    for name, keys in derived.items():
        if isinstance(record.get(name), dict):
            record[name] = {key: value for key, value in record[name].items() if key not in keys}
    return decode(kind, record, str(path))


def _the_finished_row_is_kept(tmp_path: Path, stdout: str, scratch: Path, stopped_by: str) -> None:
    """QUICK's row saved as measured, HANG's marked interrupted by the signal, the report written,
    nothing left running or on disk."""
    results = _only("*/results.json", tmp_path / "out")
    run = load_run(results)
    assert run.interrupted is True
    rows = [(r.name, r.status, r.error) for r in run.scenarios]
    # A third scenario, measured beside them, was done before the signal or stopped by it.
    assert all(
        row[1:] in (("ok", None), ("interrupted", f"stopped by {stopped_by}")) for row in rows[2:]
    )
    assert rows[:2] == [
        ("tests.fakes:QUICK", "ok", None),
        ("tests.fakes:HANG", "interrupted", f"stopped by {stopped_by}"),
    ]
    assert (results.parent / "report.md").is_file() and "Run interrupted" in stdout
    _nothing_left(tmp_path, scratch)


def test_sighup_ends_a_run_as_a_hangup_and_keeps_what_was_measured(tmp_path):
    process, scratch, pid_file = _start(
        tmp_path,
        profiler_command(
            "run", "--scenario", STUCK, "--timeout", "300", "--output", str(tmp_path / "out"), *TINY
        ),
    )
    try:
        _wait_for_grandchild(pid_file, process, saved="tests.fakes:QUICK")
        process.send_signal(signal.SIGHUP)
        stdout, _ = _ended(process, 128 + signal.SIGHUP)
    finally:
        _end(process)
    _the_finished_row_is_kept(tmp_path, stdout, scratch, "SIGHUP")


def test_sigterm_ends_a_sweep_and_keeps_the_sizes_measured(tmp_path):
    argv = [*TINY, "--samples", "40,80,160"]  # the last --samples wins: three sizes
    process, scratch, pid_file = _start(
        tmp_path,
        profiler_command(
            "sweep",
            "--scenario",
            "tests.fakes:QUICK,tests.fakes:HANG",
            "--timeout",
            "300",
            "--output",
            str(tmp_path / "out"),
            *argv,
        ),
    )
    try:
        # the first size: QUICK measured, HANG stuck building
        _wait_for_grandchild(pid_file, process, saved="tests.fakes:QUICK")
        process.send_signal(signal.SIGTERM)
        _ended(process, 128 + signal.SIGTERM)
    finally:
        _end(process)
    path = _only("*/sweep.json", tmp_path / "out")
    sweep = load_sweep(path)
    assert sweep.interrupted is True
    (first,) = sweep.runs
    assert first.samples == 40
    assert [(r.name, r.status, r.error) for r in first.scenarios] == [
        ("tests.fakes:QUICK", "ok", None),
        ("tests.fakes:HANG", "interrupted", "stopped by SIGTERM"),
    ]
    assert (path.parent / "report.md").is_file()
    _nothing_left(tmp_path, scratch)


def _spawned(mark: str) -> list[psutil.Process]:
    return [p for p in marked_processes(mark) if "spawn_main" in " ".join(_cmdline(p))]


def test_sigterm_ends_a_tuning_mid_round_and_keeps_the_rounds_measured(tmp_path):
    process, scratch, _ = _start(
        tmp_path,
        profiler_command(
            "tune",
            "--scenario",
            "tests.fakes:PEAKED",
            "--output",
            str(tmp_path / "out"),
            *TUNE_SMALL,
            "--time-cap",
            "0.3",
        ),
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:  # a round saved, and a worker of the next one measuring
            found = list((tmp_path / "out").glob("*/tune.json"))
            if found and json.loads(found[0].read_text())["tuned"] and _spawned(str(tmp_path)):
                break
            if process.poll() is not None:
                pytest.fail(f"the tuning ended early: {process.communicate()}")
            time.sleep(0.1)
        else:
            pytest.fail("no round of the search finished")
        process.send_signal(signal.SIGTERM)
        stdout, _ = _ended(process, 128 + signal.SIGTERM)
    finally:
        _end(process)
    path = _only("*/tune.json", tmp_path / "out")
    tuned = _load(TuneResult, path, {"ceiling": ("samples_per_s", "bound_by")})
    assert tuned.interrupted is True
    (strategy,) = tuned.tuned
    assert strategy.trials and strategy.trials[0].knob == ""  # the defaults' round at least
    assert (path.parent / "report.md").is_file() and "Stopped early" in stdout
    _nothing_left(tmp_path, scratch)


# Scale from 1 to 2 workers, with short phases but for the paced one: at least 6 epochs of 20 steps
# of 15 ms or more, so a count goes on measuring for seconds after its servers listen.
SCALE = [
    *SCALE_SMALL,
    "--max-workers",
    "2",
    "--time-cap",
    "0.5",
    "--idle-time-cap",
    "0.3",
    "--idle-epochs",
    "6",
    "--samples",
    "160",
    "--timeout",
    "300",
]


def _first_count_saved(process: subprocess.Popen, tmp_path: Path) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        found = list((tmp_path / "out").glob("*/scale.json"))
        if found and json.loads(found[0].read_text())["points"]:
            return
        if process.poll() is not None:
            pytest.fail(f"scale ended before a count was saved: {process.communicate()}")
        time.sleep(0.2)
    pytest.fail("scale saved no count")


def _listening_servers(process: subprocess.Popen, tmp_path: Path, servers: int) -> list[tuple]:
    """Wait until ``servers`` servers listen: (address, port, its namespace's interfaces) of each
    socket."""
    deadline = time.monotonic() + 240
    sockets: list[tuple] = []
    while time.monotonic() < deadline:
        sockets = [
            entry for member in marked_processes(str(tmp_path)) for entry in _listening(member)
        ]
        if len({port for _, port, _ in sockets}) >= servers:
            return sockets
        if process.poll() is not None:
            pytest.fail(f"scale ended before {servers} servers listened: {process.communicate()}")
        time.sleep(0.1)
    pytest.fail(f"{servers} servers never listened: {sockets}")


def _listening(process: psutil.Process) -> list[tuple[str, int, tuple[str, ...]]]:
    """(address, port, interfaces of its network namespace) of each TCP socket the process listens
    on, read from its own namespace's table (psutil's net_connections reads this process's, where a
    private namespace's sockets are absent)."""
    try:
        inodes = set()
        for fd in Path(f"/proc/{process.pid}/fd").iterdir():
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
        tables = [
            Path(f"/proc/{process.pid}/net/{family}").read_text() for family in ("tcp", "tcp6")
        ]
        devices = Path(f"/proc/{process.pid}/net/dev").read_text().splitlines()[2:]
    except OSError:  # gone meanwhile
        return []
    interfaces = tuple(sorted(line.split(":", 1)[0].strip() for line in devices))
    found = []
    for table in tables:
        for line in table.splitlines()[1:]:
            columns = line.split()
            if columns[3] == "0A" and int(columns[9]) in inodes:  # LISTEN, and this process's
                address, port = columns[1].split(":")
                raw = bytes.fromhex(address)
                # /proc writes each 32-bit word of the address in the host's order (little-endian
                # here).
                ordered = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.append((str(ipaddress.ip_address(ordered)), int(port, 16), interfaces))
    return found


def test_sigterm_ends_a_scale_mid_count_and_its_servers_listen_on_loopback_only(tmp_path):
    process, scratch, _ = _start(
        tmp_path, profiler_command("scale", *SCALE, "--output", str(tmp_path / "out"))
    )
    try:
        _first_count_saved(process, tmp_path)
        # the second count's dispatcher and two workers
        sockets = _listening_servers(process, tmp_path, 3)
        process.send_signal(signal.SIGTERM)
        _ended(process, 128 + signal.SIGTERM)
    finally:
        _end(process)
    # TensorFlow's servers take a port but no address: reachable over loopback only means a loopback
    # address, or a network namespace whose only interface is loopback
    # (profiler.system.network_namespace).
    reachable = [
        (address, port, interfaces)
        for address, port, interfaces in sockets
        if not ipaddress.ip_address(address).is_loopback and interfaces != ("lo",)
    ]
    assert reachable == [], reachable
    path = _only("*/scale.json", tmp_path / "out")
    scaled = _load(ScaleResult, path, {"fit": ("predicted_here", "predicted_from_fewest")})
    assert scaled.interrupted is True
    assert [(point.workers, point.status) for point in scaled.points] == [
        (1, "ok"),
        (2, "interrupted"),
    ]
    assert (path.parent / "report.md").is_file()
    _nothing_left(tmp_path, scratch)


def _killed_leaves_nothing(process: subprocess.Popen, tmp_path: Path, within_s: float) -> None:
    """SIGKILL the command: whatever it started is gone within ``within_s``."""
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    left = _gone_within(str(tmp_path), within_s)
    assert left == [], [_cmdline(p) for p in left]


def test_sigkill_of_a_scale_leaves_no_server_or_worker_behind(tmp_path):
    process, _, _ = _start(
        tmp_path,
        profiler_command("scale", *SCALE, "--max-workers", "1", "--output", str(tmp_path / "out")),
    )
    try:
        # the dispatcher and the worker, the trainer's worker above them
        _listening_servers(process, tmp_path, 2)
        assert len(_spawned(str(tmp_path))) >= 3
        # Nobody is left to clean up: the trainer's worker finds its parent gone (its pipe closed,
        # or its lifeline) and stops its servers, and a server whose worker is gone ends itself
        # (profiler.system.lifeline).
        _killed_leaves_nothing(process, tmp_path, 15)
    finally:
        _end(process)
    # Killed before a count ended, it had saved no count; nor is a file left half written.
    assert [path.name for path in (tmp_path / "out").glob("*/*.json")] in ([], ["scale.json"])


@pytest.mark.parametrize("when", ["while its worker ends", "while its report is written"])
def test_a_second_signal_during_the_cleanup_does_not_cut_it_short(tmp_path, when):
    # Ctrl-C decides (130, "stopped by Ctrl-C"); the SIGTERM after it changes nothing.
    process, scratch, pid_file = _start(
        tmp_path,
        interruptible_profiler_command(
            "run", "--scenario", STUCK, "--timeout", "300", "--output", str(tmp_path / "out"), *TINY
        ),
    )
    try:
        _wait_for_grandchild(pid_file, process, saved="tests.fakes:QUICK")
        process.send_signal(signal.SIGINT)
        if when == "while its worker ends":
            time.sleep(0.1)
        # its workers are gone (multiprocessing's resource tracker lives as long as the run): what
        # is left
        else:
            # is saving, the report and the scratch folder
            with contextlib.suppress(psutil.Error):
                while any(
                    "resource_tracker" not in " ".join(_cmdline(child))
                    for child in psutil.Process(process.pid).children(recursive=True)
                ):
                    time.sleep(0.01)
            assert process.poll() is None, "the run ended before its report was written"
        process.send_signal(signal.SIGTERM)
        stdout, _ = _ended(process, 130)
    finally:
        _end(process)
    _the_finished_row_is_kept(tmp_path, stdout, scratch, "Ctrl-C")


USER_TESTS = '''
import os
import shlex
import subprocess
import time


def slow_batches():
    """Batches of a known shape, each after a long sleep, from a pipeline that started a process
    of its own (as a pool does); says in a file when the first batch is asked for."""
    import numpy as np
    import tensorflow as tf

    helper = subprocess.Popen(["sleep", "600"])

    def generate():
        with open(os.environ["PIPELINE_STARTED"], "a") as started:
            started.write(f"{helper.pid}\\n")
        for _ in range(4):
            time.sleep(1.0)
            yield np.zeros((4, 8, 8, 3), np.float32), np.zeros(4, np.int32)

    signature = (tf.TensorSpec((None, 8, 8, 3), tf.float32), tf.TensorSpec((None,), tf.int32))
    return tf.data.Dataset.from_generator(generate, output_signature=signature)


def test_pipeline(pipeline_benchmark):
    pipeline_benchmark(slow_batches, step_ms=5, epochs=3, idle_epochs=1)
'''


def test_ctrl_c_in_the_pytest_fixture_leaves_no_worker(tmp_path):
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    started = tmp_path / "started"
    # pytest as a terminal's foreground job runs it, Ctrl-C delivered (see
    # interruptible_profiler_command).
    start = (
        "import signal, sys, pytest; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.exit(pytest.main(sys.argv[1:]))"
    )
    process, _, _ = _start(
        tmp_path,
        [sys.executable, "-c", start, "-p", "no:cacheprovider", "-q", "test_user.py"],
        PIPELINE_STARTED=str(started),
        PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path), subprocess_env()["PYTHONPATH"]])),
    )
    try:
        deadline = time.monotonic() + 120
        # the worker is measuring the pipeline
        while not started.exists() and time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"pytest ended before the pipeline ran: {process.communicate()}")
            time.sleep(0.05)
        time.sleep(0.1)  # the line written whole
        assert started.exists(), "the pipeline never started"
        helper = int(started.read_text().split()[0])
        assert helper in {member.pid for member in marked_processes(str(tmp_path))}
        process.send_signal(signal.SIGINT)
        stdout, _ = _ended(process, pytest.ExitCode.INTERRUPTED)
    finally:
        _end(process)
    assert "KeyboardInterrupt" in stdout
    _nothing_left(tmp_path, None)


def test_a_run_left_behind_by_a_shell_that_exits_loses_no_frozen_worker(tmp_path):
    # Started in the background of a shell with job control that then exits: the run's process
    # group is orphaned. The kernel sends an orphaned group that holds a stopped process SIGHUP,
    # which would end every worker frozen between its turns; each worker has a group of its own.
    out, log = tmp_path / "out", tmp_path / "run.log"
    command = profiler_command(
        "run",
        "--scenario",
        "tests.fakes:STEADY_20MS,tests.fakes:STEADY_25MS",
        *TINY[:-4],
        "--time-cap",
        "3",
        "--idle-time-cap",
        "1",
        "--output",
        str(out),
    )
    env = subprocess_env(
        TF_PIPELINE_PROFILER_CACHE=str(tmp_path / "cache"), **{MARK: str(tmp_path)}
    )
    # The shell exits once the workers take turns (the line that says they are measured, then a
    # second).
    quoted = shlex.quote(str(log))
    script = (
        f"set -m; {shlex.join(command)} > {quoted} 2>&1 & "
        f"until grep -q '^Measuring' {quoted}; do sleep 0.2; done; sleep 1"
    )
    shell = subprocess.Popen(["bash", "-c", script], cwd=tmp_path, env=env, start_new_session=True)
    assert shell.wait(120) == 0
    assert marked_processes(str(tmp_path)), "the run ended before its shell did: nothing was tested"
    assert _gone_within(str(tmp_path), 120) == [], log.read_text()[-2000:]
    (path,) = out.glob("*/results.json")
    statuses = [
        (s["name"], s["status"], s["error"]) for s in json.loads(path.read_text())["scenarios"]
    ]
    assert statuses == [
        ("tests.fakes:STEADY_20MS", "ok", None),
        ("tests.fakes:STEADY_25MS", "ok", None),
    ], log.read_text()[-2000:]


def test_sigkill_while_the_ceiling_is_measured_leaves_no_process_behind(tmp_path):
    # 1,000 samples: the ceiling's process times its decoders for seconds, long after the parent
    # is gone, unless it ends with it.
    process, _, _ = _start(
        tmp_path,
        profiler_command(
            "run", "--scenario", "tests.fakes:QUICK", "--samples", "1000", "--output", "out"
        ),
    )
    try:
        # The worker and the reference start first; the third spawned process is the ceiling's.
        deadline = time.monotonic() + 120
        while len(_spawned(str(tmp_path))) < 3 and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[1][-2000:]
            time.sleep(0.02)
        assert len(_spawned(str(tmp_path))) >= 3
        # Its lifeline sees the parent gone within half a second and ends it, with what it started.
        _killed_leaves_nothing(process, tmp_path, 4)
    finally:
        _end(process)


def test_a_grandchild_the_pipeline_daemonized_ends_with_the_run(tmp_path):
    # A double fork and setsid leave the daemon no parent in the worker's tree; the worker adopts
    # it (a child subreaper), so the run still ends it.
    pid_file = tmp_path / "daemon.pid"
    process, scratch, _ = _start(
        tmp_path,
        profiler_command(
            "run",
            "--scenario",
            "tests.fakes:DAEMONIZING",
            "--data",
            "arrays",
            *TINY,
            "--output",
            "out",
        ),
        FAKE_DAEMON_PID_FILE=str(pid_file),
    )
    try:
        _ended(process, 0)
        daemon = int(pid_file.read_text())
        deadline = time.monotonic() + 10
        while psutil.pid_exists(daemon) and time.monotonic() < deadline:
            time.sleep(0.1)
        alive = psutil.pid_exists(daemon) and psutil.Process(daemon).status() != "zombie"
        assert not alive, _cmdline(psutil.Process(daemon))
        _nothing_left(tmp_path, scratch)
    finally:
        _end(process)
        with contextlib.suppress(Exception):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_ctrl_c_while_the_tool_loads_says_so_in_one_line(tmp_path):
    # Ctrl-C lands while the commands are imported (the first ~0.2 s): made certain here by an
    # import that raises it.
    start = (
        "import importlib.abc, runpy, sys\n"
        "class Stop(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'profiler.commands':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Stop())\n"
        "sys.argv[0] = 'profiler'\n"
        "runpy.run_module('profiler', run_name='__main__', alter_sys=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", start, "run"],
        cwd=tmp_path,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (130, "interrupted: stopped by Ctrl-C\n")


def test_a_pipeline_ends_its_own_children_with_sigterm(tiny_images, tmp_path, monkeypatch):
    """The worker starts with the stop signals as a fresh process has them, whatever its parent
    held back while starting it: a pipeline's process pool ends its processes with SIGTERM, and a
    pool process that SIGTERM cannot reach leaves ``Pool.terminate`` waiting forever."""
    from profiler.base.settings import MeasureSettings, Target
    from profiler.measuring.runner import Runner
    from tests.fakes import SIGNALS_FILE_ENV

    found_file = tmp_path / "signals.json"
    monkeypatch.setenv(SIGNALS_FILE_ENV, str(found_file))
    settings = MeasureSettings(
        batch_size=16, epochs=1, idle_epochs=1, step_ms=5.0, timeout_s=60.0, time_cap_s=0.5
    )
    with Runner(tiny_images, settings) as runner:
        result = runner.run(Target.scenario("tests.fakes:SIGNALS"))
    assert result.status == "ok", result.error
    found = json.loads(found_file.read_text())
    stop_signals = {int(signal.SIGINT), int(signal.SIGTERM), int(signal.SIGHUP)}
    assert not stop_signals & set(found["blocked"]), found
    assert found["sigint_ignored"], found  # Ctrl-C stays the parent's to act on
    assert found["child_exitcode"] == -signal.SIGTERM, found
