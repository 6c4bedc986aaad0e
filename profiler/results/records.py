"""The records a measurement produces: one per target, one per run, and the pick.

Frozen and typed from the worker to the results file; ``profiler.results.files`` turns them into
versioned JSON and back. Memory figures are MiB (names end in ``_mib``), times end in their unit.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from profiler.base.errors import EXIT_FAILED, EXIT_OK
from profiler.base.metadata import Metadata
from profiler.base.settings import MeasureSettings, Target
from profiler.base.stats import IDLE_BLOCK, MIN_IDLE_BLOCKS
from profiler.ceiling.limit import Ceiling
from profiler.data.fingerprint import Fingerprint
from profiler.data.synthetic import DataSpec
from profiler.strategy.scenario import TRAINER
from profiler.system.stopping import exit_code_after_stop

STATUS_OK = "ok"
STATUS_FAILED = "failed"  # the scenario raised an exception
STATUS_CRASHED = "crashed"  # the worker died without a result (signal, exit, killed)
STATUS_TIMEOUT = "timeout"
STATUS_INTERRUPTED = "interrupted"  # stopped by Ctrl-C, SIGTERM or SIGHUP
STATUS_SKIPPED = "skipped"  # not started: its predicted memory exceeds what is available
# The statuses a results file may hold, in this order.
Status = Literal["ok", "failed", "crashed", "timeout", "interrupted", "skipped"]
STATUSES: tuple[str, ...] = get_args(Status)

INPUT_BOUND = "input-bound"
MODERATELY_INPUT_BOUND = "moderately input-bound"
NOT_INPUT_BOUND = "not input-bound"
# Idle fractions at which the training step counts as waiting on input.
INPUT_BOUND_AT = 0.20
MODERATELY_INPUT_BOUND_AT = 0.05

DATA_SAME = "same"
DATA_CLOSE = "close"  # same samples, shapes and labels; some pixels one rounding apart
DATA_DIFFERS = "differs"


@dataclass(frozen=True)
class AutotuneValue:
    """A value tf.data's autotuning chose, read from the pipeline's iterator after the flat-out
    phase."""

    node: str  # the dataset op, such as "ParallelMapV2" or "Prefetch"
    parameter: str  # "parallelism", "buffer_size"
    value: float


def verdict_for(idle_fraction: float | None) -> str | None:
    if idle_fraction is None:
        return None
    if idle_fraction >= INPUT_BOUND_AT:
        return INPUT_BOUND
    if idle_fraction >= MODERATELY_INPUT_BOUND_AT:
        return MODERATELY_INPUT_BOUND
    return NOT_INPUT_BOUND


@dataclass(frozen=True)
class RoleCpu:
    """The CPU one role's processes used over the flat-out phase, per sample consumed."""

    role: str  # "trainer", "dispatcher", "service workers"
    cpu_us_per_sample: float


@dataclass(frozen=True)
class ReferenceRecord:
    """The machine's speed over a run: a fixed workload's rate in each round it took a turn in."""

    unit: str
    rates: tuple[float, ...]
    rounds: tuple[int, ...]
    rate: float
    rate_ci: tuple[float, float] | None = None
    # The run's own sample work on one core (samples/s) in the same rounds: the ceiling's, timed
    # beside the strategies (profiler.ceiling.limit.in_turns).
    work_rates: tuple[float, ...] = ()
    work_rounds: tuple[int, ...] = ()


