"""A local tf.data service cluster: one dispatcher and N workers, each in a spawned process.

Each server picks a free port itself (port 0) and reports its address back over a pipe of its
own, so two runs never race for a port, and no semaphore outlives a killed run. TensorFlow's
servers take no address to listen on: they listen on every interface. The worker that starts the
cluster has therefore moved into a network namespace whose only interface is loopback
(``Scenario.needs_private_network``), which its servers inherit; nothing outside it can reach
them. Each server ends itself if the worker dies (``profiler.system.lifeline``), and the worker ends
itself, saying which, if a server dies while it is measuring (``watch``): a trainer whose server is
gone would wait for its batches until the timeout.

Each worker server is held to one core (round robin over the cores this process may use), set
before TensorFlow is imported so that its thread pools are sized for it: a worker is then a core's
worth of work, and the rate per worker says what one core of this machine delivers.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from profiler.strategy import DISPATCHER, SERVICE_WORKERS, Lifeline

_START_TIMEOUT_S = 120.0
_WATCH_S = 0.5
SERVER_DIED_EXIT = 70  # the exit status of a worker whose tf.data service server died


def _serve_dispatcher(reply: Connection) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    Lifeline.of_this_process().start()
    import tensorflow as tf

    server = tf.data.experimental.service.DispatchServer(
        tf.data.experimental.service.DispatcherConfig(port=0)
    )
    reply.send(server.target)
    reply.close()
    server.join()


def _serve_worker(reply: Connection, dispatcher_address: str, core: int | None) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if core is not None:
        os.sched_setaffinity(0, {core})
    Lifeline.of_this_process().start()
    import tensorflow as tf

    config = tf.data.experimental.service.WorkerConfig(
        dispatcher_address=dispatcher_address, worker_address="localhost:%port%", port=0
    )
    server = tf.data.experimental.service.WorkerServer(config)
    reply.send(server._address)
    reply.close()
    server.join()


class LocalCluster:
    """Start with ``start()``, always ``stop()``; ``target`` is the dispatcher's grpc:// address."""

    def __init__(self, workers: int, pinned: bool = True) -> None:
        self.workers = workers
        self.cores = sorted(os.sched_getaffinity(0)) if pinned else []
        self.target = ""
        self.processes: list[BaseProcess] = []
        self.addresses: list[str] = []  # HOST:PORT of the dispatcher, then of each worker
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> LocalCluster:
        """Every server started and listening; those started before a failure are stopped with
        it."""
        context = multiprocessing.get_context("spawn")
        try:
            self.target = self._expect(
                *self._spawn(context, "tf-data-dispatcher", _serve_dispatcher)
            )
            self.addresses.append(self.target.removeprefix("grpc://"))
            replies = [
                self._spawn(
                    context,
                    f"tf-data-worker-{number}",
                    _serve_worker,
                    self.addresses[0],
                    self.cores[number % len(self.cores)] if self.cores else None,
                )
                for number in range(self.workers)
            ]
            self.addresses += [self._expect(process, reply) for process, reply in replies]
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(
        self,
        context: multiprocessing.context.SpawnContext,
        name: str,
        target: object,
        *args: object,
    ) -> tuple[BaseProcess, Connection]:
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=target, args=(sender, *args), name=name)
        process.start()
        sender.close()  # the server's end only: its death reads as EOF here
        self.processes.append(process)
        return process, receiver

    @staticmethod
    def _expect(process: BaseProcess, reply: Connection) -> str:
        try:
            if reply.poll(_START_TIMEOUT_S):
                return str(reply.recv())
        except EOFError:
            raise RuntimeError(
                f"the tf.data service server {process.name} exited while starting (exit status "
                f"{process.exitcode})"
            ) from None
        finally:
            reply.close()
        raise RuntimeError(
            f"the tf.data service server {process.name} did not start within {_START_TIMEOUT_S:g} s"
        )

    def roles(self) -> dict[int, str]:
        """pid -> role of every server process, for the CPU each role uses."""
        return {
            process.pid: DISPATCHER if number == 0 else SERVICE_WORKERS
            for number, process in enumerate(self.processes)
            if process.pid is not None
        }

    def ports(self) -> list[int]:
        return [int(address.rsplit(":", 1)[1]) for address in self.addresses]

    def watch(self) -> LocalCluster:
        """End this process, naming the server, if one dies before ``stop``."""

        def watching() -> None:
            while not self._stopping.wait(_WATCH_S):
                dead = next((p for p in self.processes if not p.is_alive()), None)
                if dead is not None and not self._stopping.is_set():
                    print(
                        f"the tf.data service server {dead.name} (pid {dead.pid}) died with exit "
                        f"status {dead.exitcode}: its batches will never come",
                        file=sys.stderr,
                        flush=True,
                    )
                    os._exit(SERVER_DIED_EXIT)

        self._watcher = threading.Thread(target=watching, daemon=True, name="watch-tf-data-servers")
        self._watcher.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join(2 * _WATCH_S)
        for process in reversed(self.processes):  # workers first, then the dispatcher
            if process.is_alive():
                process.terminate()
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join(5)
