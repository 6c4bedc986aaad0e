"""compare: which metrics cross their thresholds, the test that calls a change real, warnings, exit
codes.

The two runs are the format-1 files in tests/data, given window rates of a known spread: 5% for
most scenarios, 80% for preload, so its 20% drop cannot be told from noise while the generator's
30% drop can.
"""

from __future__ import annotations

import io
import json
import os
import stat
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from profiler.analysis.comparison import compare_runs
from profiler.analysis.thresholds import Threshold, parse_thresholds
from profiler.base.errors import ProfilerError
from profiler.commands import main
from profiler.reporters.compare import ComparisonMarkdownReporter
from profiler.results.files import load_run, save_run

DATA = Path(__file__).resolve().parent.parent / "data"
BASE_V1, NEW_V1 = DATA / "run_base.json", DATA / "run_new.json"
BASE, NEW = str(BASE_V1), str(NEW_V1)
SPREAD = {"preload": 0.8}  # relative standard deviation of the windows; 5% for the others
WINDOWS = 25


def _with_windows(source: Path, target: Path, seed: int) -> str:
    run = load_run(source)
    noise = np.random.default_rng(seed).standard_normal(WINDOWS)
    scenarios = []
    for result in run.scenarios:
        if result.samples_per_s:
            spread = SPREAD.get(result.name, 0.05)
            windows = tuple(float(result.samples_per_s * max(0.05, 1 + spread * z)) for z in noise)
            result = replace(result, window_samples_per_s=windows)
        scenarios.append(result)
    save_run(replace(run, scenarios=tuple(scenarios)), target)
    return str(target)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    return _with_windows(BASE_V1, folder / "base.json", 3), _with_windows(
        NEW_V1, folder / "new.json", 4
    )


def _comparison(runs, fail_on="samples_per_s:10%,peak_rss_mib:15%,idle_fraction:0.05"):
    return compare_runs(load_run(runs[0]), load_run(runs[1]), parse_thresholds(fail_on))


def test_flags_exactly_the_metrics_that_crossed_their_thresholds_and_are_real(runs):
    comparison = _comparison(runs)
    assert comparison.failed
    assert sorted(comparison.regressions) == [
        ("cache", "peak_rss_mib"),
        ("generator", "samples_per_s"),
        ("multiprocessing", "missing"),
    ]
    verdicts = {(s.name, c.metric): c for s in comparison.scenarios for c in s.changes if c.verdict}
    assert verdicts[("generator_prefetch", "samples_per_s")].verdict == "ok"  # 5% worse, limit 10%
    preload = verdicts[("preload", "samples_per_s")]
    assert preload.verdict == "not significant"  # 20% worse, but its windows spread 80%
    assert preload.evidence.low < 0 < preload.evidence.high
    generator = verdicts[("generator", "samples_per_s")]
    # 30% worse, windows spread 5%
    assert generator.evidence.significant and generator.evidence.high < -0.2
    assert verdicts[("generator", "idle_fraction")].verdict == "ok"


def test_without_window_rates_the_limit_alone_decides():
    # Format-1 files carry no windows: the 20% drop of preload is a regression by its limit.
    comparison = compare_runs(
        load_run(BASE_V1), load_run(NEW_V1), parse_thresholds("samples_per_s:10%")
    )
    assert sorted(comparison.regressions) == [
        ("generator", "samples_per_s"),
        ("multiprocessing", "missing"),
        ("preload", "samples_per_s"),
    ]


def test_a_copy_with_one_rate_halved_fails(runs, tmp_path):
    data = json.loads(Path(runs[0]).read_text())
    data["scenarios"][2]["samples_per_s"] /= 2  # the summary figure alone: the windows follow it
    halved = tmp_path / "halved.json"
    halved.write_text(json.dumps(data))
    assert main(["compare", runs[0], str(halved)]) == 1
    assert main(["compare", runs[0], runs[0]]) == 0


def test_scenarios_in_one_run_only_are_listed(runs):
    comparison = _comparison(runs)
    assert comparison.only_in_base == ("multiprocessing",)
    assert comparison.only_in_new == ("threaded_generator",)


