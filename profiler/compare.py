"""Compare two runs metric by metric, with regression checks parsed from ``metric:10%``."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from profiler.errors import ProfilerError
from profiler.reporting import FILE_WIDTH, markdown_table
from profiler.results import RunResult, ScenarioResult


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    higher_is_better: bool
    pattern: str  # how one value is shown
    # Relative epoch-to-epoch noise of this metric in one run, if the run shows it.
    noise: Callable[[ScenarioResult], float | None] | None = None


def _rate_range(result: ScenarioResult) -> float | None:
    """(max - min) / median of the per-epoch rates: the spread this run itself showed."""
    if result.batches_per_s_min is None or result.batches_per_s_max is None or not result.batches_per_s:
        return None
    return (result.batches_per_s_max - result.batches_per_s_min) / result.batches_per_s


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("samples_per_s", "samples/s", True, "{:,.0f}", _rate_range),
        Metric("batches_per_s", "batches/s", True, "{:,.1f}", _rate_range),
        Metric("idle_fraction", "idle", False, "{:.1%}"),
        Metric("wait_p95_ms", "wait p95 ms", False, "{:.2f}"),
        Metric("first_batch_s", "first batch s", False, "{:.2f}"),
        Metric("warmup_epoch_s", "warm-up s", False, "{:.2f}"),
        Metric("peak_rss_mb", "peak RSS MiB", False, "{:+,.0f}"),
        Metric("peak_pss_mb", "peak PSS MiB", False, "{:+,.0f}"),
        Metric("cpu_s", "CPU s/epoch", False, "{:.2f}"),
    )
}

DEFAULT_FAIL_ON = "samples_per_s:10%,peak_rss_mb:15%,idle_fraction:0.05"
_THRESHOLD = re.compile(r"^\s*([a-z0-9_]+)\s*:\s*([0-9]*\.?[0-9]+)\s*(%?)\s*$")


@dataclass(frozen=True)
class Threshold:
    """How much worse a metric may get: relative (``10%``) or absolute in its own unit (``0.05``)."""

    metric: str
    limit: float
    relative: bool

    @classmethod
    def parse(cls, text: str) -> Threshold:
        match = _THRESHOLD.match(text)
        if not match:
            raise ProfilerError(
                f"cannot read the check '{text}': write METRIC:N% (relative) or METRIC:N (absolute), "
                "such as samples_per_s:10%"
            )
        name, value, percent = match.groups()
        if name not in METRICS:
            raise ProfilerError(f"unknown metric '{name}' in --fail-on: choose from {', '.join(METRICS)}")
        return cls(name, float(value) / 100.0 if percent else float(value), bool(percent))

    def describe(self) -> str:
        return f"{self.limit:.0%}" if self.relative else f"{self.limit:g}"


def parse_thresholds(text: str) -> tuple[Threshold, ...]:
    thresholds = tuple(Threshold.parse(part) for part in text.split(",") if part.strip())
    names = [t.metric for t in thresholds]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ProfilerError(f"metric '{repeated[0]}' appears twice in --fail-on: give it one threshold")
    return thresholds


VERDICT_REGRESSION = "REGRESSION"
VERDICT_NOISE = "within noise"
VERDICT_PASSED = "ok"


@dataclass(frozen=True)
class MetricChange:
    metric: str
    base: float | None
    new: float | None
    threshold: Threshold | None
    noise: float | None  # the larger relative spread of the two runs, where known

    @property
    def change(self) -> float | None:
        """Relative change, new against base."""
        if self.base is None or self.new is None or self.base == 0:
            return None
        return (self.new - self.base) / abs(self.base)

    @property
    def worse_by(self) -> float | None:
        """How much worse, in the threshold's terms (relative or absolute); negative when better."""
        if self.base is None or self.new is None:
            return None
        sign = -1.0 if METRICS[self.metric].higher_is_better else 1.0
        if self.threshold is not None and not self.threshold.relative:
            return sign * (self.new - self.base)
        change = self.change
        return None if change is None else sign * change

    @property
    def verdict(self) -> str | None:
        if self.threshold is None:
            return None
        worse = self.worse_by
        if worse is None or worse <= self.threshold.limit:
            return VERDICT_PASSED
        change = self.change
        if self.noise is not None and change is not None and abs(change) <= self.noise:
            return VERDICT_NOISE
        return VERDICT_REGRESSION


