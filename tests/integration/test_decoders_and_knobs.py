"""The ceiling's decoders, strategies' knobs, autotune's values and the TensorBoard trace, with real
TensorFlow."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from profiler.base.settings import MeasureSettings, Target
from profiler.ceiling.limit import measure_ceiling
from profiler.data.synthetic import DataSpec, prepare_data
from profiler.drivers.run import RunPlan, measure_run
from tests.conftest import TINY_BATCH

QUICK = MeasureSettings(
    batch_size=TINY_BATCH,
    epochs=1,
    idle_epochs=1,
    step_ms=2.0,
    timeout_s=180.0,
    time_cap_s=0.5,
    idle_time_cap_s=0.2,
    window_s=0.02,
)
# Decoded every epoch: each is set against a ceiling set by the fastest decoder.
DECODING = ("generator", "threaded_generator", "parallel_map", "parallel_map_opencv", "tfrecord")


def test_the_ceiling_is_the_fastest_of_every_decoder_reduced_scale_included(
    data_cache, tmp_path, monkeypatch
):
    source, _ = prepare_data(
        DataSpec(samples=40, height=16, width=16, source_size=64, seed=3), data_cache
    )
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ceiling = measure_ceiling(source, cores=2, batch_size=8)
    # TensorFlow's temporary files there went with its scratch folder
    assert list(tmp_path.iterdir()) == []
    names = [decoder.name for decoder in ceiling.decoders]
    # 64 px to 16 allows a 1/4 decode
    assert names == [
        "opencv",
        "tensorflow",
        "tensorflow_reduced_4",
    ]
    fastest = min(ceiling.decoders, key=lambda decoder: decoder.work_per_sample_s)
    assert (ceiling.decoder, ceiling.work_per_sample_s) == (fastest.name, fastest.work_per_sample_s)
    assert [stage.name for stage in ceiling.stages.stages] == [
        "read",
        "decode",
        "resize+normalize",
        "batch",
        "feed",
        "consumer",
    ]
    png, _ = prepare_data(
        DataSpec(samples=40, height=16, width=16, source_size=64, image_format="png", seed=3),
        data_cache,
    )
    assert [decoder.name for decoder in measure_ceiling(png, cores=2, batch_size=8).decoders] == [
        "opencv",
        "tensorflow",
    ]


def test_every_strategy_that_decodes_every_epoch_is_set_against_the_ceiling(data_cache, tmp_path):
    # Which decoder is faster, and whether a strategy comes near the ceiling, depend on this
    # machine: those claims are in tests/benchmarks/test_decoders_here.py. Here: each rate is
    # divided by the ceiling's.
    spec = DataSpec(samples=48, height=16, width=16, source_size=64, seed=5)
    plan = RunPlan(QUICK, tuple(Target.scenario(name) for name in DECODING), spec, data_cache)
    run = measure_run(plan, log_dir=tmp_path)
    assert run.ceiling is not None
    assert all(r.ok for r in run.scenarios), {r.name: r.error for r in run.scenarios}
    for result in run.scenarios:
        assert result.ceiling_fraction == pytest.approx(
            result.samples_per_s / run.ceiling.samples_per_s
        ), result.name


def test_knobs_reach_the_pipeline_autotune_is_read_and_one_epoch_is_traced(
    tiny_images, data_cache, tmp_path
):
    targets = (
        Target.tuned("parallel_map", {"map_parallelism": 1, "prefetch": 2}),
        Target.tuned("parallel_map", {"no_such_knob": 1}),
    )
    plan = RunPlan(QUICK, targets, tiny_images.spec, data_cache, measure_ceiling=False)
    tuned, refused = measure_run(
        plan, log_dir=tmp_path / "logs", trace_dir=tmp_path / "trace"
    ).scenarios
    assert tuned.ok and tuned.name == "parallel_map[map_parallelism=1, prefetch=2]"
    # Parallelism fixed at 1 and a prefetch of 2: autotuning has nothing left to choose but a fused
    # map's own buffer, if any; with AUTOTUNE it reports the parallelism it chose.
    assert all(value.parameter != "parallelism" or value.value == 1 for value in tuned.autotune)
    assert not refused.ok and "parallel_map has no setting no_such_knob" in refused.error
    (trace,) = tuned.trace_files
    assert Path(trace).is_file() and Path(trace).parent.parent.name == "profile"
    # TensorBoard's profile plugin reads XSpace protos; parsed in a child, so TensorFlow stays out
    # of this process.
    parse = (
        "import sys; from tensorflow.tsl.profiler.protobuf import xplane_pb2; space = "
        "xplane_pb2.XSpace(); space.ParseFromString(open(sys.argv[1], 'rb').read()); "
        "print('\\n'.join(m.name for p in space.planes for m in p.event_metadata.values()))"
    )
    parsed = subprocess.run(
        [sys.executable, "-c", parse, trace],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert parsed.returncode == 0, parsed.stderr[-2000:]
    events = set(parsed.stdout.splitlines())
    assert any(name.startswith("Iterator::") for name in events), sorted(events)[:20]


def test_autotune_reports_the_parallelism_it_chose(tiny_images, data_cache, tmp_path):
    plan = RunPlan(
        QUICK,
        (Target.scenario("parallel_map"),),
        tiny_images.spec,
        data_cache,
        measure_ceiling=False,
    )
    (result,) = measure_run(plan, log_dir=tmp_path).scenarios
    chosen = {(value.node, value.parameter): value.value for value in result.autotune}
    assert any(
        parameter == "parallelism" and value >= 1 for (_, parameter), value in chosen.items()
    ), chosen


def test_every_built_in_knob_value_that_changes_the_pipeline_still_delivers_the_dataset(
    tiny_images, data_cache, tmp_path
):
    targets = (
        Target.tuned(
            "tfrecord",
            {
                "shards": 2,
                "cycle_length": 1,
                "interleave_parallelism": 4,
                "map_parallelism": 1,
                "private_threadpool": 2,
                "autotune_ram_budget_mib": 256,
            },
        ),
        Target.tuned(
            "parallel_map_opencv", {"decode": "per batch", "map_parallelism": 2, "prefetch": 1}
        ),
        Target.tuned("multiprocessing", {"transfer": "memory map", "workers": 3}),
        Target.tuned("threaded_generator", {"workers": 1}),
        Target.tuned("data_service", {"compression": "AUTO"}),
    )
    run = measure_run(
        RunPlan(QUICK, targets, tiny_images.spec, data_cache, measure_ceiling=False),
        log_dir=tmp_path,
    )
    assert {r.name: (r.status, r.error) for r in run.scenarios} == {
        t.name: ("ok", None) for t in targets
    }
    # TensorFlow's decode (the service's) may round a pixel apart from OpenCV's: "close" is its
    # "same".
    assert all(
        r.data_status in (("same", "close") if r.pixels_may_differ else ("same",))
        for r in run.scenarios
    ), {r.name: r.data_status for r in run.scenarios}
