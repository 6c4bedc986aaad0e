"""The TensorFlow-native decode run by tf.data service workers, in their own processes."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from profiler.strategy import Knob, MeasureSettings, PipelineContext, Scenario, ServiceSettings
from scenarios._service_batches import Epochs, trainer_batches, worker_batches

COMPRESSION = Knob(
    "compression",
    "none",
    ("AUTO",),
    code="compression={value!r}  # in tf.data.experimental.service.distribute",
    what="how workers compress batches before sending (AUTO: snappy, worth it on a slow network)",
)
# How long a cluster of the user's may take to show its workers.
_COUNT_TIMEOUT_S = 60.0


class DataServiceScenario(Scenario):
    name = "data_service"
    summary = (
        "tf.data service: dispatcher + --service-workers processes decode and batch, one job for "
        "all epochs"
    )
    description = (
        "The parallel_map decode (TensorFlow ops only: tf.data service workers cannot run Python "
        "functions) runs on tf.data service workers: the runner starts a dispatcher and --service-"
        "workers worker servers as separate local processes, each worker held to one core, and "
        "stops them afterwards (in a private network namespace whose only interface is loopback: "
        "TensorFlow's servers listen on every interface and authenticate no one), or uses an "
        "existing cluster given with --dispatcher grpc://HOST:PORT (its workers must see the "
        "dataset files at the same paths). Processing mode: distributed epoch with dynamic "
        "sharding, each split a batch's worth of samples (or a TFRecord file); the workers decode, "
        "batch and send uint8 pixels, which the trainer scales to float32. The splits repeat, so "
        "one job serves every epoch and its start-up is paid once; the trainer cuts the stream "
        "into epochs that hold every sample once. Each server process imports TensorFlow: seconds "
        "of start-up and hundreds of MiB each, all counted in the process tree's memory. Wins when "
        "one machine's cores cannot decode fast enough and other machines can (see `python -m "
        "profiler scale`). tf.data options: defaults; the service's compression off (its default, "
        "AUTO, spends CPU to save network)."
    )
    pixels_may_differ = True
    data_kinds = ("images", "records")
    opt_in = "slow: starts a dispatcher and worker processes, each importing TensorFlow"
    knobs = (COMPRESSION,)
    scales = True

    def cannot_measure(self, settings: MeasureSettings) -> str | None:
        # the page-cache drop is untimed, and the workers go on decoding through it
        if settings.cold:
            return (
                "cannot time cold reads: its workers read ahead across epochs while the page cache "
                "is dropped"
            )
        if settings.shuffle_buffer:
            return (
                "cannot take --shuffle-buffer: its workers batch the samples, and batches arrive "
                "as they are made"
            )
        return None

    def can_freeze(self, service: ServiceSettings) -> bool:
        # A cluster of the user's is not ours to stop, and its workers make batches ahead while the
        # trainer is frozen: those would be timed as if made in the trainer's turn.
        return service.dispatcher is None

    def needs_private_network(self, service: ServiceSettings) -> bool:
        return service.dispatcher is None  # a cluster of the user's own is reached over the network

    @contextmanager
    def open(self, ctx: PipelineContext) -> Iterator[Any]:
        import tensorflow as tf

        from scenarios._service_cluster import LocalCluster

        service = tf.data.experimental.service
        cluster = None
        target = ctx.service.dispatcher
        try:
            if not target:
                cluster = LocalCluster(ctx.service.workers).start().watch()
                target = cluster.target
                ctx.helpers.roles.update(cluster.roles())
                ctx.helpers.service_workers = ctx.service.workers
                if not ctx.network_private:
                    ports = ", ".join(str(port) for port in cluster.ports())
                    ctx.warn(
                        "the tf.data service listens on every network interface, unauthenticated, "
                        f"on TCP ports {ports} until this scenario ends "
                        "(--service-on-all-interfaces)"
                    )
            else:
                ctx.helpers.service_workers = count_workers(tf, target)
            endless, chunks = self.worker_batches(tf, ctx)
            compression = ctx.setting(COMPRESSION)
            distributed = endless.apply(
                service.distribute(
                    processing_mode=service.ShardingPolicy.DYNAMIC,
                    service=target,
                    compression=None if compression == "none" else compression,
                )
            )
            yield Epochs(trainer_batches(tf, distributed), chunks, ctx.batch_size)
        finally:
            if cluster is not None:
                cluster.stop()

    def worker_batches(self, tf: Any, ctx: PipelineContext) -> tuple[Any, int]:
        """The endless dataset the workers run, of (images, labels, chunk), and the chunks in an
        epoch."""
        assert ctx.source is not None
        return worker_batches(tf, ctx.source, ctx.batch_size)


def count_workers(tf: Any, target: str) -> int:
    """How many workers a cluster has: a job that is not sharded gets one element from each."""
    service = tf.data.experimental.service
    answers: queue.Queue[Any] = queue.Queue()

    def count() -> None:
        try:  # registering the dataset waits on the dispatcher too: all of it under the time limit
            one_each = tf.data.Dataset.range(1).apply(
                service.distribute(processing_mode=service.ShardingPolicy.OFF, service=target)
            )
            answers.put(sum(1 for _ in one_each))
        except Exception as error:  # noqa: BLE001 - handed to the caller's thread
            answers.put(error)

    threading.Thread(target=count, daemon=True, name="count-service-workers").start()
    try:
        answer = answers.get(timeout=_COUNT_TIMEOUT_S)
    except queue.Empty:
        raise RuntimeError(
            f"no tf.data service worker answered through {target} within {_COUNT_TIMEOUT_S:g} s: "
            "check that it is a tf.data service dispatcher with workers registered"
        ) from None
    if isinstance(answer, Exception):
        raise RuntimeError(f"could not reach the tf.data service at {target}: {answer}") from None
    if answer == 0:
        raise RuntimeError(
            f"the tf.data service at {target} has no workers: start some for this dispatcher"
        )
    return int(answer)


SCENARIO = DataServiceScenario()
