"""The built-in input-pipeline strategies, one module each, in the order they run.

They register with the profiler through the entry-point group ``tf_pipeline_profiler.scenarios``
(see pyproject.toml), as a third-party package would. Add a strategy by writing a module with a
``SCENARIO`` object and listing it below; a test fails when a module here is missing from the list.
Modules whose names start with an underscore hold helpers, not strategies.
"""

from __future__ import annotations

from scenarios import (
    cache,
    cache_file,
    data_service,
    generator,
    generator_prefetch,
    multiprocessing_pool,
    parallel_map,
    parallel_map_opencv,
    preload,
    pydataset,
    pydataset_processes,
    snapshot,
    tfrecord,
    threaded_generator,
)
from scenarios._snippets import SNIPPETS

SCENARIOS = (
    preload.SCENARIO,
    generator.SCENARIO,
    generator_prefetch.SCENARIO,
    multiprocessing_pool.SCENARIO,
    cache.SCENARIO,
    threaded_generator.SCENARIO,
    parallel_map.SCENARIO,
    parallel_map_opencv.SCENARIO,
    tfrecord.SCENARIO,
    cache_file.SCENARIO,
    snapshot.SCENARIO,
    pydataset.SCENARIO,
    pydataset_processes.SCENARIO,
    data_service.SCENARIO,
)

for _scenario in SCENARIOS:
    _scenario.snippet = SNIPPETS[_scenario.name]