def test_changed_source_and_foreign_machine_warn(runs, tmp_path):
    comparison = _comparison(runs)
    assert any(
        "generator_prefetch: the scenario's source changed" in w for w in comparison.warnings
    )
    assert not any("different machines" in w for w in comparison.warnings)
    foreign = json.loads(Path(runs[1]).read_text())
    foreign["metadata"]["machine"].update(
        machine_id="bbbbbbbbbbbbbbbb", hostname="laptop", cpu_count=8
    )
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps(foreign))
    warnings = compare_runs(load_run(runs[0]), load_run(path), ()).warnings
    assert any(
        "different machines (ci-runner-1, 2 CPUs against laptop, 8 CPUs)" in w for w in warnings
    )
    # Alike by name and CPU count: the field that differs is named.
    foreign["metadata"]["machine"].update(hostname="ci-runner-1", cpu_count=2)
    foreign["metadata"]["machine"]["memory_total_mib"] += 1024
    path.write_text(json.dumps(foreign))
    warnings = compare_runs(load_run(runs[0]), load_run(path), ()).warnings
    (warning,) = [w for w in warnings if "different machines" in w]
    assert "MiB against" in warning and "2 CPUs against" not in warning, warning


def test_cli_exit_codes_and_markdown(runs, tmp_path, capsys):
    base, new = runs
    markdown = tmp_path / "comment.md"
    assert main(["compare", base, new, "--markdown", str(markdown)]) == 1
    out = capsys.readouterr().out
    assert "FAILED: generator samples_per_s, cache peak_rss_mib, multiprocessing missing." in out
    assert "Only in" in out and "Warning: generator_prefetch" in out
    text = markdown.read_text()
    assert text.startswith("## Input pipeline comparison")
    assert (
        "**FAILED: generator samples_per_s, cache peak_rss_mib, multiprocessing missing.**" in text
    )
    # Four rows completed in both, two tests each: each test at 1 - 0.05 / 8.
    generator = "| generator | samples/s | 5,008 | 3,506 | -30.0% |"
    assert f"{generator} **REGRESSION (limit 10%; 99.4%: " in text
    # Looser limits: only the scenario missing from the new run fails.
    assert main(["compare", base, new, "--fail-on", "samples_per_s:35%,peak_rss_mib:50%"]) == 1
    assert "FAILED: multiprocessing missing." in capsys.readouterr().out
    assert main(["compare", new, new, "--fail-on", "samples_per_s:35%"]) == 0
    assert "PASSED: no check failed." in capsys.readouterr().out
    # A run compared with itself never fails.
    assert main(["compare", base, base]) == 0


def test_a_scenario_that_stops_completing_is_a_regression(runs, tmp_path):
    broken = json.loads(Path(runs[1]).read_text())
    for scenario in broken["scenarios"]:
        if scenario["name"] == "generator_prefetch":
            scenario.update(status="crashed", error="worker killed by SIGKILL")
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    comparison = compare_runs(
        load_run(runs[0]), load_run(path), parse_thresholds("samples_per_s:90%")
    )
    assert comparison.regressions == [
        ("generator_prefetch", "status"),
        ("multiprocessing", "missing"),
    ]


@pytest.mark.parametrize("how", ["interrupted", "empty", "not ok"])
def test_a_new_run_that_lacks_what_the_base_completed_fails_the_gate(runs, tmp_path, capsys, how):
    new = json.loads(Path(runs[0]).read_text())
    if how == "interrupted":  # killed after its first scenario
        new.update(interrupted=True, scenarios=new["scenarios"][:1])
    elif how == "empty":
        new["scenarios"] = []
    else:
        new["scenarios"][1].update(status="timeout", error="no result within --timeout 300 s")
    path = tmp_path / "new.json"
    path.write_text(json.dumps(new))
    assert main(["compare", runs[0], str(path)]) == 1
    assert "FAILED: " in capsys.readouterr().out


def test_a_gate_with_no_check_is_refused(runs, capsys):
    assert main(["compare", runs[0], runs[0], "--fail-on", ""]) == 2
    assert "--fail-on '' names no check: pass at least one METRIC:LIMIT" in capsys.readouterr().err


