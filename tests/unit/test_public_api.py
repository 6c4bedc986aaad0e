"""The names users import: the library's exports, the plugin API, and the paths of earlier releases.

A strategy written against the flat module paths of 0.2 (``profiler.scenario``, ``profiler.data``)
must still load, as one module object under both names, with a warning naming the new path;
results files written by 0.2 must still load.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import profiler
from profiler.analysis.sweep_result import SweepResult, load_results
from profiler.base.moved import ELSEWHERE, MOVED
from profiler.drivers.run import RunEvents
from profiler.results.records import RunResult
from profiler.strategy import registry

ROOT = Path(__file__).resolve().parents[2]
# The results files shipped as examples, written by 0.2.0 on 2026-11-26 (format 2); runs a user
# makes into reports/ are not this test's business.
WRITTEN_BY_0_2 = (
    "example/results.json",
    "example-sweep/sweep.json",
    "preload-check/sweep.json",
    "preload-check/run-16000/results.json",
)
# Strategies as a third party wrote them for 0.2, importing every module they could by its old path.
OLD_STYLE = textwrap.dedent("""
    from profiler.data import DataSource
    from profiler.decode import augment_table
    from profiler.scenario import Knob, PipelineContext, Scenario
    from profiler.settings import MeasureSettings
    import profiler.storage as storage

    PREFETCH = Knob("prefetch", 2, (1, 4))


    class OldStyle(Scenario):
        name = "old_style"
        description = "written against the 0.2 import paths"
        knobs = (PREFETCH,)

        def open(self, ctx: PipelineContext):
            raise NotImplementedError


    SCENARIO = OldStyle()
    SAVE_RUN = storage.save_run
""")


def test_every_public_name_resolves_to_what_its_module_defines():
    for name in profiler.__all__:
        assert getattr(profiler, name) is not None, name
    assert profiler.measure_run.__module__ == "profiler.drivers.run"
    assert profiler.SweepResult is SweepResult


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'measure_everything'"):
        _ = profiler.measure_everything


def test_importing_the_package_loads_no_driver():
    # A spawned worker and the namespace launcher import the package first: it must stay light.
    code = (
        "import sys, profiler; print(sorted(m for m in sys.modules if m.startswith('profiler.')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == "['profiler.base', 'profiler.base.moved']"


@pytest.mark.parametrize("old", sorted(MOVED))
def test_each_old_module_path_is_its_new_module(old, monkeypatch):
    monkeypatch.delitem(sys.modules, f"profiler.{old}", raising=False)  # made by an earlier test
    with pytest.warns(DeprecationWarning, match=f"profiler.{old} moved to profiler.{MOVED[old]}"):
        module = importlib.import_module(f"profiler.{old}")
    assert module is importlib.import_module(f"profiler.{MOVED[old]}")
    assert module.__spec__.name == f"profiler.{MOVED[old]}", "the module keeps its own spec"


@pytest.mark.parametrize(("old", "name"), sorted(ELSEWHERE), ids=lambda key: str(key))
def test_names_that_left_their_old_module_are_found_where_they_went(old, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = importlib.import_module(f"profiler.{old}")
        where, renamed = ELSEWHERE[old, name]
        assert getattr(module, name) is getattr(
            importlib.import_module(f"profiler.{where}"), renamed
        )


def test_the_old_path_of_measure_run_leaves_the_function_in_place():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from profiler.measure_run import RunPlan, measure_run  # as 0.2 wrote it
    assert profiler.measure_run is measure_run
    assert profiler.RunPlan is RunPlan


def test_events_written_for_the_old_series_names_still_hear_each_step():
    heard = []

    class OldTuneEvents(RunEvents):
        def round_started(self, text: str) -> None:
            heard.append(("round", text))

    class OldScaleEvents(RunEvents):
        def count_started(self, text: str) -> None:
            heard.append(("count", text))

    OldTuneEvents().step_started("prefetch = 1, 4")
    OldScaleEvents().step_started("2 local worker(s)")
    RunEvents().step_started("nobody listens")
    assert heard == [("round", "prefetch = 1, 4"), ("count", "2 local worker(s)")]


def test_old_names_of_folders_forward_with_a_warning():
    from profiler.data.synthetic import DataSource

    with pytest.warns(DeprecationWarning, match="profiler.data.synthetic.DataSource"):
        from profiler.data import DataSource as old
    assert old is DataSource
    with pytest.raises(ImportError):
        from profiler.data import no_such_name  # noqa: F401


def test_a_strategy_written_against_the_old_paths_loads(tmp_path, monkeypatch):
    (tmp_path / "old_style_strategies.py").write_text(OLD_STYLE)
    monkeypatch.syspath_prepend(str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scenario = registry.resolve("old_style_strategies:SCENARIO")
    assert scenario.name == "old_style"
    assert [knob.name for knob in scenario.knobs] == ["prefetch"]
    module = sys.modules["old_style_strategies"]
    from profiler.results.files import save_run

    assert module.SAVE_RUN is save_run


@pytest.mark.parametrize("path", [ROOT / "reports" / name for name in WRITTEN_BY_0_2], ids=str)
def test_results_files_written_before_the_folders_still_load(path):
    loaded = load_results(path)
    assert isinstance(loaded, (RunResult, SweepResult))
    runs = loaded.runs if isinstance(loaded, SweepResult) else (loaded,)
    assert runs and all(run.scenarios for run in runs)
