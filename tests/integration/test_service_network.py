"""The tf.data service must be out of reach of the network: its servers listen in a private
namespace."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from profiler.system.network_namespace import IsolationUnavailable, enter_private_network
from tests.helpers import profiler_command, subprocess_env


def _listening_sockets(pid: int | str = "self") -> dict[int, int]:
    """socket inode -> port of every listening TCP socket in the network namespace of ``pid``."""
    found = {}
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if path.exists():
            for line in path.read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":  # LISTEN
                    found[int(fields[9])] = int(fields[1].rsplit(":", 1)[1], 16)
    return found


def _socket_inodes(process: psutil.Process) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{process.pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _net_namespace(pid: int | str) -> str:
    return os.readlink(f"/proc/{pid}/ns/net")


def _listen_privately(ports: multiprocessing.Queue) -> None:
    try:
        enter_private_network()
    except IsolationUnavailable as error:
        ports.put(str(error))
        return
    server = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    server.bind(("::", 0))  # every interface, as TensorFlow's servers bind
    server.listen()
    ports.put(server.getsockname()[1])
    time.sleep(60)


def test_a_server_on_every_interface_of_the_private_namespace_is_unreachable_from_here():
    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    child = context.Process(target=_listen_privately, args=(ports,))
    child.start()
    try:
        port = ports.get(timeout=30)
        if isinstance(port, str):
            pytest.skip(f"no private network namespace on this system: {port}")
        assert _net_namespace(child.pid) != _net_namespace("self")
        assert port in _listening_sockets(child.pid).values()
        assert port not in _listening_sockets().values()
        for host in ("127.0.0.1", "::1"):
            with pytest.raises(OSError), socket.create_connection((host, port), timeout=2):
                pass
    finally:
        child.kill()
        child.join()


def test_no_process_of_a_data_service_run_listens_outside_its_private_namespace(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = subprocess_env(TMPDIR=str(scratch), TF_PIPELINE_PROFILER_CACHE=str(tmp_path / "cache"))
    process = subprocess.Popen(
        profiler_command(
            "run",
            "--scenario",
            "data_service",
            "--samples",
            "64",
            "--batch-size",
            "8",
            "--image-size",
            "16",
            "--source-size",
            "24",
            "--time-cap",
            "0.5",
            "--idle-time-cap",
            "0.3",
            "--step-ms",
            "5",
            "--service-workers",
            "1",
            "--output",
            str(tmp_path / "out"),
        ),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ours = _net_namespace("self")
    private_ports: set[int] = set()
    outside: list[str] = []
    try:
        while process.poll() is None:
            run = [process_ for process_ in psutil.Process(process.pid).children(recursive=True)]
            host_listening = _listening_sockets()
            for member in [psutil.Process(process.pid), *run]:
                try:
                    inodes = _socket_inodes(member)
                    namespace = _net_namespace(member.pid)
                    if namespace != ours:
                        private_ports |= set(_listening_sockets(member.pid).values())
                except (OSError, psutil.Error):
                    continue
                outside += [
                    f"{member.pid}: port {host_listening[i]}"
                    for i in inodes & host_listening.keys()
                ]
            time.sleep(0.2)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    if "no private network namespace" in stdout + stderr:
        pytest.skip("no private network namespace on this system")
    assert process.returncode == 0, stderr + stdout
    assert outside == []
    assert len(private_ports) >= 2, "the dispatcher and the worker were never seen listening"


def _try_with_a_thread(answers: multiprocessing.Queue) -> None:
    import threading

    stop = threading.Event()
    threading.Thread(target=stop.wait, daemon=True).start()
    try:
        enter_private_network()
        answers.put("entered")
    except IsolationUnavailable as error:
        answers.put(str(error))
    stop.set()


def test_entering_a_private_network_with_a_thread_running_is_refused():
    # Without privileges, a new user namespace needs a single-threaded caller: the order in the
    # worker (before the lifeline's thread and TensorFlow's) matters, and this makes a wrong one
    # fail under root as well.
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    child = context.Process(target=_try_with_a_thread, args=(answers,))
    child.start()
    try:
        assert "called with 2 threads running" in answers.get(timeout=30)
    finally:
        child.join(10)