@dataclass(frozen=True, repr=False)
class ScenarioResult:
    name: str
    status: Status
    error: str | None = None
    summary: str = ""
    description: str = ""
    # None: not known (a user's pipeline, measured at one size, may or may not hold its data whole).
    memory_grows_with_data: bool | None = False
    disk_grows_with_data: bool = False
    # What a scenario that writes the decoded dataset wrote to its scratch folder, measured before
    # removal.
    disk_written_mib: float | None = None
    snippet: str = ""  # the code that builds this strategy on a user's files
    source_hash: str | None = None
    wall_s: float | None = None
    # Memory above the baseline (RSS right after importing TensorFlow), whole process tree.
    baseline_rss_mib: float | None = None
    baseline_pss_mib: float | None = None
    peak_rss_mib: float | None = None
    peak_pss_mib: float | None = None
    # The worker's own ru_maxrss, absolute: a cross-check for a single-process pipeline.
    ru_maxrss_mib: float | None = None
    rss_interval_ms: float | None = None
    # Warm-up: both measured from the moment the pipeline starts being built.
    build_s: float | None = None
    first_batch_s: float | None = None
    warmup_epoch_s: float | None = None
    # Flat out: windows of window_batches batches from a stream running across epochs (see
    # profiler.measuring.procedure); rates are the median window's, with the 95% interval of that
    # median.
    epoch_s: tuple[float, ...] = ()  # every whole epoch the flat-out stream went through
    batches_per_epoch: int | None = None
    samples_per_epoch: int | None = None
    batches_per_s: float | None = None
    samples_per_s: float | None = None
    samples_per_s_ci: tuple[float, float] | None = None
    batches_per_s_min: float | None = None
    batches_per_s_max: float | None = None
    window_samples_per_s: tuple[float, ...] = ()  # every window that counts, in order
    # Each of those windows was one turn, taken in this round (profiler.measuring.turns): windows of
    # two targets with the same round were neighbours in time.
    turn_rounds: tuple[int, ...] = ()
    group: int | None = None  # the workers measured together, interleaved, in the run
    # samples_per_s over the machine's reference measured in the same rounds (profiler.worker.
    # reference): the median of the turns' ratios, and its 95% interval. A slower machine moves
    # both, and the ratio stays.
    reference_ratio: float | None = None
    reference_ratio_ci: tuple[float, float] | None = None
    window_batches: int | None = None
    warmup_windows: int = 0  # leading windows left out as warm-up
    rate_capped: bool = (
        False  # the time cap ended the windows before the interval was narrow enough
    )
    cpu_s: float | None = None  # tree CPU seconds per flat-out epoch
    # Where the pipeline named the processes it started: the CPU of each role, the trainer first.
    cpu_roles: tuple[RoleCpu, ...] = ()
    service_workers: int | None = None  # tf.data service workers that served it
    # Usable cores kept busy over the flat-out phase by other processes than the pipeline's (the
    # profiler's own sampling, other work on the machine): what the pipeline could not have.
    other_busy_cores: float | None = None
    processes: int = 1  # fresh workers whose measurements were pooled
    # samples_per_s over what this machine can do at most for this data (see
    # profiler.ceiling.limit).
    ceiling_fraction: float | None = None
    # Paced steps: a device step per batch. Steady state: each epoch's first batch is left out of
    # idle and the wait percentiles, and its wait reported as epoch_start_wait_ms. idle_fraction
    # is the idle above the fetch floor (the wait for an always-ready batch behind the same step).
    idle_s: float | None = None
    compute_s: float | None = None
    idle_fraction: float | None = None
    idle_fraction_ci: tuple[float, float] | None = None
    idle_fraction_raw: float | None = None  # before the fetch floor is taken off
    fetch_floor_ms: float | None = None
    idle_capped: bool = (
        False  # the time cap ended the paced steps before the interval was narrow enough
    )
    wait_p50_ms: float | None = None
    wait_p95_ms: float | None = None
    wait_ms: tuple[float, ...] = ()
    epoch_start_wait_ms: float | None = None
    step_p50_ms: float | None = None  # median training step of the paced epochs, steady state
    step_device: str | None = None  # "simulated", or where the Keras consumer's step ran ("GPU:0")
    gpu_utilization_percent: float | None = None  # mean NVML utilization during the paced epochs
    fingerprint: Fingerprint | None = None
    fingerprint_matches: bool | None = None  # every pixel and label equals the dataset's
    samples_match: bool | None = None  # count, shapes, dtypes, labels equal, pixels close
    # Set by scenarios that decode with another library than OpenCV, whose pixels may round
    # one level apart: for them, matching samples are enough.
    pixels_may_differ: bool = False
    tf_data_options: dict[str, Any] = field(default_factory=dict)
    autotune: tuple[
        AutotuneValue, ...
    ] = ()  # what tf.data's autotuning had chosen by the end of the flat-out phase
    trace_files: tuple[str, ...] = ()  # TensorBoard profiles of one paced epoch (run --trace)
    memory_timeline: tuple[tuple[float, float], ...] = ()  # (seconds since worker start, MiB RSS)
    # Seconds from the worker's start to its baseline, where the build begins and the timeline
    # starts.
    build_started_s: float | None = None
    log_path: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def __repr__(self) -> str:
        """A short summary (a failed assertion on a result prints this, not sixty fields)."""
        if not self.ok:
            return f"ScenarioResult({self.name!r}, {self.status}: {self.error or 'no error given'})"
        parts = [
            None if self.samples_per_s is None else f"{self.samples_per_s:,.0f} samples/s",
            None if self.idle_fraction is None else f"idle {self.idle_fraction:.1%}",
            None if self.peak_rss_mib is None else f"peak {self.peak_rss_mib:+,.0f} MiB RSS",
            None if self.first_batch_s is None else f"first batch {self.first_batch_s:.2f} s",
        ]
        return f"ScenarioResult({self.name!r}, {', '.join(p for p in parts if p)})"

    @property
    def verdict(self) -> str | None:
        return verdict_for(self.idle_fraction)

    @property
    def rate_spread(self) -> float | None:
        """Standard deviation / mean of the per-epoch batch rates: the epoch-to-epoch noise.

        Only results of format 1 need it: their rates carry no interval.
        """
        if len(self.epoch_s) < 2 or not self.batches_per_epoch or min(self.epoch_s) <= 0:
            return None
        rates = [self.batches_per_epoch / seconds for seconds in self.epoch_s]
        return statistics.stdev(rates) / statistics.fmean(rates)

    @property
    def rate_half_width(self) -> float | None:
        """Half the width of the rate's 95% interval (the larger side), as a share of the rate."""
        if self.samples_per_s_ci is None or not self.samples_per_s:
            return None
        low, high = self.samples_per_s_ci
        return max(self.samples_per_s - low, high - self.samples_per_s) / self.samples_per_s

    @property
    def idle_interval_unknown(self) -> bool:
        """Idle from paced steps too few for an interval: fewer than MIN_IDLE_TURNS turns (a file
        written before such intervals were left unknown holds a zero-wide one from fewer than
        MIN_IDLE_BLOCKS blocks of IDLE_BLOCK steps). Results of format 1 had no intervals at all,
        and are not unknown in this sense."""
        return (
            self.idle_fraction is not None
            and bool(self.wait_ms)
            and bool(self.window_samples_per_s)
            and (self.idle_fraction_ci is None or len(self.wait_ms) < MIN_IDLE_BLOCKS * IDLE_BLOCK)
        )

    @property
    def idle_half_width(self) -> float | None:
        """Half the width of the idle fraction's 95% interval (the larger side), as a fraction."""
        if self.idle_fraction_ci is None or self.idle_fraction is None:
            return None
        low, high = self.idle_fraction_ci
        return max(self.idle_fraction - low, high - self.idle_fraction)

    @property
    def windows(self) -> int:
        return len(self.window_samples_per_s)

    @property
    def delivered(self) -> str | None:
        """What one delivered sample is, from its own batches: "64x64x3 float32"; None where
        unknown."""
        fp = self.fingerprint
        return None if fp is None or not fp.samples else fp.sample_kind

    @property
    def data_status(self) -> str | None:
        """DATA_SAME, DATA_CLOSE (allowed for this scenario), DATA_DIFFERS, or None when not
        checked."""
        if self.fingerprint_matches is None:
            return None
        if self.fingerprint_matches:
            return DATA_SAME
        if self.pixels_may_differ and self.samples_match:
            return DATA_CLOSE
        return DATA_DIFFERS