@dataclass(frozen=True)
class ScenarioComparison:
    name: str
    base_status: str
    new_status: str
    changes: tuple[MetricChange, ...]

    @property
    def broke(self) -> bool:
        """Completed in the base run, not in the new one."""
        return self.base_status == "ok" and self.new_status != "ok"

    @property
    def failed(self) -> bool:
        return self.broke or any(c.verdict == VERDICT_REGRESSION for c in self.changes)


@dataclass(frozen=True)
class Comparison:
    base_label: str
    new_label: str
    thresholds: tuple[Threshold, ...]
    scenarios: tuple[ScenarioComparison, ...]
    only_in_base: tuple[str, ...]
    only_in_new: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def failed(self) -> bool:
        return any(s.failed for s in self.scenarios)

    @property
    def regressions(self) -> list[tuple[str, str]]:
        found = [(s.name, c.metric) for s in self.scenarios for c in s.changes if c.verdict == VERDICT_REGRESSION]
        return found + [(s.name, "status") for s in self.scenarios if s.broke]


def compare_runs(
    base: RunResult, new: RunResult, thresholds: Sequence[Threshold], base_label: str = "base", new_label: str = "new"
) -> Comparison:
    by_metric = {t.metric: t for t in thresholds}
    base_results = {r.name: r for r in base.scenarios}
    new_results = {r.name: r for r in new.scenarios}
    common = [name for name in base_results if name in new_results]
    warnings = list(_run_warnings(base, new))
    scenarios = []
    for name in common:
        old, current = base_results[name], new_results[name]
        if old.source_hash and current.source_hash and old.source_hash != current.source_hash:
            warnings.append(f"{name}: the scenario's source changed between the runs; figures may differ for it")
        changes = []
        for metric in METRICS.values():
            noise = None
            if metric.noise is not None:
                spreads = [s for s in (metric.noise(old), metric.noise(current)) if s is not None]
                noise = max(spreads) if spreads else None
            changes.append(
                MetricChange(metric.name, getattr(old, metric.name), getattr(current, metric.name),
                             by_metric.get(metric.name), noise)
            )
        scenarios.append(ScenarioComparison(name, old.status, current.status, tuple(changes)))
    return Comparison(
        base_label=base_label,
        new_label=new_label,
        thresholds=tuple(thresholds),
        scenarios=tuple(scenarios),
        only_in_base=tuple(name for name in base_results if name not in new_results),
        only_in_new=tuple(name for name in new_results if name not in base_results),
        warnings=tuple(warnings),
    )


def _run_warnings(base: RunResult, new: RunResult) -> list[str]:
    warnings = []
    base_machine = base.metadata.get("machine", {})
    new_machine = new.metadata.get("machine", {})
    if base_machine.get("machine_id") != new_machine.get("machine_id"):
        warnings.append(
            f"the runs come from different machines ({base_machine.get('hostname', '?')}, "
            f"{base_machine.get('cpu_count', '?')} CPUs against {new_machine.get('hostname', '?')}, "
            f"{new_machine.get('cpu_count', '?')} CPUs): differences may be the machines'"
        )
    differing = [
        key
        for key in ("batch_size", "step_ms", "epochs", "idle_epochs", "workers")
        if base.options.get(key) != new.options.get(key)
    ]
    data_keys = ("kind", "samples", "height", "width", "channels", "source_size", "image_format", "seed")
    differing += [f"data {key}" for key in data_keys if base.data.get(key) != new.data.get(key)]
    if differing:
        warnings.append(f"the runs used different settings ({', '.join(differing)}): figures do not compare directly")
    base_tf = base.metadata.get("packages", {}).get("tensorflow")
    new_tf = new.metadata.get("packages", {}).get("tensorflow")
    if base_tf != new_tf:
        warnings.append(f"TensorFlow changed between the runs ({base_tf} -> {new_tf})")
    return warnings


