"""A cold run reads its data from the disk: on this machine's disk, slower than from memory.

Bench-marked: how much slower, and whether at all, is the disk's and the load's to say.
tests/integration/test_user_data.py checks what holds anywhere: a cold run drops the data's pages
and no other file's.
"""

from __future__ import annotations

from dataclasses import replace

from profiler.results.records import STATUS_OK
from tests.integration.test_user_data import SETTINGS, _measure, _source, cached_file, many_bitmaps


def test_a_cold_run_is_slower_than_a_warm_one(tmp_path):
    folder = many_bitmaps(tmp_path / "bitmaps", count=3000)  # about 290 MiB
    source = _source(str(folder), tmp_path / "cache")
    cached_file(tmp_path / "unrelated.bin")  # skips where the filesystem keeps no page cache
    settings = replace(SETTINGS, batch_size=500, time_cap_s=2.0, idle_time_cap_s=0.3)
    warm = _measure(source, ["generator"], settings)[0]["generator"]
    cold = _measure(source, ["generator"], replace(settings, cold=True))[0]["generator"]
    for result in (warm, cold):
        assert result.status == STATUS_OK and result.data_status == "same", result.error
    assert cold.first_batch_s > warm.first_batch_s
    assert cold.samples_per_s < warm.samples_per_s
