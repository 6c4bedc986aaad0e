"""The TensorFlow-native decode run by tf.data service workers, in their own processes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from profiler.scenario import PipelineContext, Scenario
from profiler.settings import ServiceSettings
from scenarios._shared import tensorflow_decode_map


class DataServiceScenario(Scenario):
    name = "data_service"
    summary = "tf.data service: dispatcher + --service-workers processes decode, the trainer batches"
    description = (
        "The parallel_map decode (TensorFlow ops only: tf.data service workers cannot run Python "
        "functions) runs on tf.data service workers: the runner starts a dispatcher and --service-"
        "workers worker servers as separate local processes and stops them afterwards (in a private "
        "network namespace whose only interface is loopback: TensorFlow's servers listen on every "
        "interface and authenticate no one), or uses an existing cluster given with --dispatcher "
        "grpc://HOST:PORT (its workers must see the dataset files at the same paths). Processing "
        "mode: distributed epoch with dynamic sharding, so every sample arrives exactly once per "
        "epoch and rates count each sample once. The trainer's process batches, so batches are the "
        "same as in the other scenarios; the service moves single samples, a cost that batching on "
        "the workers would cut. Each server process imports TensorFlow: seconds of start-up and "
        "hundreds of MiB each, all counted in the process tree's memory. Wins when one machine's "
        "cores cannot decode fast enough and other machines can. tf.data options: defaults."
    )
    pixels_may_differ = True
    data_kinds = ("images", "records")
    opt_in = "slow: starts a dispatcher and worker processes, each importing TensorFlow"

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
                cluster = LocalCluster(ctx.service.workers).start()
                target = cluster.target
                if not ctx.network_private:
                    ports = ", ".join(str(port) for port in cluster.ports())
                    ctx.warn(f"the tf.data service listens on every network interface, unauthenticated, on TCP "
                             f"ports {ports} until this scenario ends (--service-on-all-interfaces)")
            dataset = (
                tensorflow_decode_map(tf, ctx.source)
                .apply(service.distribute(processing_mode=service.ShardingPolicy.DYNAMIC, service=target))
                .batch(ctx.batch_size)
                .prefetch(tf.data.AUTOTUNE)
            )
            yield dataset
        finally:
            if cluster is not None:
                cluster.stop()


SCENARIO = DataServiceScenario()
