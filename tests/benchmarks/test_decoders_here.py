"""Which decoder is fastest on this machine, and that no strategy outruns the ceiling it sets.

Bench-marked: both depend on this machine's libraries and its load (the ceiling and each strategy
are measured seconds apart, in different processes). tests/integration/test_decoders_and_knobs.py
checks what holds anywhere: the ceiling is the fastest decoder's, and every rate is set against it.
"""

from __future__ import annotations

from profiler.base.settings import Target
from profiler.ceiling.limit import measure_ceiling
from profiler.data.synthetic import DataSpec, prepare_data
from profiler.drivers.run import RunPlan, measure_run
from tests.integration.test_decoders_and_knobs import DECODING, QUICK

# 256 px JPEGs decoded to 96: TensorFlow may decode at a reduced scale, OpenCV decodes in full.
JPEGS_256_TO_96 = DataSpec(samples=96, height=96, width=96, source_size=256, seed=5)


def test_tensorflow_decodes_256_px_jpegs_to_96_faster_than_opencv(data_cache):
    source, _ = prepare_data(JPEGS_256_TO_96, data_cache)
    ceiling = measure_ceiling(source, cores=2, batch_size=QUICK.batch_size)
    assert ceiling.decoder != "opencv", [(d.name, d.work_per_sample_s) for d in ceiling.decoders]


def test_no_strategy_that_decodes_every_epoch_beats_the_ceiling_on_256_px_jpegs_to_96(
    data_cache, tmp_path
):
    plan = RunPlan(
        QUICK, tuple(Target.scenario(name) for name in DECODING), JPEGS_256_TO_96, data_cache
    )
    run = measure_run(plan, log_dir=tmp_path)
    assert run.ceiling is not None
    assert all(r.ok for r in run.scenarios), {r.name: r.error for r in run.scenarios}
    fractions = {r.name: r.ceiling_fraction for r in run.scenarios}
    assert all(0 < fraction <= 1.0 for fraction in fractions.values()), fractions
