"""The records of a tuning, the rule that keeps a setting, and their versioned JSON (``tune.json``).

A setting is kept only where it beats the best so far beyond noise: the low end of its rate's 95%
interval lies above the best's median rate, and it delivered the same samples as the dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from profiler.analysis.pairing import paired_ratio, ratio_between, turns_of
from profiler.base.codec import encode
from profiler.base.metadata import Metadata
from profiler.base.settings import MeasureSettings, Target
from profiler.base.stats import median, pooled_median_interval, ratio_interval
from profiler.ceiling.limit import Ceiling
from profiler.results.files import FORMAT_VERSION, write_json
from profiler.results.records import AutotuneValue, DataRecord, ReferenceRecord, ScenarioResult

KIND_TUNE = "tune"
TUNE_FILE = "tune.json"
# A value is kept only where it beats the best so far by more than this, turn by turn: a knob that
# changes nothing must never be kept on a lucky stretch.
KEEP_MARGIN = 0.03
SEARCH = (
    "one knob at a time, in the strategy's order (the knob with the most effect first), each from "
    "the best settings so far, which are measured again beside the values tried, in interleaved "
    "turns; a value is kept where the 95% interval of its rate over the best's, turn by turn, lies "
    f"above {1 + KEEP_MARGIN:.2f}. Knobs of an input "
    "pipeline interact little, so one pass costs the sum of their values, not their product; the "
    "defaults and the best are then measured again, alternating, two workers each, for the gain"
)


@dataclass(frozen=True)
class KnobRecord:
    """A knob as it was tuned: its default, the values tried, and the code that sets it."""

    name: str
    default: Any
    tried: tuple[Any, ...]
    what: str = ""
    code: str = ""


@dataclass(frozen=True)
class Configuration:
    """Every knob's value, and what the configuration delivered."""

    settings: dict[str, Any]
    samples_per_s: float | None
    samples_per_s_ci: tuple[float, float] | None = None
    ceiling_fraction: float | None = None


@dataclass(frozen=True)
class Trial:
    knob: str  # the knob this trial changed; "" for the default configuration
    value: Any
    result: ScenarioResult
    again: bool = False  # the best so far, measured again beside the values of this knob


@dataclass(frozen=True)
class TunedStrategy:
    name: str
    knobs: tuple[KnobRecord, ...]
    default: Configuration
    best: Configuration
    trials: tuple[Trial, ...] = ()
    gain: float | None = None  # best over default, measured alternately at the end
    gain_ci: tuple[float, float] | None = None
    autotune: tuple[AutotuneValue, ...] = ()  # what autotuning chose in the default configuration
    snippet: str = ""  # the strategy's code as printed with a pick
    # The measurement ``best``'s figures come from (the alternating one at the end, where there was
    # one).
    best_result: ScenarioResult | None = None
    complete: bool = (
        False  # every knob tried and, where a value was kept, the final comparison made
    )

    @property
    def changed(self) -> dict[str, Any]:
        """The knobs the best configuration sets apart from their default."""
        return {
            name: value
            for name, value in self.best.settings.items()
            if self.default.settings.get(name) != value
        }

    @property
    def gained(self) -> bool:
        """The final comparison found the best faster than the defaults beyond noise (its interval
        above 1x)."""
        if self.gain is None or not self.changed:
            return False
        return self.gain_ci[0] > 1.0 if self.gain_ci is not None else self.gain > 1.0


@dataclass(frozen=True)
class TuneResult:
    metadata: Metadata
    settings: MeasureSettings
    data: DataRecord | None
    ceiling: Ceiling | None
    created: str
    search: str = SEARCH
    # the quick run's samples/s, where it ran
    candidates: dict[str, float] = field(default_factory=dict)
    targets: tuple[Target, ...] = ()  # the strategies measured at their defaults
    tuned: tuple[TunedStrategy, ...] = ()
    wall_s: float | None = None
    interrupted: bool = False


def usable(result: ScenarioResult) -> bool:
    """Measured, and the samples it delivered are the dataset's (pixels may round apart)."""
    return result.ok and result.samples_per_s is not None and result.samples_match is not False


