"""Numbers are printed as people write them: never in exponent form, whatever their size."""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path

import pytest

from profiler.analysis.comparison import compare_runs
from profiler.analysis.sweep_result import load_sweep
from profiler.analysis.thresholds import DEFAULT_FAIL_ON, parse_thresholds
from profiler.base.units import plain, significant
from profiler.reporters.compare import ComparisonMarkdownReporter, ComparisonTerminalReporter
from profiler.reporters.run import RunMarkdownReporter, RunTerminalReporter
from profiler.reporters.sweep import SweepMarkdownReporter, SweepTerminalReporter
from profiler.results.files import load_run

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLE = Path(__file__).resolve().parents[2] / "reports" / "example" / "results.json"
# What %g, %e and str() of a float write for a very large or very small number: 1e+12, 3.2E-09.
EXPONENT = re.compile(r"\d(?:\.\d+)?e[+-]\d+", re.IGNORECASE)
# Figures that stay within their bounds (a fraction, a percentage): scaled down only.
BOUNDED = ("idle_fraction", "precision", "idle_precision", "gpu_utilization_percent")
# %g writes an exponent from a million up and below 0.0001, str() from 1e16 up and below 0.0001:
# every figure scaled by these crosses both, rates and times alike.
FACTORS = (1e12, 1e-9)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2000.0, "2,000"),
        (1180.4, "1,180"),
        (137633.0, "137,633"),
        (7.134, "7.13"),
        (99.96, "100"),
        (0.05381, "0.0538"),
        (0.0000123, "0.0000123"),
        (-3.2, "-3.20"),
        (0.0, "0"),
        (1e7, "10,000,000"),
    ],
)
def test_significant_figures_without_exponents(value, text):
    assert significant(value) == text


@pytest.mark.parametrize(
    ("value", "text"), [(20.0, "20"), (0.001, "0.001"), (1e6, "1000000"), (2.5, "2.5")]
)
def test_settings_as_typed(value, text):
    assert plain(value) == text


def _scaled(value, factor: float, name: str = ""):
    """Every float of a record, however deep, times ``factor``; whole numbers, text and options
    kept."""
    if isinstance(value, float):
        return value if factor > 1 and name.startswith(BOUNDED) else value * factor
    if isinstance(value, tuple):
        return tuple(_scaled(item, factor, name) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(
            value,
            **{
                item.name: _scaled(getattr(value, item.name), factor, item.name)
                for item in dataclasses.fields(value)
                if item.init
            },
        )
    return value


def _renderings(factor: float) -> dict[str, str]:
    """Every rendering the golden files pin, and the example's run with its ceiling and stages, made
    now from results whose figures are all scaled by ``factor``."""
    texts = {}
    for label, path in (("run", DATA / "run_base.json"), ("example", EXAMPLE)):
        base = load_run(path)
        run = _scaled(base, factor)
        table, report = io.StringIO(), io.StringIO()
        RunTerminalReporter(table, width=200, color=False).render(run)
        RunMarkdownReporter(report).render(run, {"Memory": "memory.png"})
        comparison = compare_runs(base, run, parse_thresholds(DEFAULT_FAIL_ON))
        both_ways = compare_runs(run, base, parse_thresholds(DEFAULT_FAIL_ON))
        terminal, markdown = io.StringIO(), io.StringIO()
        ComparisonTerminalReporter(terminal, width=200, color=False).render(comparison)
        ComparisonMarkdownReporter(markdown).render(both_ways)
        texts.update(
            {
                f"{label} table": table.getvalue(),
                f"{label} report": report.getvalue(),
                f"{label} compare": terminal.getvalue(),
                f"{label} compare markdown": markdown.getvalue(),
            }
        )
    sweep = _scaled(load_sweep(DATA / "sweep.json"), factor)
    table, report = io.StringIO(), io.StringIO()
    SweepTerminalReporter(table, width=200, color=False).render(sweep)
    SweepMarkdownReporter(report).render(sweep, {"Peak memory": "memory_vs_samples.png"})
    texts.update({"sweep table": table.getvalue(), "sweep report": report.getvalue()})
    return texts


def test_the_scan_finds_an_exponent_where_there_is_one():
    assert EXPONENT.findall(f"a {1e12:g} b {3.2e-9:E} c {1e16} d {0.00001}") == [
        "1e+12",
        "3.200000E-09",
        "1e+16",
        "1e-05",
    ]
    assert not EXPONENT.findall("eb2b74ce66529baf 1,000,000 0.000000001 2e3")


@pytest.mark.parametrize("factor", FACTORS)
def test_no_rendering_holds_an_exponent(factor):
    texts = _renderings(factor)
    # The scaled figures reached the text: written out whole, 1,000,000,000,000 and up, or
    # 0.0000123.
    written_out = re.compile(r"\d{1,3}(?:,\d{3}){4,}" if factor > 1 else r"0\.0000\d")
    for name in ("run table", "run report", "example table", "example report"):
        assert written_out.search(texts[name]), (
            f"{name} at figures times {factor:g} shows no scaled figure"
        )
    for name, text in texts.items():
        found = EXPONENT.findall(text)
        assert not found, f"{name} at figures times {factor:g}: {found}"
