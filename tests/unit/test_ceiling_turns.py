"""The ceiling timed again in the measuring turns: its decode work rescaled by what the turns
measured, the other decoders' ratios and the read rate kept, an interval, one figure."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from profiler.base.codec import decode, encode
from profiler.ceiling.decoder_rates import OPENCV, DecoderRate, Timing
from profiler.ceiling.limit import LEAST_TURNS, Ceiling, in_turns, with_steadier_opencv
from profiler.reporters.common import ceiling_text

# Timed alone: OpenCV 1 ms a sample, TensorFlow's decoder 0.8 ms (the fastest), on 2 cores.
ALONE = Ceiling(
    0.0008,
    2,
    100,
    decoder="tensorflow",
    decoders=(DecoderRate(OPENCV, 0.001, 100), DecoderRate("tensorflow", 0.0008, 100)),
)


def test_turns_that_found_the_decode_slower_lower_the_ceiling_by_as_much():
    # In the turns OpenCV did 800 samples/s on one core, not 1,000: every decoder is 25% dearer.
    rates = [780.0, 800.0, 820.0, 790.0, 810.0, 800.0, 805.0]
    ceiling = in_turns(ALONE, rates)
    assert ceiling.work_per_sample_s == pytest.approx(0.0008 * 1.25)
    assert [d.work_per_sample_s for d in ceiling.decoders] == pytest.approx([0.00125, 0.001])
    assert ceiling.samples_per_s == pytest.approx(2 / 0.001)
    assert ceiling.alone_samples_per_s == pytest.approx(2 / 0.0008)
    assert ceiling.turns == 7
    low, high = ceiling.turns_samples_per_s_ci
    assert low < ceiling.samples_per_s < high
    # the interval is the turns' median interval, carried through the same arithmetic
    assert low >= 2 / 0.0008 * 780 / 1000 and high <= 2 / 0.0008 * 820 / 1000
    assert ceiling.decoder == "tensorflow" and ceiling.stages == ALONE.stages


def test_too_few_turns_leave_the_first_timing():
    assert in_turns(ALONE, [800.0] * (LEAST_TURNS - 1)) == ALONE


def test_a_ceiling_bound_by_reading_from_disk_stays_so_and_claims_no_interval():
    reading = Ceiling(
        0.001,
        2,
        100,
        read_mb_per_s=10.0,
        mb_per_sample=0.01,
        cold=True,
        decoders=ALONE.decoders[:1],
    )
    rates = [1900.0, 1950.0, 2000.0, 2050.0, 2100.0, 2000.0, 1980.0, 2020.0]
    ceiling = in_turns(reading, rates)  # the decode twice as fast in the turns
    assert ceiling.samples_per_s == pytest.approx(1000) and ceiling.bound_by == "reading"
    assert ceiling.compute_samples_per_s == pytest.approx(4000)
    # the disk bounds both ends: the turns leave the figure where the one read timing put it
    assert ceiling.turns == 8 and ceiling.turns_samples_per_s_ci is None
    text = ceiling_text(ceiling)
    assert "from disk" in text and "which bounds it" in text
    assert "8 turns beside the strategies (above what the disk allows throughout)" in text
    assert "95%" not in text


def test_a_warm_read_is_part_of_the_work_and_bounds_nothing_apart():
    # One thread read the files at 1,000 samples/s from the page cache; both cores decode 2,000.
    warm = Ceiling(
        0.001, 2, 100, read_mb_per_s=10.0, mb_per_sample=0.01, decoders=ALONE.decoders[:1]
    )
    assert warm.read_samples_per_s == pytest.approx(1000)
    assert warm.samples_per_s == pytest.approx(2000) and warm.bound_by == "decoding"
    ceiling = in_turns(warm, [400.0, 450.0, 500.0, 550.0, 600.0, 500.0, 480.0, 520.0])
    low, high = ceiling.turns_samples_per_s_ci
    assert ceiling.samples_per_s == pytest.approx(1000)
    assert low < ceiling.samples_per_s < high
    text = ceiling_text(ceiling)
    assert "from the page cache, a part of that work" in text and "bounds it" not in text


def test_the_text_says_where_the_figure_comes_from_and_it_survives_json():
    ceiling = in_turns(ALONE, [780.0, 800.0, 820.0, 790.0, 810.0, 800.0, 805.0])
    text = ceiling_text(ceiling)
    assert text.startswith("2,000 samples/s:")
    assert "the decode timed in 7 turns beside the strategies (95%: " in text
    assert "2,500 when first timed alone" in text
    assert decode(Ceiling, json.loads(json.dumps(encode(ceiling)))) == ceiling
    # a ceiling written before it was timed in turns reads back as timed alone
    old = {k: v for k, v in encode(ALONE).items() if k not in ("turns", "turns_samples_per_s_ci")}
    assert decode(Ceiling, old) == ALONE


def test_a_zero_width_interval_in_an_older_file_is_not_shown():
    # Written when one thread's warm read bound the ceiling: the turns could not move it.
    older = Ceiling(
        0.0002,
        2,
        100,
        read_mb_per_s=40.0,
        mb_per_sample=0.006,
        decoders=ALONE.decoders[:1],
        turns=26,
        turns_samples_per_s_ci=(6666.0, 6666.0),
        alone_samples_per_s=6666.0,
    )
    text = ceiling_text(older)
    assert text.startswith("10,000 samples/s:")  # read again, the decode bounds it
    assert "26 turns beside the strategies, 6,666 when first timed alone" in text
    assert "95%" not in text


def test_a_moment_of_load_on_opencvs_first_timing_does_not_carry_into_every_decoder():
    # As timed beside another run importing TensorFlow: OpenCV 3.04 ms a sample, then TensorFlow's
    # two decoders 0.24 and 0.19 ms; say OpenCV again, after them, 0.25 ms.
    loaded = (
        DecoderRate(OPENCV, 0.00304, 330),
        DecoderRate("tensorflow", 0.00024, 2048),
        DecoderRate("tensorflow_reduced_2", 0.00019, 2560),
    )
    rates = with_steadier_opencv(loaded, Timing(0.00025, 2000))
    assert [r.work_per_sample_s for r in rates] == [0.00025, 0.00024, 0.00019]
    assert rates[0].measured_samples == 2000 and rates[1:] == loaded[1:]
    alone = Ceiling(0.00019, 2, 2560, decoder="tensorflow_reduced_2", decoders=rates)
    # The turns' OpenCV on one core, about the second timing: the ceiling stays near 2 / 0.19 ms.
    ceiling = in_turns(alone, [3900.0, 4000.0, 4100.0, 3950.0, 4050.0, 4000.0, 3980.0])
    assert 2 / 0.00019 * 0.9 < ceiling.samples_per_s < 2 / 0.00019 * 1.1
    # Carried from the loaded first timing instead, every decoder would have been 12 times cheaper.
    unsteady = in_turns(replace(alone, decoders=loaded), [4000.0] * 7)
    assert unsteady.samples_per_s > 10 * ceiling.samples_per_s
    # A second timing slower than the first leaves the first.
    assert with_steadier_opencv(loaded, Timing(0.004, 250)) == loaded