def test_markdown_comparison_matches_golden(runs):
    stream = io.StringIO()
    ComparisonMarkdownReporter(stream).render(
        compare_runs(
            load_run(runs[0]),
            load_run(runs[1]),
            parse_thresholds("samples_per_s:10%,peak_rss_mib:15%"),
            base_label="base.json",
            new_label="new.json",
        )
    )
    path = DATA / "compare_golden.md"
    if os.environ.get("UPDATE_GOLDEN"):  # an update run rewrites the file and passes nothing
        changed = not path.exists() or path.read_text() != stream.getvalue()
        path.write_text(stream.getvalue())
        pytest.fail(
            f"UPDATE_GOLDEN: rewrote {path.name} ({'changed' if changed else 'no change'}): review "
            "the diff and run again without UPDATE_GOLDEN",
            pytrace=False,
        )
    assert stream.getvalue() == path.read_text(), (
        f"{path.name} changed; if intended, regenerate with UPDATE_GOLDEN=1"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("samples_per_s", "cannot read the check"),
        ("speed:10%", "unknown metric 'speed'"),
        ("samples_per_s:10%,samples_per_s:5%", "appears twice"),
        ("samples_per_s:-3%", "cannot read the check"),
        # Limits no change reaches: a gate that can never fail.
        ("samples_per_s:" + "9" * 400 + "%", "too large to ever be reached: pass at most 10000%"),
        ("peak_rss_mib:" + "9" * 400, "too large to ever be reached"),
        ("samples_per_s:100%", "samples_per_s cannot get worse by 100%"),
        ("idle_fraction:1", "idle_fraction cannot get worse by 1,"),
    ],
)
def test_bad_checks_are_refused(text, expected):
    with pytest.raises(ProfilerError, match=expected):
        parse_thresholds(text)


def test_threshold_forms():
    assert Threshold.parse("samples_per_s:10%") == Threshold("samples_per_s", 0.10, True)
    assert Threshold.parse(" idle_fraction : 0.05 ") == Threshold("idle_fraction", 0.05, False)
    # Large limits that a change can still reach are kept: memory may grow tenfold.
    assert Threshold.parse("peak_rss_mib:900%") == Threshold("peak_rss_mib", 9.0, True)
    assert Threshold.parse("samples_per_s:99%").limit == pytest.approx(0.99)


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


def test_the_ceilings_of_both_runs_are_shown_with_their_move_and_gate_nothing(runs):
    base, new = load_run(runs[0]), load_run(runs[1])
    assert base.ceiling is not None and new.ceiling is not None
    # The same work per sample, then 25% more of it: the ceiling falls to 1 / 1.25 of itself.
    slower = replace(new.ceiling, work_per_sample_s=base.ceiling.work_per_sample_s * 1.25)
    new = replace(new, ceiling=slower)
    thresholds = parse_thresholds("samples_per_s:10%")
    comparison = compare_runs(base, new, thresholds, "a.json", "b.json")
    ceiling = base.ceiling.samples_per_s
    assert comparison.ceilings == pytest.approx((ceiling, ceiling / 1.25))
    stream = io.StringIO()
    ComparisonMarkdownReporter(stream).render(comparison)
    assert (
        f"Ceiling: {ceiling:,.0f} samples/s in a.json, {ceiling / 1.25:,.0f} in b.json (-20.0%)"
        in stream.getvalue()
    )
    assert "one timing each" in stream.getvalue()
    same = compare_runs(base, replace(new, ceiling=base.ceiling), thresholds)
    assert same.regressions == comparison.regressions  # no check reads it
    # ceilings timed in the runs' turns say so
    in_turns = compare_runs(
        replace(base, ceiling=replace(base.ceiling, turns=14)),
        replace(new, ceiling=replace(slower, turns=12)),
        thresholds,
    )
    stream = io.StringIO()
    ComparisonMarkdownReporter(stream).render(in_turns)
    assert "(-20.0%): timed in 14 and 12 turns beside the strategies; no check" in stream.getvalue()


def test_markdown_never_replaces_a_compared_file_nor_what_is_not_a_regular_file(
    runs, tmp_path, capsys
):
    base, new = runs
    kept = Path(new).read_bytes()
    # The results file being compared, named directly or through a link: refused, left whole.
    link = tmp_path / "link.md"
    link.symlink_to(new)
    for target in (new, str(link)):
        assert main(["compare", base, new, "--markdown", target]) == 2
        error = capsys.readouterr().err
        assert "is the results file" in error and "pass another path" in error
        assert Path(new).read_bytes() == kept
    # A FIFO is not replaced by a regular file.
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)
    assert main(["compare", base, new, "--markdown", str(fifo)]) == 2
    assert "is not a regular file" in capsys.readouterr().err
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    # A link to a regular file: the file it points to is written, and the link stays a link.
    written = tmp_path / "comment.md"
    written.write_text("old")
    pointer = tmp_path / "pointer.md"
    pointer.symlink_to(written)
    assert main(["compare", base, new, "--markdown", str(pointer)]) == 1
    assert pointer.is_symlink() and written.read_text().startswith("## Input pipeline comparison")
