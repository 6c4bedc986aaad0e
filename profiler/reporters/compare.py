"""A comparison's renderings: the terminal table and the markdown for a pull-request comment."""

from __future__ import annotations

from typing import IO

from rich.text import Text

from profiler.analysis.comparison import (
    LOAD_MOVED_CORES,
    MEMORY_FLOOR_MIB,
    METRICS,
    VERDICT_NO_EVIDENCE,
    VERDICT_PASSED,
    VERDICT_REGRESSION,
    Comparison,
    MetricChange,
    moved_far,
)
from profiler.base.units import significant
from profiler.reporters.common import TerminalReporter, fitted_tables
from profiler.reporters.markdown import markdown_table
from profiler.reporters.safe import escaped, markdown_text, terminal_text
from profiler.results.records import STATUS_OK

_HEADERS = ["Scenario", "Metric", "Base", "New", "Change", "Check"]


def _value(metric: str, value: float | None) -> str:
    return "-" if value is None else METRICS[metric].pattern.format(value)


def _change_text(change: MetricChange) -> str:
    relative_limit = change.threshold is not None and change.threshold.relative
    if (
        change.metric == "idle_fraction"
        and not relative_limit
        and change.base is not None
        and change.new is not None
    ):
        # a fraction of the time: its limit is in points, and so is its change
        return f"{(change.new - change.base) * 100:+.1f} points"
    relative = change.change
    text = "-" if relative is None else f"{relative:+.1%}"
    if change.over_reference is not None:
        text += f" ({change.over_reference:+.1%} over the machine)"
    return text


def _check_text(change: MetricChange, level: str) -> str:
    verdict = change.verdict
    if verdict is None:
        return ""
    threshold = change.threshold
    parts = [f"limit {threshold.describe()}" if threshold else ""]
    evidence = change.evidence
    if verdict == VERDICT_NO_EVIDENCE and change.loaded:
        parts.append(
            f"other processes kept {change.load_moved:+.1f} cores busy beside it in the new run: "
            "rerun both on a machine equally loaded"
        )
    elif verdict == VERDICT_NO_EVIDENCE:
        parts.append(
            "a run's idle interval is unknown: too few paced steps, give more --idle-time-cap"
        )
    if evidence is not None and verdict != VERDICT_PASSED:
        if evidence.relative:
            parts.append(f"{level}: {evidence.low:+.0%} to {evidence.high:+.0%}")
        else:
            parts.append(f"{level}: {evidence.low * 100:+.1f} to {evidence.high * 100:+.1f} points")
        if evidence.p_value is not None:
            parts.append(
                f"p={significant(evidence.p_value, 2)}" if evidence.p_value >= 0.001 else "p<0.001"
            )
    return f"{verdict} ({'; '.join(parts)})"


def level_text(confidence: float) -> str:
    """A test's level as a percentage, to the digits that tell it from 100%: 95%, 97.5%, 99.8%."""
    shown = f"{confidence * 100:.1f}"
    if shown == "100.0":
        shown = f"{confidence * 100:.2f}"
    return shown.rstrip("0").rstrip(".") + "%"


def _tests_leave(count: int) -> str:
    return "one test leaves" if count == 1 else f"{count} tests leave"


def comparison_rows(comparison: Comparison) -> list[list[str]]:
    rows = []
    level = level_text(comparison.confidence)
    for scenario in comparison.scenarios:
        if scenario.base_status != STATUS_OK or scenario.new_status != STATUS_OK:
            check = f"{VERDICT_REGRESSION} (no longer completes)" if scenario.broke else ""
            rows.append(
                [scenario.name, "status", scenario.base_status, scenario.new_status, "-", check]
            )
            continue
        for change in scenario.changes:
            rows.append(
                [
                    scenario.name,
                    METRICS[change.metric].label,
                    _value(change.metric, change.base),
                    _value(change.metric, change.new),
                    _change_text(change),
                    _check_text(change, level),
                ]
            )
    return rows


