"""Every registered scenario, real TensorFlow, through the real runner, on tiny data."""

from __future__ import annotations

import psutil
import pytest

from profiler.base.settings import MeasureSettings, ServiceSettings, Target
from profiler.data.fingerprint import dataset_fingerprint
from profiler.data.synthetic import DataSpec, prepare_data
from profiler.drivers.kept_results import checked
from profiler.measuring.runner import Runner
from profiler.results.records import STATUS_OK
from profiler.strategy.registry import registered
from tests.conftest import TINY_BATCH
from tests.helpers import run_probe

SETTINGS = MeasureSettings(
    batch_size=TINY_BATCH,
    workers=2,
    epochs=2,
    idle_epochs=1,
    step_ms=2.0,
    timeout_s=180.0,
    time_cap_s=0.3,
    idle_time_cap_s=0.3,
    window_s=0.02,
)


@pytest.fixture(scope="module")
def image_results(tiny_images):
    with Runner(tiny_images, SETTINGS) as runner:
        return {name: runner.run(Target.scenario(name)) for name in registered()}


def test_every_scenario_completes(image_results):
    failures = {name: r.error for name, r in image_results.items() if r.status != STATUS_OK}
    assert not failures


def test_every_scenario_delivers_exactly_the_dataset(image_results, tiny_images):
    expected = dataset_fingerprint(tiny_images, TINY_BATCH)
    assert expected.samples == 70 and expected.batches == 5
    assert expected.image_shape == (24, 32, 3)
    assert (expected.image_dtype, expected.label_dtype) == ("float32", "int32")
    for name, result in image_results.items():
        if registered()[name].pixels_may_differ:
            # 48 -> 32 columns is not a whole-number factor: TensorFlow's resize may round apart.
            assert result.fingerprint.same_samples(expected), name
        else:
            assert result.fingerprint == expected, name


def test_tensorflow_decode_equals_opencv_at_a_whole_number_scale(data_cache):
    source, _ = prepare_data(
        DataSpec(kind="images", samples=40, height=24, width=24, source_size=48, seed=3), data_cache
    )
    with Runner(source, SETTINGS) as runner:
        target = Target.scenario("parallel_map")
        result = checked(runner.run(target), target, dataset_fingerprint(source, TINY_BATCH), None)
    assert result.status == STATUS_OK, result.error
    assert result.data_status == "same"


def test_partial_last_batch_counts_real_samples(image_results):
    for name, result in image_results.items():
        assert (result.batches_per_epoch, result.samples_per_epoch) == (5, 70), name
        assert result.samples_per_s == pytest.approx(result.batches_per_s * 70 / 5, rel=1e-6), name


def test_metrics_are_filled_and_consistent(image_results):
    for name, result in image_results.items():
        assert result.baseline_rss_mib > 300, (
            f"{name}: baseline is taken after importing TensorFlow"
        )
        assert result.peak_rss_mib is not None and result.peak_pss_mib is not None, name
        assert result.batches_per_s_min <= result.batches_per_s <= result.batches_per_s_max, name
        assert 0 < result.first_batch_s <= result.warmup_epoch_s, name
        assert result.build_s <= result.first_batch_s, name
        assert 0 <= result.idle_fraction < 1, name
        # Paced steps run on across epochs of 5 batches: at least one epoch's 4 steady steps.
        assert len(result.wait_ms) >= 4, name
        assert result.epoch_start_wait_ms > 0, name
        assert result.cpu_s is not None and result.cpu_s >= 0, name
        assert len(result.memory_timeline) > 10, name


def test_generators_state_their_prefetch_options(image_results):
    assert image_results["generator"].tf_data_options["inject_prefetch"] is False
    assert "inject_prefetch" in image_results["generator"].tf_data_options["explicit"]
    assert image_results["multiprocessing"].tf_data_options["inject_prefetch"] is False
    assert image_results["generator_prefetch"].tf_data_options["inject_prefetch"] is True


# 400 images of 128 x 128 decode to 75 MiB of float32: far above what a pipeline's runtime moves on
# its own (a streaming one on the same data peaks at a few tens of MiB), yet quick to make and
# decode.
PRELOAD_SPEC = DataSpec(kind="images", samples=400, height=128, width=128, source_size=128, seed=11)


def test_preload_holds_the_dataset_in_memory(data_cache, no_leftover_children):
    source, _ = prepare_data(PRELOAD_SPEC, data_cache)
    dataset_mib = PRELOAD_SPEC.samples * PRELOAD_SPEC.sample_bytes / (1 << 20)
    assert dataset_mib == 75.0
    with Runner(source, SETTINGS) as runner:
        preload, streaming = (
            runner.run(Target.scenario(name)) for name in ("preload", "generator")
        )
    assert preload.status == STATUS_OK and streaming.status == STATUS_OK, (
        preload.error,
        streaming.error,
    )
    # The whole decoded array is held, in resident and in proportional memory (its pages are the
    # worker's own).
    assert preload.peak_rss_mib >= dataset_mib and preload.peak_pss_mib >= dataset_mib
    # Beside the same data streamed a batch at a time, measured in the same test: what the two share
    # (the runtime, the decode's buffers) cancels, and the array is what is left, at least once
    # over.
    assert preload.peak_rss_mib - streaming.peak_rss_mib >= dataset_mib, (
        preload.peak_rss_mib,
        streaming.peak_rss_mib,
    )


