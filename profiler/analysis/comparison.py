"""Compare two runs metric by metric, with regression checks parsed from ``metric:10%``.

A change counts as a regression only when it is worse than its limit and, where the runs carry
what it takes, a test says it is real at 95%: the Mann-Whitney U test on the two runs' turn rates
for throughput, the two idle intervals for idle time. The logic only; ``profiler.reporters.compare``
renders a Comparison.

Where both runs measured the machine's reference in the same turns (results format 3), a rate is
gated on its change over the reference: each turn's rate over the reference's in its round, so a
machine that was slower for the whole of one run reads as such, not as a slower pipeline. The raw
change is shown beside it. Memory is gated only above MEMORY_FLOOR_MIB of growth: a few MiB above a
small peak is the allocator's noise, not a pipeline that holds more.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from profiler.analysis.evidence import METRICS, MIN_WINDOWS, Evidence, Metric, turn_evidence
from profiler.analysis.pairing import relative_turns
from profiler.analysis.run_differences import run_differences
from profiler.base.errors import ProfilerError
from profiler.base.stats import median
from profiler.base.units import plain
from profiler.results.records import STATUS_OK, ReferenceRecord, RunResult, ScenarioResult

# Growth of a memory peak below this is never a regression, whatever its share of a small peak.
# Over ten unchanged default runs on 2 cores, one scenario's peak moved by up to 39 MiB between two
# of them (cache, which holds its decoded samples: 146 to 185 MiB), the others' by up to 27 MiB;
# at 32 MiB, one pair in ten failed on it.
MEMORY_FLOOR_MIB = 48.0
_MEMORY_METRICS = ("peak_rss_mib", "peak_pss_mib")
_RATE_METRICS = ("samples_per_s", "batches_per_s")
# Other processes' load that, moved by this many cores between the runs, leaves a row's rates and
# idle no evidence either way: the reference takes one core in its turns, so a process spinning on
# the other slows the pipelines that use both and leaves the reference alone (measured here, a
# spinner on one core: parallel_map -33% to -38% over the machine, idle +6 to +12 points).
LOAD_MOVED_CORES = 0.5
_LOAD_METRICS = (*_RATE_METRICS, "idle_fraction")


def moved_far(cores: float | None) -> bool:
    """Whether other processes' load moved by LOAD_MOVED_CORES or more (None: not measured)."""
    return cores is not None and abs(cores) >= LOAD_MOVED_CORES


def _loads(old: ScenarioResult, current: ScenarioResult) -> tuple[float, float] | None:
    """The cores other processes kept busy beside a row in each run, where both were measured."""
    before, after = old.other_busy_cores, current.other_busy_cores
    return None if before is None or after is None else (before, after)


# Limits past these (100 times worse; a number no unit here reaches) are refused: a gate that can
# never fail is no gate.
MAX_RELATIVE_LIMIT = 100.0
MAX_ABSOLUTE_LIMIT = 1e12


def _shown_limit(limit: float, percent: bool) -> str:
    return f"{limit:.0%}" if percent else f"{limit:g}"


# Names from results format 1, still accepted in --fail-on.
_ALIASES = {"peak_rss_mb": "peak_rss_mib", "peak_pss_mb": "peak_pss_mib"}
DEFAULT_FAIL_ON = "samples_per_s:10%,peak_rss_mib:15%,idle_fraction:0.05"
_THRESHOLD = re.compile(r"^\s*([a-z0-9_]+)\s*:\s*([0-9]+\.?[0-9]*|\.[0-9]+)\s*(%?)\s*$")


