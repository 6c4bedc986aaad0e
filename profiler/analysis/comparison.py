"""Compare two runs metric by metric, with regression checks parsed from ``metric:10%``.

A change counts as a regression only when it is worse than its limit and, where the runs carry
what it takes, a test says it is real: the Mann-Whitney U test on the two runs' turn rates for
throughput, the two idle intervals for idle time, each at the level that keeps the whole
comparison's chance of a false regression at 5% (``profiler.analysis.evidence``). The logic
only; ``profiler.reporters.compare`` renders a Comparison, ``profiler.analysis.thresholds`` parses
the checks.

Where both runs measured the machine's reference in the same turns (results format 3), a rate is
gated on its change over the reference: each turn's rate over the reference's in its round, so a
machine that was slower for the whole of one run reads as such, not as a slower pipeline. The raw
change is shown beside it. Memory is gated only above MEMORY_FLOOR_MIB of growth: a few MiB above a
small peak is the allocator's noise, not a pipeline that holds more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from profiler.analysis.evidence import (
    METRICS,
    MIN_WINDOWS,
    Evidence,
    Metric,
    gate_confidence,
    turn_evidence,
)
from profiler.analysis.pairing import relative_turns
from profiler.analysis.run_differences import run_differences
from profiler.analysis.thresholds import Threshold
from profiler.base.moved import left_behind
from profiler.base.stats import median
from profiler.results.records import STATUS_OK, RunResult, ScenarioResult

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
    # The level of each test, and how many the comparison made (every row's gated rates and idle).
    confidence: float = 0.95
    tests: int = 1

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
    tested = [t for t in thresholds if METRICS[t.metric].evidence is not None]
    # Rows that did not complete in both runs make no test.
    both_ok = [n for n in common if STATUS_OK == base_results[n].status == new_results[n].status]
    tests = len(both_ok) * len(tested)
    confidence = gate_confidence(tests)
    scenarios = []
    for name in common:
        old, current = base_results[name], new_results[name]
        if old.source_hash and current.source_hash and old.source_hash != current.source_hash:
            warnings.append(
                f"{name}: the scenario's source changed between the runs; figures may differ for it"
            )
        changes = tuple(
            _change(metric, old, current, by_metric.get(metric.name), (base, new), confidence)
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
        confidence=confidence,
        tests=tests,
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
    runs: tuple[RunResult, RunResult],
    confidence: float,
) -> MetricChange:
    """One metric's change, tested at ``confidence``; a rate's over the machine's reference where
    both ``runs`` measured one."""
    base, new = getattr(old, metric.name), getattr(current, metric.name)
    loads = _loads(old, current)
    moved = None if loads is None else loads[1] - loads[0]
    if metric.name in _RATE_METRICS:
        before, after = (
            relative_turns(old, runs[0].reference),
            relative_turns(current, runs[1].reference),
        )
        if len(before) >= MIN_WINDOWS and len(after) >= MIN_WINDOWS:
            over = median(after) / median(before) - 1.0
            return MetricChange(
                metric.name,
                base,
                new,
                threshold,
                turn_evidence(before, after, confidence),
                over_reference=over,
                load_moved=moved,
            )
    evidence = metric.evidence(old, current, metric.name, confidence) if metric.evidence else None
    unknown = metric.name == "idle_fraction" and (
        old.idle_interval_unknown or current.idle_interval_unknown
    )
    return MetricChange(
        metric.name, base, new, threshold, evidence, unknown=unknown, load_moved=moved
    )


# Names that lived here in 0.2 and moved since, still found (with a DeprecationWarning).
__getattr__ = left_behind(__name__)
