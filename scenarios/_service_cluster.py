"""A local tf.data service cluster: one dispatcher and N workers, each in a spawned process.

Each server picks a free port itself and reports its address back over a queue, so two runs never
race for a port. TensorFlow's servers take no address to listen on: they listen on every interface.
The worker that starts the cluster has therefore moved into a network namespace whose only
interface is loopback (``Scenario.needs_private_network``), which its servers inherit; nothing
outside it can reach them. Each server ends itself if the worker dies (``profiler.lifeline``).
"""

from __future__ import annotations

import multiprocessing
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


def _serve_worker(dispatcher_address: str, addresses: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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

    def __init__(self, workers: int) -> None:
        self.workers = workers
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
                args=(self.target.removeprefix("grpc://"), addresses),
                name=f"tf-data-worker-{number}",
            )
            worker.start()
            self.processes.append(worker)
        for _ in range(self.workers):
            self.addresses.append(self._expect(addresses, "worker"))
        return self

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