@dataclass(frozen=True)
class Threshold:
    """How much worse a metric may get: relative (``10%``) or absolute in its own unit
    (``0.05``)."""

    metric: str
    limit: float
    relative: bool

    @classmethod
    def parse(cls, text: str) -> Threshold:
        match = _THRESHOLD.match(text)
        if not match:
            raise ProfilerError(
                f"cannot read the check '{text}': write METRIC:N% (relative) or METRIC:N "
                "(absolute), such as samples_per_s:10%"
            )
        name, value, percent = match.groups()
        name = _ALIASES.get(name, name)
        if name not in METRICS:
            raise ProfilerError(
                f"unknown metric '{name}' in --fail-on: choose from {', '.join(METRICS)}"
            )
        limit = float(value) / 100.0 if percent else float(value)
        most = MAX_RELATIVE_LIMIT if percent else MAX_ABSOLUTE_LIMIT
        if not math.isfinite(limit) or limit > most:
            shown = f"{most:.0%}" if percent else f"{most:,.0f}"
            raise ProfilerError(
                f"the limit of '{text.strip()[:60]}' is too large to ever be reached: pass at most "
                f"{shown}"
            )
        never = (percent and limit >= 1.0 and METRICS[name].higher_is_better) or (
            not percent and name == "idle_fraction" and limit >= 1.0
        )
        if never:
            raise ProfilerError(
                f"{name} cannot get worse by {_shown_limit(limit, percent)}, so "
                f"'{text.strip()[:60]}' could never fail: pass a smaller limit"
            )
        return cls(name, limit, bool(percent))

    def describe(self) -> str:
        """The limit as the change is shown: relative in %, an absolute idle limit in points."""
        if self.relative:
            return f"{self.limit:.0%}"
        return (
            f"{self.limit * 100:g} points" if self.metric == "idle_fraction" else plain(self.limit)
        )


def parse_thresholds(text: str) -> tuple[Threshold, ...]:
    thresholds = tuple(Threshold.parse(part) for part in text.split(",") if part.strip())
    if not thresholds:  # a gate with nothing to check would pass whatever happened
        raise ProfilerError(
            f"--fail-on '{text}' names no check: pass at least one METRIC:LIMIT, such as "
            "samples_per_s:10%"
        )
    names = [t.metric for t in thresholds]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ProfilerError(
            f"metric '{repeated[0]}' appears twice in --fail-on: give it one threshold"
        )
    return thresholds


VERDICT_REGRESSION = "REGRESSION"
VERDICT_NOISE = "not significant"
VERDICT_PASSED = "ok"
# Worse beyond the limit, but a run's idle interval is unknown (too few paced steps): no evidence
# either way, never a regression.
VERDICT_NO_EVIDENCE = "no evidence"


@dataclass(frozen=True)
class MetricChange:
    metric: str
    base: float | None
    new: float | None
    threshold: Threshold | None
    evidence: Evidence | None = None  # None: the runs carry nothing to test the change with
    # A run's interval is unknown (idle from too few paced steps): no evidence either way, where
    # a file without intervals at all (format 1) leaves the limit to decide.
    unknown: bool = False
    # A rate's relative change over the machine's reference, turn by turn (None: not both runs
    # measured one); the gate reads it in place of the raw change.
    over_reference: float | None = None
    # Cores other processes kept busy beside the row, new less base (None: not both measured).
    load_moved: float | None = None

    @property
    def loaded(self) -> bool:
        """The load moved too far between the runs for this metric to say anything."""
        return self.metric in _LOAD_METRICS and moved_far(self.load_moved)

    @property
    def change(self) -> float | None:
        """Relative change, new against base."""
        if self.base is None or self.new is None or self.base == 0:
            return None
        return (self.new - self.base) / abs(self.base)

    @property
    def gated_change(self) -> float | None:
        return self.over_reference if self.over_reference is not None else self.change

    @property
    def worse_by(self) -> float | None:
        """How much worse, in the threshold's terms (relative or absolute); negative when better."""
        if self.base is None or self.new is None:
            return None
        sign = -1.0 if METRICS[self.metric].higher_is_better else 1.0
        if self.threshold is not None and not self.threshold.relative:
            return sign * (self.new - self.base)
        change = self.gated_change
        return None if change is None else sign * change

    @property
    def verdict(self) -> str | None:
        if self.threshold is None:
            return None
        worse = self.worse_by
        if worse is None or worse <= self.threshold.limit:
            return VERDICT_PASSED
        if self.metric in _MEMORY_METRICS and (self.new or 0.0) - (self.base or 0.0) <= (
            MEMORY_FLOOR_MIB
        ):
            return VERDICT_PASSED
        if (self.metric == "idle_fraction" and self.unknown) or self.loaded:
            return VERDICT_NO_EVIDENCE
        if self.evidence is not None and not self.evidence.significant:
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
        return self.base_status == STATUS_OK and self.new_status != STATUS_OK

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
    # Completed in the base run and absent from the new one (an interrupted or killed run, say):
    # a gate that passed on them would pass on a run that measured nothing.
    missing: tuple[str, ...] = ()
    # How the machine's reference moved from the base run to the new one (0.1: 10% faster).
    machine_change: float | None = None
    # Each run's ceiling, samples/s (None: not measured): timed in the run's turns where it took
    # any, else one timing, whose move from run to run says how far one timing of this machine
    # wanders.
    ceilings: tuple[float | None, float | None] = (None, None)
    ceiling_turns: tuple[int, int] = (0, 0)  # turns each ceiling was timed in; 0: timed once
    # The row whose load moved most between the runs: its name, and the cores other processes kept
    # busy beside it in each (None: no row measured both).
    load: tuple[str, float, float] | None = None

    @property
    def failed(self) -> bool:
        return bool(self.missing) or any(s.failed for s in self.scenarios)

    @property
    def regressions(self) -> list[tuple[str, str]]:
        found = [
            (s.name, c.metric)
            for s in self.scenarios
            for c in s.changes
            if c.verdict == VERDICT_REGRESSION
        ]
        return (
            found
            + [(s.name, "status") for s in self.scenarios if s.broke]
            + [(name, "missing") for name in self.missing]
        )