def _value(metric: str, value: float | None) -> str:
    return "-" if value is None else METRICS[metric].pattern.format(value)


def _change_text(change: MetricChange) -> str:
    relative = change.change
    return "-" if relative is None else f"{relative:+.1%}"


def _check_text(change: MetricChange) -> str:
    verdict = change.verdict
    if verdict is None:
        return ""
    limit = f"limit {change.threshold.describe()}" if change.threshold else ""
    if verdict == VERDICT_NOISE:
        return f"{VERDICT_NOISE} (±{change.noise:.0%}, {limit})"
    return f"{verdict} ({limit})"


def comparison_rows(comparison: Comparison) -> list[list[str]]:
    rows = []
    for scenario in comparison.scenarios:
        if scenario.base_status != "ok" or scenario.new_status != "ok":
            check = f"{VERDICT_REGRESSION} (no longer completes)" if scenario.broke else ""
            rows.append([scenario.name, "status", scenario.base_status, scenario.new_status, "-", check])
            continue
        for change in scenario.changes:
            rows.append([
                scenario.name,
                METRICS[change.metric].label,
                _value(change.metric, change.base),
                _value(change.metric, change.new),
                _change_text(change),
                _check_text(change),
            ])
    return rows


def summary_lines(comparison: Comparison) -> list[str]:
    lines = [f"Warning: {warning}." for warning in comparison.warnings]
    lines += [f"Only in {comparison.base_label}: {name}." for name in comparison.only_in_base]
    lines += [f"Only in {comparison.new_label}: {name}." for name in comparison.only_in_new]
    checks = ", ".join(f"{t.metric} worse by more than {t.describe()}" for t in comparison.thresholds)
    lines.append(
        f"Checks: {checks or 'none'}; a change within the runs' own epoch-to-epoch spread is not a regression."
    )
    regressions = comparison.regressions
    if regressions:
        lines.append("FAILED: " + ", ".join(f"{name} {metric}" for name, metric in regressions) + ".")
    else:
        lines.append("PASSED: no check failed.")
    return lines


_HEADERS = ["Scenario", "Metric", "Base", "New", "Change", "Check"]


class ComparisonTerminalReporter:
    def __init__(self, stream: IO[str] | None = None, width: int | None = None, color: bool | None = None) -> None:
        self.console = Console(file=stream, width=width, no_color=color is False, force_terminal=color,
                               highlight=False)
        if width is None and not self.console.is_terminal:
            self.console.width = FILE_WIDTH

    def render(self, comparison: Comparison) -> None:
        table = Table(
            title=f"{comparison.base_label} -> {comparison.new_label}",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            collapse_padding=True,
            pad_edge=False,
        )
        for header in _HEADERS:
            table.add_column(header, justify="right" if header in ("Base", "New", "Change") else "left")
        previous = None
        for row in comparison_rows(comparison):
            check = row[5]
            style = "bold red" if check.startswith(VERDICT_REGRESSION) else "green" if check.startswith("ok") else ""
            name = row[0] if row[0] != previous else ""
            previous = row[0]
            table.add_row(name, *row[1:5], Text(row[5], style=style))
        self.console.print(table)
        for line in summary_lines(comparison):
            style = "bold red" if line.startswith("FAILED") else "yellow" if line.startswith("Warning") else ""
            self.console.print(Text(line, style=style))


class ComparisonMarkdownReporter:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def render(self, comparison: Comparison) -> None:
        write = self.stream.write
        write(f"## Input pipeline comparison: {comparison.base_label} -> {comparison.new_label}\n\n")
        verdict = summary_lines(comparison)[-1]
        write(f"**{verdict}**\n\n")
        for line in summary_lines(comparison)[:-1]:
            write(f"- {line}\n")
        write("\n")
        rows = comparison_rows(comparison)
        for row in rows:
            if row[5].startswith(VERDICT_REGRESSION):
                row[5] = f"**{row[5]}**"
        write(markdown_table(_HEADERS, rows, [False, False, True, True, True, False]))
