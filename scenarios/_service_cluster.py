"""A local tf.data service cluster: one dispatcher and N workers, each in a spawned process.

Each server picks a free port itself and reports its address back over a queue, so two runs never
race for a port. TensorFlow's servers take no address to listen on: they listen on every interface.
The worker that starts the cluster has therefore moved into a network namespace whose only
interface is loopback (``Scenario.needs_private_network``), which its servers inherit; nothing
outside it can reach them. Each server ends itself if the worker dies (``profiler.lifeline``).

Each worker server is held to one core (round robin over the cores this process may use), set
before TensorFlow is imported so that its thread pools are sized for it: a worker is then a core's
worth of work, and the rate per worker says what one core of this machine delivers.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
from multiprocessing.process import BaseProcess
from typing import Any

from profiler.lifeline import Lifeline

_START_TIMEOUT_S = 120.0


def _serve_dispatcher(addresses: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    Lifeline.of_this_process().start()
    import tensorflow as tf

    server = tf.data.experimental.service.DispatchServer(tf.data.experimental.service.DispatcherConfig(port=0))
    addresses.put(("dispatcher", server.target))
    server.join()


def _serve_worker(dispatcher_address: str, addresses: Any, core: int | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if core is not None:
        os.sched_setaffinity(0, {core})
    Lifeline.of_this_process().start()
    import tensorflow as tf

    config = tf.data.experimental.service.WorkerConfig(
        dispatcher_address=dispatcher_address, worker_address="localhost:%port%", port=0
    )
    server = tf.data.experimental.service.WorkerServer(config)
    addresses.put(("worker", server._address))
    server.join()


class LocalCluster:
    """Start with ``start()``, always ``stop()``; ``target`` is the dispatcher's grpc:// address."""

    def __init__(self, workers: int, pinned: bool = True) -> None:
        self.workers = workers
        self.cores = sorted(os.sched_getaffinity(0)) if pinned else []
        self.target = ""
        self.processes: list[BaseProcess] = []
        self.addresses: list[str] = []  # HOST:PORT of the dispatcher, then of each worker

    def start(self) -> LocalCluster:
        context = multiprocessing.get_context("spawn")
        addresses = context.Queue()
        dispatcher = context.Process(target=_serve_dispatcher, args=(addresses,), name="tf-data-dispatcher")
        dispatcher.start()
        self.processes.append(dispatcher)
        self.target = self._expect(addresses, "dispatcher")
        self.addresses.append(self.target.removeprefix("grpc://"))
        for number in range(self.workers):
            worker = context.Process(
                target=_serve_worker,
                args=(self.target.removeprefix("grpc://"), addresses,
                      self.cores[number % len(self.cores)] if self.cores else None),
                name=f"tf-data-worker-{number}",
            )
            worker.start()
            self.processes.append(worker)
        for _ in range(self.workers):
            self.addresses.append(self._expect(addresses, "worker"))
        return self

    def roles(self) -> dict[int, str]:
        """pid -> role of every server process, for the CPU each role uses."""
        return {process.pid: "dispatcher" if number == 0 else "service workers"
                for number, process in enumerate(self.processes) if process.pid is not None}

    def ports(self) -> list[int]:
        return [int(address.rsplit(":", 1)[1]) for address in self.addresses]

    def _expect(self, addresses: Any, role: str) -> str:
        try:
            got_role, address = addresses.get(timeout=_START_TIMEOUT_S)
        except queue.Empty:
            raise RuntimeError(f"the tf.data service {role} did not start within {_START_TIMEOUT_S:g} s") from None
        if got_role != role:
            raise RuntimeError(f"expected the {role} to report, got the {got_role}")
        return address

    def stop(self) -> None:
        for process in reversed(self.processes):  # workers first, then the dispatcher
            if process.is_alive():
                process.terminate()
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join(5)