@dataclass(frozen=True)
class Pick:
    """The strategy to use and why, or (``name`` None) why there is none."""

    name: str | None
    reason: str
    runner_up: str | None = None
    tied_with: tuple[
        str, ...
    ] = ()  # the ones it could not be told apart from, the tie broken by a stated rule
    # Rows left out of the ranking: they delivered other data than the rows ranked ("64x64x3
    # float32").
    not_compared: tuple[str, ...] = ()
    compared_on: str | None = None  # what the ranked rows delivered
    # Rows left out of the ranking: their rate's 95% interval was wider than ±WIDE_RATE_INTERVAL.
    too_wide: tuple[str, ...] = ()


@dataclass(frozen=True)
class DataRecord:
    """The dataset a run measured on: generated (and where it was cached) or a user's own."""

    spec: DataSpec
    path: str = ""
    # A user's data: samples it holds, those that did not decode (the first few named), the median
    # source size, the mean bytes of a stored sample, the formats met, and the profiler's index.
    found: int | None = None
    skipped_files: int = 0
    skipped_examples: tuple[str, ...] = ()
    # A folder's bad files or a TFRecord's bad records, which the printed script leaves out.
    skipped_paths: tuple[str, ...] = ()
    typical_size: str = ""
    bytes_per_file: float | None = None
    formats: tuple[str, ...] = ()
    index: str = ""

    @property
    def description(self) -> str:
        if self.found is None:
            return self.spec.describe()
        held = f" of {self.found:,}" if self.found != self.spec.samples + self.skipped_files else ""
        per_file = f", {self.bytes_per_file / 1024:,.0f} KiB each" if self.bytes_per_file else ""
        kinds = "/".join(self.formats)
        return (
            f"{self.spec.samples:,}{held} {kinds} samples of {self.spec.path}, typically "
            f"{self.typical_size}{per_file} -> {'x'.join(str(n) for n in self.spec.sample_shape)}"
            + (", augmented" if self.spec.augment else "")
        )


