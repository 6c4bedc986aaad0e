"""compare: which metrics cross their thresholds, noise, warnings, exit codes."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from profiler.commands import main
from profiler.compare import Threshold, compare_runs, parse_thresholds
from profiler.errors import ProfilerError
from profiler.reporters.compare import ComparisonMarkdownReporter
from profiler.storage import load_run

DATA = Path(__file__).resolve().parent.parent / "data"
BASE, NEW = str(DATA / "run_base.json"), str(DATA / "run_new.json")


def _comparison(fail_on="samples_per_s:10%,peak_rss_mib:15%,idle_fraction:0.05"):
    return compare_runs(load_run(BASE), load_run(NEW), parse_thresholds(fail_on))


def test_flags_exactly_the_metrics_that_crossed_their_thresholds():
    comparison = _comparison()
    assert comparison.failed
    assert sorted(comparison.regressions) == [("cache", "peak_rss_mib"), ("generator", "samples_per_s")]
    verdicts = {(s.name, c.metric): c.verdict for s in comparison.scenarios for c in s.changes if c.verdict}
    assert verdicts[("generator_prefetch", "samples_per_s")] == "ok"  # 5% worse, limit 10%
    assert verdicts[("preload", "samples_per_s")] == "within noise"  # 20% worse, epochs spread 50%
    assert verdicts[("generator", "idle_fraction")] == "ok"


def test_scenarios_in_one_run_only_are_listed():
    comparison = _comparison()
    assert comparison.only_in_base == ("multiprocessing",)
    assert comparison.only_in_new == ("threaded_generator",)


def test_changed_source_and_foreign_machine_warn(tmp_path):
    comparison = _comparison()
    assert any("generator_prefetch: the scenario's source changed" in w for w in comparison.warnings)
    assert not any("different machines" in w for w in comparison.warnings)
    foreign = json.loads(Path(NEW).read_text())
    foreign["metadata"]["machine"].update(machine_id="bbbbbbbbbbbbbbbb", hostname="laptop", cpu_count=8)
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps(foreign))
    warnings = compare_runs(load_run(BASE), load_run(path), ()).warnings
    assert any("different machines (ci-runner-1, 2 CPUs against laptop, 8 CPUs)" in w for w in warnings)


def test_cli_exit_codes_and_markdown(tmp_path, capsys):
    markdown = tmp_path / "comment.md"
    assert main(["compare", BASE, NEW, "--markdown", str(markdown)]) == 1
    out = capsys.readouterr().out
    assert "FAILED: generator samples_per_s, cache peak_rss_mib." in out
    assert "Only in" in out and "Warning: generator_prefetch" in out
    text = markdown.read_text()
    assert text.startswith("## Input pipeline comparison")
    assert "**FAILED: generator samples_per_s, cache peak_rss_mib.**" in text
    assert "| generator | samples/s | 5,008 | 3,506 | -30.0% | **REGRESSION (limit 10%)** |" in text
    # Looser limits: nothing fails.
    assert main(["compare", BASE, NEW, "--fail-on", "samples_per_s:35%,peak_rss_mib:50%"]) == 0
    assert "PASSED: no check failed." in capsys.readouterr().out
    # A run compared with itself never fails.
    assert main(["compare", BASE, BASE]) == 0


def test_a_scenario_that_stops_completing_is_a_regression(tmp_path):
    broken = json.loads(Path(NEW).read_text())
    for scenario in broken["scenarios"]:
        if scenario["name"] == "generator_prefetch":
            scenario.update(status="crashed", error="worker killed by SIGKILL")
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    comparison = compare_runs(load_run(BASE), load_run(path), parse_thresholds("samples_per_s:90%"))
    assert comparison.regressions == [("generator_prefetch", "status")]


def test_markdown_comparison_matches_golden():
    stream = io.StringIO()
    ComparisonMarkdownReporter(stream).render(
        compare_runs(load_run(BASE), load_run(NEW), parse_thresholds("samples_per_s:10%,peak_rss_mib:15%"),
                     base_label="base.json", new_label="new.json")
    )
    path = DATA / "compare_golden.md"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(stream.getvalue())
    assert stream.getvalue() == path.read_text()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("samples_per_s", "cannot read the check"), ("speed:10%", "unknown metric 'speed'"),
     ("samples_per_s:10%,samples_per_s:5%", "appears twice"), ("samples_per_s:-3%", "cannot read the check")],
)
def test_bad_checks_are_refused(text, expected):
    with pytest.raises(ProfilerError, match=expected):
        parse_thresholds(text)


def test_threshold_forms():
    assert Threshold.parse("samples_per_s:10%") == Threshold("samples_per_s", 0.10, True)
    assert Threshold.parse(" idle_fraction : 0.05 ") == Threshold("idle_fraction", 0.05, False)


def test_bad_inputs_exit_2(tmp_path, capsys):
    wrong = tmp_path / "old.json"
    wrong.write_text(json.dumps({"format_version": 0}))
    assert main(["compare", str(wrong), NEW]) == 2
    assert "format version 0" in capsys.readouterr().err
    malformed = tmp_path / "bad.json"
    malformed.write_text("[1, 2")
    assert main(["compare", BASE, str(malformed)]) == 2
    assert "is not valid JSON" in capsys.readouterr().err
    assert main(["compare", BASE, NEW, "--fail-on", "nope:1%"]) == 2
    assert main(["compare", BASE, NEW, "--markdown", str(tmp_path / "missing" / "x.md")]) == 2