def beats(
    result: ScenarioResult,
    best: ScenarioResult,
    machine: ReferenceRecord | None = None,
    same_run: bool = True,
) -> bool:
    """``result`` is faster than ``best`` beyond noise: turn by turn beside it (measured in one
    group), the 95% interval of its rate over best's lies above 1 + KEEP_MARGIN; measured apart,
    or too few turns for that, the low end of its interval lies above best's median by as much.

    ``same_run``: False where ``best`` comes from another run, whose rounds are numbered apart
    and whose machine was another moment's: nothing of theirs pairs.
    """
    if not usable(result) or best.samples_per_s is None:
        return usable(result)
    ratio = ratio_between(result, best, machine) if same_run else None
    if ratio is not None:
        return ratio.interval[0] > 1.0 + KEEP_MARGIN
    low = result.samples_per_s_ci[0] if result.samples_per_s_ci else result.samples_per_s
    return low > best.samples_per_s * (1.0 + KEEP_MARGIN)


def kept(
    tried: list[ScenarioResult],
    best: ScenarioResult,
    machine: ReferenceRecord | None = None,
    same_run: bool = True,
) -> int | None:
    """Which of a knob's values, measured in one run in the order tried, replaces ``best``: of
    those that beat it, the first that the fastest of them does not beat in turn.

    Near-ties go to the value tried first (fewer threads, the smaller setting) in every run. Taken
    one after another, each against the last one kept, the outcome hung on whichever comparison
    along the chain fell near the margin: in 400 simulated tunes of values 1.05, 1.09 and 1.12
    times the best (3% noise, 20 rounds), the commonest outcome came 72% of the time, and 90% so."""
    winners = [i for i, result in enumerate(tried) if beats(result, best, machine, same_run)]
    if not winners:
        return None
    fastest = max(winners, key=lambda i: tried[i].samples_per_s or 0.0)
    return next(i for i in winners if i == fastest or not beats(tried[fastest], tried[i], machine))


def configuration(settings: dict[str, Any], result: ScenarioResult | None) -> Configuration:
    if result is None or not result.ok:
        return Configuration(dict(settings), None)
    return Configuration(
        dict(settings), result.samples_per_s, result.samples_per_s_ci, result.ceiling_fraction
    )


def gain_of(
    default: ScenarioResult, best: ScenarioResult
) -> tuple[float | None, tuple[float, float] | None]:
    """Best's rate over default's: turn by turn where they took turns side by side, else their
    medians' ratio with a bootstrap 95% interval from their windows."""
    if not (usable(default) and usable(best)) or not default.samples_per_s:
        return None, None
    paired = paired_ratio(turns_of(best), turns_of(default))
    if paired is not None:
        return paired.value, paired.interval
    gain = best.samples_per_s / default.samples_per_s  # type: ignore[operator]
    if len(default.window_samples_per_s) < 2 or len(best.window_samples_per_s) < 2:
        return gain, None
    return gain, ratio_interval(default.window_samples_per_s, best.window_samples_per_s)


def pooled(results: list[ScenarioResult]) -> ScenarioResult:
    """Several workers' measurements of one configuration as one: windows pooled, median and
    interval from a two-level bootstrap (profiler.base.stats), the CPU per epoch their median."""
    first = results[0]
    groups = [result.window_samples_per_s for result in results]
    rate = median([rate for group in groups for rate in group])
    cpus = [result.cpu_s for result in results if result.cpu_s is not None]
    return replace(
        first,
        samples_per_s=rate,
        samples_per_s_ci=pooled_median_interval(groups),
        window_samples_per_s=tuple(rate for group in groups for rate in group),
        turn_rounds=tuple(number for result in results for number in result.turn_rounds)
        if all(len(r.turn_rounds) == len(r.window_samples_per_s) for r in results)
        else (),
        processes=len(results),
        cpu_s=median(cpus) if cpus else None,
        ceiling_fraction=None
        if first.ceiling_fraction is None or not first.samples_per_s
        else first.ceiling_fraction * rate / first.samples_per_s,
    )


def tune_to_json(result: TuneResult) -> dict[str, Any]:
    data = {"format_version": FORMAT_VERSION, "kind": KIND_TUNE, **encode(result)}
    if result.ceiling is not None:  # derived, for readers of the file, as a run writes it
        data["ceiling"].update(
            samples_per_s=result.ceiling.samples_per_s, bound_by=result.ceiling.bound_by
        )
    return data


def save_tune(result: TuneResult, path: Path) -> None:
    write_json(tune_to_json(result), path)