@dataclass(frozen=True)
class RunResult:
    metadata: Metadata
    settings: MeasureSettings
    targets: tuple[Target, ...]
    data: DataRecord | None
    expected_fingerprint: Fingerprint | None = None
    scenarios: tuple[ScenarioResult, ...] = ()
    interrupted: bool = False
    created: str = ""
    recommendation: Pick | None = None
    ceiling: Ceiling | None = None
    data_dir: str = ""
    reference: ReferenceRecord | None = None

    @property
    def samples(self) -> int | None:
        return None if self.data is None else self.data.spec.samples


def exit_code(results: tuple[ScenarioResult, ...] | list[ScenarioResult], interrupted: bool) -> int:
    """1 when a target failed, crashed or timed out, else 0 (a skip is no failure).

    An interrupted run: 130 after Ctrl-C, 128 + the signal's number after SIGTERM or SIGHUP.
    """
    if interrupted:
        return exit_code_after_stop()
    return EXIT_OK if all(r.status in (STATUS_OK, STATUS_SKIPPED) for r in results) else EXIT_FAILED


def cpu_us_per_sample_by_role(result: ScenarioResult) -> dict[str, float]:
    """Each role's CPU per sample; where the pipeline named no process (a cluster of the user's),
    the whole tree is the trainer's."""
    roles = {role.role: role.cpu_us_per_sample for role in result.cpu_roles}
    if not roles and result.cpu_s and result.samples_per_epoch:
        roles[TRAINER] = result.cpu_s / result.samples_per_epoch * 1e6
    return roles
