"""The markdown report and the terminal table, pinned by golden files; plots checked as real PNGs.

Regenerate the golden files after an intended change with: UPDATE_GOLDEN=1 python -m pytest
tests/unit (the tests that rewrite a file fail, saying so: review the diff, then run again without
it).
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pytest

from profiler.commands import main
from profiler.reporters.run import RunMarkdownReporter, RunTerminalReporter, write_run_report
from profiler.results.files import FORMAT_VERSION, load_run

DATA = Path(__file__).resolve().parent.parent / "data"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check_golden(texts: dict[str, str]) -> None:
    """Each golden file in tests/data, by name, against the text rendered now.

    With UPDATE_GOLDEN set, every one is rewritten and the test fails: an update run passes nothing,
    so a run that had the variable set is never mistaken for a check.
    """
    if os.environ.get("UPDATE_GOLDEN"):
        changed = [
            name
            for name, text in texts.items()
            if not (DATA / name).exists() or (DATA / name).read_text() != text
        ]
        for name, text in texts.items():
            (DATA / name).write_text(text)
        what = f"changed: {', '.join(changed)}" if changed else "no change"
        pytest.fail(
            f"UPDATE_GOLDEN: rewrote {', '.join(texts)} ({what}): review the diff and run again "
            "without UPDATE_GOLDEN",
            pytrace=False,
        )
    for name, text in texts.items():
        assert text == (DATA / name).read_text(), (
            f"{name} changed; if intended, regenerate with UPDATE_GOLDEN=1"
        )


def test_markdown_report_matches_golden():
    stream = io.StringIO()
    RunMarkdownReporter(stream).render(load_run(DATA / "run_base.json"), {"Memory": "memory.png"})
    _check_golden({"report_golden.md": stream.getvalue()})


def test_terminal_table_matches_golden():
    stream = io.StringIO()
    RunTerminalReporter(stream, width=120, color=False).render(load_run(DATA / "run_base.json"))
    _check_golden({"table_golden.txt": stream.getvalue()})


@pytest.mark.parametrize("width", [80, 200])
def test_terminal_table_at_80_and_200_columns_matches_golden(width):
    stream = io.StringIO()
    RunTerminalReporter(stream, width=width, color=False).render(load_run(DATA / "run_base.json"))
    text = stream.getvalue()
    assert max(len(line.rstrip()) for line in text.splitlines()) <= width
    _check_golden({f"table_golden_{width}.txt": text})


@pytest.mark.parametrize("width", range(40, 201, 8))
def test_no_cell_is_ever_broken_whatever_the_width(width):
    from profiler.reporters.run import row_cells

    run = load_run(DATA / "run_base.json")
    stream = io.StringIO()
    RunTerminalReporter(stream, width=width, color=False).render(run)
    lines = stream.getvalue().splitlines()
    for result in run.scenarios:
        for cell in row_cells(result)[1:]:
            assert any(cell in line for line in lines), f"'{cell}' is broken at {width} columns"


@pytest.mark.parametrize("width", [60, 80, 120])
def test_a_comparison_fits_the_width_and_keeps_names_and_figures_whole(width):
    from profiler.analysis.comparison import compare_runs
    from profiler.analysis.thresholds import parse_thresholds
    from profiler.reporters.compare import ComparisonTerminalReporter, comparison_rows

    comparison = compare_runs(
        load_run(DATA / "run_base.json"),
        load_run(DATA / "run_new.json"),
        parse_thresholds("samples_per_s:10%,peak_rss_mib:15%"),
    )
    stream = io.StringIO()
    ComparisonTerminalReporter(stream, width=width, color=False).render(comparison)
    lines = stream.getvalue().splitlines()
    assert max(len(line.rstrip()) for line in lines) <= width
    for row in comparison_rows(comparison):
        for cell in row[:5]:
            assert any(cell in line for line in lines), f"'{cell}' is broken at {width} columns"


def test_a_pipe_takes_its_width_from_columns(monkeypatch):
    from profiler.reporters.common import FILE_WIDTH, terminal_console

    monkeypatch.delenv("COLUMNS", raising=False)
    assert terminal_console(io.StringIO()).width == FILE_WIDTH
    monkeypatch.setenv("COLUMNS", "80")
    assert terminal_console(io.StringIO()).width == 80
    monkeypatch.setenv("COLUMNS", "200")
    assert terminal_console(io.StringIO()).width == 200


def test_report_command_writes_valid_plots_referenced_by_the_report(tmp_path, capsys):
    assert main(["report", str(DATA / "run_base.json"), "-o", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert sorted(images) == [
        "idle.png",
        "memory.png",
        "peaks.png",
        "stages.png",
        "throughput.png",
        "waits.png",
    ]
    for name in images:
        data = (tmp_path / name).read_bytes()
        assert data.startswith(PNG_MAGIC), name
        import matplotlib.image

        pixels = matplotlib.image.imread(tmp_path / name)
        assert pixels.shape[0] > 200 and pixels.shape[1] > 400, name
        assert pixels.std() > 0.01, f"{name} is blank"
    assert "pick `generator_prefetch`" in report
    assert "my_pipeline: timeout" in report
    assert f"Report: {tmp_path / 'report.md'}" in capsys.readouterr().out


def test_report_is_written_beside_the_results_by_default(tmp_path):
    results = tmp_path / "results.json"
    results.write_text((DATA / "run_base.json").read_text())
    assert main(["report", str(results)]) == 0
    assert (tmp_path / "report.md").exists() and (tmp_path / "memory.png").exists()


def test_write_report_without_measurements_still_writes_markdown(tmp_path):
    data = json.loads((DATA / "run_base.json").read_text())
    data["scenarios"] = [s for s in data["scenarios"] if s["status"] != "ok"]
    data["recommendation"] = None
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    report = write_run_report(load_run(path), tmp_path / "out").read_text()
    assert "No recommendation" in report
    assert "![" not in report.split("## Plots")[0]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            json.dumps({"format_version": FORMAT_VERSION + 1, "scenarios": []}),
            f"is results format version {FORMAT_VERSION + 1}, this profiler reads versions 1 to "
            f"{FORMAT_VERSION}",
        ),
        ("{broken", "is not valid JSON"),
        (json.dumps({"scenarios": []}), "has no format_version"),
        (
            json.dumps({"format_version": FORMAT_VERSION, "scenarios": [{"status": "ok"}]}),
            "is malformed",
        ),
    ],
)
def test_report_refuses_bad_files_with_one_line(tmp_path, capsys, content, expected):
    path = tmp_path / "results.json"
    path.write_text(content)
    assert main(["report", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and expected in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_report_of_a_missing_file(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope.json")]) == 2
    assert "cannot read results file" in capsys.readouterr().err


def test_sweep_report_and_table_match_golden():
    from profiler.analysis.sweep_result import load_sweep
    from profiler.reporters.sweep import SweepMarkdownReporter, SweepTerminalReporter

    sweep = load_sweep(DATA / "sweep.json")
    report, table = io.StringIO(), io.StringIO()
    SweepMarkdownReporter(report).render(sweep, {"Peak memory": "memory_vs_samples.png"})
    SweepTerminalReporter(table, width=120, color=False).render(sweep)
    _check_golden(
        {"sweep_report_golden.md": report.getvalue(), "sweep_table_golden.txt": table.getvalue()}
    )


def test_report_command_renders_a_sweep_with_both_plots(tmp_path, capsys):
    assert main(["report", str(DATA / "sweep.json"), "-o", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert sorted(images) == ["epoch_vs_samples.png", "memory_vs_samples.png"]
    for name in images:
        assert (tmp_path / name).read_bytes().startswith(PNG_MAGIC), name
    assert "**The answer: pick `snapshot`**" in report


def test_compare_refuses_a_sweep_file_with_advice(capsys):
    assert main(["compare", str(DATA / "sweep.json"), str(DATA / "run_base.json")]) == 2
    assert (
        "not 'profiler run': pass a results.json written by 'profiler run'"
        in capsys.readouterr().err
    )