def test_disk_caches_report_what_they_wrote(image_results, tiny_images):
    """The decoded dataset is 70 samples of 24x32x3 float32: a cache file or snapshot holds at least
    that (plus its framing), and the strategies that write nothing report nothing."""
    decoded_mib = 70 * tiny_images.spec.sample_bytes / (1 << 20)
    for name in ("cache_file", "snapshot"):
        written = image_results[name].disk_written_mib
        assert written is not None and decoded_mib * 0.9 <= written <= decoded_mib * 1.5, (
            name,
            written,
            decoded_mib,
        )
    assert image_results["generator"].disk_written_mib is None


# The pool the multiprocessing scenario starts (as many processes, spawned, their initializer run, a
# batch decoded by each), from a bare parent: its processes' resident and unique memory summed, in
# MiB. Unique: pages no other process maps, so they count whole in PSS; pages the pool's processes
# share (the same libraries) are unique to none of them, here as in the scenario.
POOL_PROCESS = """
import json, multiprocessing, sys
import psutil
from profiler.data.synthetic import prepare_data
from scenarios.multiprocessing_pool import _decode_range, _open_source
from tests.conftest import TINY_SPEC
if __name__ == "__main__":
    source, _ = prepare_data(TINY_SPEC, sys.argv[1])
    size = int(sys.argv[2])
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(size, initializer=_open_source, initargs=(source, None)) as pool:
        pool.map(_decode_range, [(0, 16)] * (4 * size), chunksize=1)
        members = [psutil.Process(process.pid).memory_full_info() for process in pool._pool]
        rss_mib = sum(m.rss for m in members) / 2**20
        print(json.dumps([rss_mib, sum(m.uss for m in members) / 2**20]))
"""


def test_multiprocessing_memory_includes_its_pool(image_results, data_cache, tmp_path):
    pool = SETTINGS.workers
    rss_mib, uss_mib = run_probe(POOL_PROCESS, tmp_path, str(data_cache), str(pool), timeout_s=120)
    result = image_results["multiprocessing"]
    # The worker's tree holds such a pool beside the worker, all above its baseline: its resident
    # memory counts whole, and its unique pages count whole in PSS too. (A tenth off for what a
    # process of the same code may hold less.)
    assert result.peak_rss_mib >= 0.9 * rss_mib, (result.peak_rss_mib, rss_mib)
    assert result.peak_pss_mib >= 0.9 * uss_mib, (result.peak_pss_mib, uss_mib)


def test_array_data_through_streaming_and_preload(tiny_arrays, no_leftover_children):
    expected = dataset_fingerprint(tiny_arrays, TINY_BATCH)
    with Runner(tiny_arrays, SETTINGS) as runner:
        results = [
            runner.run(Target.scenario(name)) for name in ("preload", "multiprocessing", "tfrecord")
        ]
    for result in results:
        assert result.status == STATUS_OK, result.error
        assert result.fingerprint == expected, result.name


@pytest.mark.parametrize("damage", ["cut short", "deleted"])
def test_a_damaged_tfrecord_shard_is_written_again(tmp_path, damage):
    spec = DataSpec(kind="images", samples=24, height=16, width=16, source_size=16, seed=11)
    source, _ = prepare_data(spec, tmp_path)
    expected = dataset_fingerprint(source, TINY_BATCH)
    with Runner(source, SETTINGS) as runner:
        assert runner.run(Target.scenario("tfrecord")).fingerprint == expected
        (folder,) = source.root.glob("tfrecord-*")
        shard = folder / "shard-03.tfrecord"
        if damage == "cut short":
            shard.write_bytes(shard.read_bytes()[:-20])
        else:
            shard.unlink()
        again = runner.run(Target.scenario("tfrecord"))
    assert again.status == STATUS_OK, again.error
    assert again.fingerprint == expected
    assert shard.stat().st_size > 20


def test_no_process_outlives_the_scenarios(image_results):
    # Pools, Keras's enqueuer processes and the data service's servers are all gone.
    alive = [
        p.cmdline()
        for p in psutil.Process().children(recursive=True)
        if p.is_running()
        and p.status() != psutil.STATUS_ZOMBIE
        and not any("resource_tracker" in part for part in p.cmdline())
    ]
    assert alive == []


def test_data_service_ran_its_own_servers(image_results):
    result = image_results["data_service"]
    # Three extra interpreters, each with TensorFlow imported, belong to the measured tree.
    assert result.peak_rss_mib > 3 * 300


def test_data_service_uses_an_existing_cluster_when_given_one(tiny_images):
    from dataclasses import replace

    from scenarios._service_cluster import LocalCluster

    cluster = LocalCluster(workers=1).start()
    try:
        settings = replace(SETTINGS, service=ServiceSettings(dispatcher=cluster.target))
        with Runner(tiny_images, settings) as runner:
            result = runner.run(Target.scenario("data_service"))
        servers = [p.pid for p in cluster.processes]
        assert all(psutil.pid_exists(pid) for pid in servers), (
            "the runner must not stop a cluster it did not start"
        )
    finally:
        cluster.stop()
    assert result.status == STATUS_OK, result.error
    assert result.fingerprint.same_samples(dataset_fingerprint(tiny_images, TINY_BATCH))
    # No servers of its own this time: only the trainer's process is in the measured tree.
    assert result.peak_rss_mib < 300