def summary_lines(comparison: Comparison) -> list[str]:
    lines = [f"Warning: {warning}." for warning in comparison.warnings]
    lines += [
        f"Only in {comparison.base_label}: {name}"
        + (
            " (completed there, missing from the new run: a failed check)."
            if name in comparison.missing
            else "."
        )
        for name in comparison.only_in_base
    ]
    lines += [f"Only in {comparison.new_label}: {name}." for name in comparison.only_in_new]
    checks = ", ".join(
        f"{t.metric} worse by more than {t.describe()}" for t in comparison.thresholds
    )
    if comparison.machine_change is not None:
        lines.append(
            f"Machine: its reference workload ran {comparison.machine_change:+.1%} in "
            f"{comparison.new_label} against {comparison.base_label}; rates are checked on their "
            "change over it, turn by turn (in brackets), so a slower machine is not a slower "
            "pipeline."
        )
    if comparison.load is not None and moved_far(comparison.load[2] - comparison.load[1]):
        name, before, after = comparison.load
        lines.append(
            f"Load: other processes kept {after:.1f} cores busy beside {name} in "
            f"{comparison.new_label}, {before:.1f} in {comparison.base_label}. The reference runs "
            "on one core and does not see a load on another, which slows pipelines that use both: "
            f"where a row's load moved by {LOAD_MOVED_CORES:g} core or more, its rates and idle "
            "are no evidence either way."
        )
    base_ceiling, new_ceiling = comparison.ceilings
    if base_ceiling and new_ceiling:
        moved = new_ceiling / base_ceiling - 1.0
        base_turns, new_turns = comparison.ceiling_turns
        how = (
            f"timed in {base_turns} and {new_turns} turns beside the strategies"
            if base_turns and new_turns
            else "one timing each, so its move is what one timing of this machine wanders by"
        )
        lines.append(
            f"Ceiling: {base_ceiling:,.0f} samples/s in {comparison.base_label}, "
            f"{new_ceiling:,.0f} in {comparison.new_label} ({moved:+.1%}): {how}; no check "
            "reads it."
        )
    lines.append(
        f"Checks: {checks or 'none'}; a change beyond its limit is a regression only where a test "
        f"on the two runs' own measurements calls it real at {level_text(comparison.confidence)} "
        "(Mann-Whitney U on the turns' rates; the idle intervals), the level at which this "
        f"comparison's {_tests_leave(comparison.tests)} a 5% chance of any false regression "
        "among them, or where the runs carry nothing to test; an idle interval left unknown by "
        "too few paced steps, or rates and idle where other processes' load moved, are no "
        "evidence, never a regression; a memory peak that grew by "
        f"{MEMORY_FLOOR_MIB:.0f} MiB or less never is."
    )
    regressions = comparison.regressions
    if regressions:
        lines.append(
            "FAILED: " + ", ".join(f"{name} {metric}" for name, metric in regressions) + "."
        )
    else:
        lines.append("PASSED: no check failed.")
    return lines


class ComparisonTerminalReporter(TerminalReporter):
    def render(self, comparison: Comparison) -> None:
        comparison = escaped(comparison, terminal_text)
        rows: list[list[str | Text]] = []
        previous = None
        for row in comparison_rows(comparison):
            check = row[5]
            style = (
                "bold red"
                if check.startswith(VERDICT_REGRESSION)
                else "green"
                if check.startswith(VERDICT_PASSED)
                else ""
            )
            name = row[0] if row[0] != previous else ""
            previous = row[0]
            rows.append([name, *row[1:5], Text(row[5], style=style)])
        columns = tuple((header, header in ("Base", "New", "Change")) for header in _HEADERS)
        for table in fitted_tables(
            self.console,
            f"{comparison.base_label} -> {comparison.new_label}",
            None,
            columns,
            rows,
            wrap=(5,),
        ):
            self.console.print(table)
        for line in summary_lines(comparison):
            style = (
                "bold red"
                if line.startswith("FAILED")
                else "yellow"
                if line.startswith("Warning")
                else ""
            )
            self.console.print(Text(line, style=style))


class ComparisonMarkdownReporter:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def render(self, comparison: Comparison) -> None:
        comparison = escaped(comparison, markdown_text)
        write = self.stream.write
        write(
            f"## Input pipeline comparison: {comparison.base_label} -> {comparison.new_label}\n\n"
        )
        lines = summary_lines(comparison)
        write(f"**{lines[-1]}**\n\n")
        for line in lines[:-1]:
            write(f"- {line}\n")
        write("\n")
        rows = comparison_rows(comparison)
        for row in rows:
            if row[5].startswith(VERDICT_REGRESSION):
                row[5] = f"**{row[5]}**"
        write(markdown_table(_HEADERS, rows, [False, False, True, True, True, False]))