def _ceiling(run: RunResult) -> float | None:
    return run.ceiling.samples_per_s if run.ceiling is not None else None


def _turns(run: RunResult) -> int:
    return run.ceiling.turns if run.ceiling is not None else 0


def compare_runs(
    base: RunResult,
    new: RunResult,
    thresholds: Sequence[Threshold],
    base_label: str = "base",
    new_label: str = "new",
) -> Comparison:
    by_metric = {t.metric: t for t in thresholds}
    base_results = {r.name: r for r in base.scenarios}
    new_results = {r.name: r for r in new.scenarios}
    common = [name for name in base_results if name in new_results]
    warnings = run_differences(base, new)
    scenarios = []
    for name in common:
        old, current = base_results[name], new_results[name]
        if old.source_hash and current.source_hash and old.source_hash != current.source_hash:
            warnings.append(
                f"{name}: the scenario's source changed between the runs; figures may differ for it"
            )
        changes = tuple(
            _change(metric, old, current, by_metric.get(metric.name), base.reference, new.reference)
            for metric in METRICS.values()
        )
        scenarios.append(ScenarioComparison(name, old.status, current.status, changes))
    return Comparison(
        base_label=base_label,
        new_label=new_label,
        thresholds=tuple(thresholds),
        scenarios=tuple(scenarios),
        only_in_base=tuple(name for name in base_results if name not in new_results),
        only_in_new=tuple(name for name in new_results if name not in base_results),
        warnings=tuple(warnings),
        missing=tuple(
            name
            for name, result in base_results.items()
            if name not in new_results and result.status == STATUS_OK
        ),
        machine_change=(
            new.reference.rate / base.reference.rate - 1.0
            if base.reference is not None and new.reference is not None
            else None
        ),
        ceilings=(_ceiling(base), _ceiling(new)),
        ceiling_turns=(_turns(base), _turns(new)),
        load=_load(base_results, new_results, common),
    )


def _load(
    base: dict[str, ScenarioResult], new: dict[str, ScenarioResult], common: list[str]
) -> tuple[str, float, float] | None:
    loads = [(name, *pair) for name in common if (pair := _loads(base[name], new[name]))]
    return max(loads, key=lambda load: abs(load[2] - load[1]), default=None)


def _change(
    metric: Metric,
    old: ScenarioResult,
    current: ScenarioResult,
    threshold: Threshold | None,
    base_reference: ReferenceRecord | None,
    new_reference: ReferenceRecord | None,
) -> MetricChange:
    """One metric's change; a rate's over the machine's reference where both runs measured one."""
    base, new = getattr(old, metric.name), getattr(current, metric.name)
    loads = _loads(old, current)
    moved = None if loads is None else loads[1] - loads[0]
    if metric.name in _RATE_METRICS:
        before, after = relative_turns(old, base_reference), relative_turns(current, new_reference)
        if len(before) >= MIN_WINDOWS and len(after) >= MIN_WINDOWS:
            over = median(after) / median(before) - 1.0
            return MetricChange(
                metric.name,
                base,
                new,
                threshold,
                turn_evidence(before, after),
                over_reference=over,
                load_moved=moved,
            )
    evidence = metric.evidence(old, current, metric.name) if metric.evidence else None
    unknown = metric.name == "idle_fraction" and (
        old.idle_interval_unknown or current.idle_interval_unknown
    )
    return MetricChange(
        metric.name, base, new, threshold, evidence, unknown=unknown, load_moved=moved
    )
