"""Rows that delivered different data are not ranked together; a function is measured with several
argument sets; a pipeline's memory growth is not claimed before anybody measured it."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest

from profiler.analysis.recommend import recommend
from profiler.base.errors import ProfilerError
from profiler.base.metadata import Metadata
from profiler.base.settings import MeasureSettings, Target
from profiler.commands.run_plans import named_apart
from profiler.data.fingerprint import Fingerprint
from profiler.data.synthetic import DataSpec
from profiler.drivers.run import with_results
from profiler.reporters.run import RunMarkdownReporter, RunTerminalReporter
from profiler.results.records import DataRecord, RunResult, ScenarioResult

AT = "at 20 ms/step"
SMALL = Fingerprint(4000, 125, (64, 64, 3), "float32", "int32", "00112233445566ff", "aa")
LARGE = Fingerprint(4000, 125, (224, 224, 3), "uint8", "int64", "ffeeddccbbaa9988", "bb")


def row(name, fingerprint, idle, rate, grows=False, matches=True):
    return ScenarioResult(
        name=name,
        status="ok",
        idle_fraction=idle,
        samples_per_s=rate,
        peak_rss_mib=50.0,
        memory_grows_with_data=grows,
        fingerprint=fingerprint,
        fingerprint_matches=matches,
    )


def _run(rows, expected=SMALL, targets=None):
    run = RunResult(
        metadata=Metadata(python="3.11"),
        settings=MeasureSettings(step_ms=20.0, batch_size=32),
        targets=targets or tuple(Target.scenario(r.name) for r in rows),
        data=DataRecord(DataSpec(samples=4000)) if expected is not None else None,
        expected_fingerprint=expected,
        created="2026-11-26T12:00:00+00:00",
    )
    return with_results(run, rows)


def _rendered(run):
    terminal, markdown = io.StringIO(), io.StringIO()
    RunTerminalReporter(terminal, width=200, color=False).render(run)
    RunMarkdownReporter(markdown).render(run)
    # The table's title wraps at its width: compare words, not line breaks.
    return " ".join(terminal.getvalue().split()), markdown.getvalue()


def test_a_pipeline_on_other_data_is_not_ranked_against_the_builtins():
    # The user's 224x224 pipeline is faster in samples/s than anything on 64x64 images could say.
    mine = replace(row("shop.data:make", LARGE, 0.0, 9000.0, grows=None), fingerprint_matches=None)
    run = _run(
        [row("generator", SMALL, 0.01, 3000.0), row("parallel_map", SMALL, 0.0, 6000.0), mine]
    )
    pick = run.recommendation
    assert pick.name == "parallel_map"
    assert pick.not_compared == ("shop.data:make",) and pick.compared_on == "64x64x3 float32"
    terminal, markdown = _rendered(run)
    for text in (terminal, markdown):
        assert (
            "Not ranked: shop.data:make delivered 4000 samples of 224x224x3 uint8, labels int64"
            in text
        )
        assert "not the 64x64x3 float32 of the rows ranked" in text
        assert "shop.data:make delivered other data and is not ranked" in text
    assert "224x224x3 uint8" in terminal  # its Data cell says what it delivered


def test_rows_that_delivered_the_same_data_are_ranked_together():
    mine = replace(row("shop.data:make", SMALL, 0.0, 9000.0, grows=None), fingerprint_matches=None)
    run = _run([row("generator", SMALL, 0.01, 3000.0), mine])
    assert run.recommendation.name == "shop.data:make" and run.recommendation.not_compared == ()


def test_without_a_dataset_most_rows_set_what_is_compared():
    rows = [
        replace(row(name, fp, 0.0, rate, grows=None), fingerprint_matches=None)
        for name, fp, rate in (("a:f", LARGE, 100.0), ("b:f", SMALL, 500.0), ("c:f", LARGE, 200.0))
    ]
    run = _run(rows, expected=None, targets=tuple(Target.pipeline(r.name) for r in rows))
    assert run.recommendation.name == "c:f" and run.recommendation.not_compared == ("b:f",)
    terminal, _ = _rendered(run)
    assert "data as each pipeline delivered it (see the Data column)" in terminal


def test_pipelines_alone_are_titled_by_what_they_delivered():
    rows = [replace(row("a:f", LARGE, 0.0, 100.0, grows=None), fingerprint_matches=None)]
    run = _run(rows, expected=None, targets=(Target.pipeline("a:f"),))
    terminal, markdown = _rendered(run)
    assert (
        "feeding a 20 ms training step: 4,000 samples of 224x224x3 uint8 an epoch, as delivered, "
        "batch 32" in terminal
    )
    assert "for 4,000 samples of 224x224x3 uint8 an epoch, as delivered in batches" in markdown


def test_flat_memory_is_claimed_only_for_strategies_known_to_stay_flat():
    built_in = recommend([row("generator", SMALL, 0.0, 3000.0)], AT)
    assert "whose memory stays flat as the dataset grows" in built_in.reason
    mine = recommend(
        [replace(row("a:f", SMALL, 0.0, 3000.0, grows=None), fingerprint_matches=None)], AT
    )
    assert "memory stays flat" not in mine.reason
    assert "measured at one size only" in mine.reason and "sweep --pipeline" in mine.reason


def test_one_function_with_two_argument_sets_is_two_targets_named_by_their_arguments():
    targets = named_apart(
        [
            Target.scenario("generator"),
            Target.pipeline("m:f", {"k": 1}),
            Target.pipeline("m:f", {"k": 2, "name": "x"}),
            Target.pipeline("n:g"),
        ]
    )
    assert [t.name for t in targets] == ["generator", "m:f(k=1)", "m:f(k=2, name='x')", "n:g"]
    names = [t.file_name for t in targets]
    assert names[0] == "generator" and names[3] == "n_g"
    # Arguments make a name that must be changed to be a file name: a hash of the whole name keeps
    # two apart that would otherwise read the same ("k=1" and "k='1'"), and a long one stays short.
    assert names[1].startswith("m_f_k_1-") and names[2].startswith("m_f_k_2_name_x-")
    one, text_one = (
        Target.pipeline("m:f", {"k": 1}).labelled(),
        Target.pipeline("m:f", {"k": "1"}).labelled(),
    )
    assert one.file_name != text_one.file_name
    assert len(Target.pipeline("m:f", {"k": "x" * 300}).labelled().file_name) <= 80
    with pytest.raises(ProfilerError, match="listed twice with the same --pipeline-arg values"):
        named_apart([Target.pipeline("m:f", {"k": 1}), Target.pipeline("m:f", {"k": 1})])
    with pytest.raises(ProfilerError, match="'generator' is listed twice: name each scenario once"):
        named_apart([Target.scenario("generator"), Target.scenario("generator")])


def test_a_builtin_that_delivered_wrong_data_is_noted_once_as_wrong():
    # checked against the dataset: it differs
    wrong = row("liar", LARGE, 0.0, 9000.0, matches=False)
    run = _run([row("generator", SMALL, 0.01, 3000.0), wrong])
    assert run.recommendation.name == "generator" and run.recommendation.not_compared == ()
    terminal, _ = _rendered(run)
    assert (
        "liar: delivered different data from the dataset" in terminal
        and "Not ranked" not in terminal
    )
