"""The measuring procedure every worker is driven through, for every caller.

1. A warm-up epoch on a fresh iterator (caches fill, the first batch is timed), left out.
2. One more epoch of a fresh iterator, fingerprinted, to check the data (what a cache serves,
   once filled). Taken before the stream begins, it costs one epoch; after it, it cost the rest of
   the stream's epoch too, consumed untimed first.
3. Flat out: windows of a fixed number of batches, each at least ``window_s`` long (whole epochs
   where six epochs fit in the time cap; enough batches that batches arriving in bursts move the
   rate by 1/16 at most), taken one after another from a stream that runs across epochs;
   more windows until the 95% interval of the median window rate is within ``precision``, or
   the time cap. Leading windows that stand apart from the rest (autotuning ramping up) are left
   out as warm-up.
4. Paced: the same stream, going on where the windows left it, consumed behind the training step
   until the idle fraction's interval is within ``idle_precision``, or the time cap; the steps
   cover ``idle_epochs`` epochs at least, so epoch starts fall among them in proportion. Before
   and after it, the same consumer fed from an always-ready source of one of its batches, whose
   wait is the fetch floor that every pipeline pays.
5. With a trace folder, one more paced epoch under TensorFlow's profiler, for TensorBoard; then
   the worker closes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from profiler.base.moved import left_behind
from profiler.base.settings import CONSUMER_KERAS, MeasureSettings
from profiler.base.stats import (
    MIN_IDLE_TURNS,
    idle_over_turns,
    median,
    median_interval,
    relative_half_width,
    warmup_cut,
)
from profiler.base.units import plain
from profiler.data.fingerprint import Fingerprint
from profiler.measuring.worker_session import WorkerSession
from profiler.results.records import AutotuneValue, ScenarioResult
from profiler.strategy.scenario import Helpers
from profiler.worker.loops import EpochTiming, PacedSteps, WindowTiming
from profiler.worker.main import ClosingReport

PHASE_WARMUP = "warm-up epoch"
PHASE_VERIFY = "checking delivered data"
PHASE_TRACE = "tracing one paced epoch for TensorBoard"
# A median counts as precise from this many windows: the first count whose order-statistic interval
# of the median leaves out both extremes.
WINDOWS_FOR_PRECISION = 9
# Steps of each block: the floor's, before and after the paced phase, and the paced phase's
# requests.
FLOOR_STEPS = 8
PACED_BLOCK = 16
_CALIBRATION_TRIES = 6
# Windows hold whole epochs where this many fit in the flat-out time cap; the cap stops no phase
# before it has this many windows, the fewest whose range is a 95% interval of their median.
WHOLE_EPOCHS_WITHIN_CAP = 6
WINDOWS_BEFORE_CAP = 6
# Where batches arrive in bursts (WindowTiming.burst), a window's rate is off by up to a burst less
# one over its batches, whichever batch the timing starts and ends on; windows hold enough batches
# to keep that under this share, where a third of the time cap allows it.
BURST_ERROR = 1 / 16
# For a time left: about how many turns a worker takes, and what each costs besides its request
# (the switch, the request's round trip), as measured on 2 cores.
TURNS = 20
TURN_COST_S = 0.03


@dataclass(frozen=True)
class FlatOut:
    """The flat-out phase: the windows that count, their size, and whether the time cap ended
    them."""

    windows: tuple[WindowTiming, ...]
    window_batches: int
    capped: bool = False
    # CPU seconds of the whole process tree over the phase, and the samples it consumed, every
    # window counted: read by the parent before and after, never between two windows.
    cpu_s: float | None = None
    samples: int = 0
    # The same CPU split by role, where the pipeline named the processes it started.
    cpu_by_role_s: dict[str, float] = field(default_factory=dict)
    # Every usable core's busy seconds over the phase, whoever used them, and the phase's length.
    busy_cpu_s: float | None = None
    wall_s: float | None = None
    # The round of each window's turn (profiler.measuring.turns), in the order of ``windows``.
    rounds: tuple[int | None, ...] = ()


class WindowMeasure(Protocol):
    """Measures one window: (batches, restart) -> its timing. ``claim`` waits for the worker's next
    turn ahead of the call, for a caller that times the call itself."""

    def __call__(self, batches: int, restart: bool, /) -> WindowTiming: ...

    def claim(self) -> None: ...


# Given a function that measures one window, the warm-up epoch and the settings, a window driver
# takes the flat-out phase's windows. The default measures until precise; the pytest fixture hands
# each window, an epoch long, to pytest-benchmark's timer.
WindowDriver = Callable[[WindowMeasure, EpochTiming, MeasureSettings], FlatOut]


@dataclass
class Measurements:
    """What one worker delivered, filled in as it goes; a failure leaves the rest empty."""

    build_s: float | None = None
    warmup: EpochTiming | None = None
    flat_out: FlatOut | None = None
    paced: list[PacedSteps] = field(default_factory=list)
    floor: list[PacedSteps] = field(default_factory=list)
    idle_capped: bool = False
    fingerprint: Fingerprint | None = None
    closing: ClosingReport | None = None
    autotune: tuple[AutotuneValue, ...] = ()
    trace_files: tuple[str, ...] = ()
    helpers: Helpers = field(default_factory=Helpers)


def budget_s(
    settings: MeasureSettings, warmup: EpochTiming, epoch_start_s: float | None = None
) -> float:
    """The turn seconds one worker's procedure takes, every cap reached, for a time left: the
    warm-up and check epochs; flat out to its cap or its epochs, and a window past it; paced to its
    cap, its epochs or its fewest turns, a block past it and the waits its epochs begin with
    (``epoch_start_s`` once seen, else the warm-up's first batch); two floor blocks; and what each
    turn costs around its request."""
    start = warmup.first_batch_s if epoch_start_s is None else epoch_start_s
    flat_out = max(settings.time_cap_s, settings.epochs * warmup.seconds) + settings.window_s
    paced = max(
        settings.idle_time_cap_s,
        settings.idle_epochs * warmup.batches * settings.step_s,
        MIN_IDLE_TURNS * PACED_BLOCK * settings.step_s,
    )
    paced += PACED_BLOCK * settings.step_s + 2 * start
    floor = 2 * FLOOR_STEPS * settings.step_s
    return 2 * warmup.seconds + flat_out + paced + floor + TURNS * TURN_COST_S


def row_budget_s(settings: MeasureSettings, row: ScenarioResult, scale: float) -> float | None:
    """The turn seconds a finished row's procedure would take with its epochs ``scale`` times as
    long (a sweep's later sizes); None where it timed no warm-up epoch."""
    if row.warmup_epoch_s is None or row.first_batch_s is None or not row.batches_per_epoch:
        return None
    epoch = EpochTiming(
        row.warmup_epoch_s * scale,
        row.first_batch_s,
        max(round(row.batches_per_epoch * scale), 1),
        round((row.samples_per_epoch or 0) * scale),
        0.0,
    )
    start = None if row.epoch_start_wait_ms is None else row.epoch_start_wait_ms / 1000.0
    return budget_s(settings, epoch, start)


def rates_kept(windows: tuple[WindowTiming, ...] | list[WindowTiming]) -> list[float]:
    """Window rates in samples/s, the leading warm-up windows left out."""
    rates = [window.samples_per_s for window in windows]
    return rates[warmup_cut(rates) :]


def rate_is_precise(windows: list[WindowTiming], precision: float) -> bool:
    kept = rates_kept(windows)
    return (
        len(kept) >= WINDOWS_FOR_PRECISION
        and relative_half_width(median(kept), median_interval(kept)) <= precision
    )


def until_precise(
    measure: WindowMeasure, warmup: EpochTiming, settings: MeasureSettings
) -> FlatOut:
    """Windows until the median rate is precise, or the time cap (the windows' own time); either
    way over ``settings.epochs`` epochs at least, and the cap waits for WINDOWS_BEFORE_CAP
    windows."""
    batches, first = _calibrated(measure, warmup, settings)
    windows = [first]
    least = settings.epochs * warmup.batches
    while True:
        covered = sum(window.batches for window in windows) >= least
        if covered and rate_is_precise(windows, settings.precision):
            return FlatOut(tuple(windows), batches)
        enough = covered and len(rates_kept(windows)) >= WINDOWS_BEFORE_CAP
        # The cap counts the target's own measured time: interleaved, the others' turns between
        # its windows are not its time.
        if enough and sum(window.seconds for window in windows) >= settings.time_cap_s:
            return FlatOut(tuple(windows), batches, capped=True)
        windows.append(measure(batches, False))


def _calibrated(
    measure: WindowMeasure, warmup: EpochTiming, settings: MeasureSettings
) -> tuple[int, WindowTiming]:
    """The window size in batches and a first window that lasted ``window_s``, growing the size as
    pyperf calibrates its loops.

    Where an epoch is short beside the time cap, windows hold whole epochs, starting at an epoch:
    every window then holds the same number of epoch starts, whose cost stays in proportion (a
    window of a third of an epoch holds a start one time in three, and the rates split in two).
    """
    per_epoch = warmup.batches
    steady_s = warmup.seconds - warmup.first_batch_s
    rate = (
        (per_epoch - 1) / steady_s
        if per_epoch > 1 and steady_s > 0
        else per_epoch / max(warmup.seconds, 1e-6)
    )
    whole = per_epoch / rate <= settings.time_cap_s / WHOLE_EPOCHS_WITHIN_CAP
    batches = _aligned(math.ceil(settings.window_s * rate), per_epoch, whole)
    window = measure(batches, True)
    for _ in range(_CALIBRATION_TRIES):
        if window.seconds >= settings.window_s:
            break
        batches = _aligned(
            math.ceil(batches * 1.2 * settings.window_s / max(window.seconds, 1e-6)),
            per_epoch,
            whole,
        )
        window = measure(batches, batches % per_epoch == 0)
    # As many as that takes, but never past a third of the time cap, which ends the phase.
    longest = int(window.batches / max(window.seconds, 1e-9) * settings.time_cap_s / 3)
    least = min(math.ceil((window.burst - 1) / BURST_ERROR), longest)
    if batches < least:
        batches = _aligned(least, per_epoch, whole)
        window = measure(batches, batches % per_epoch == 0)
    return batches, window


def _aligned(batches: int, per_epoch: int, whole: bool) -> int:
    """At least one batch; whole epochs where ``whole`` or once a window holds an epoch or more."""
    batches = max(1, batches)
    return per_epoch * math.ceil(batches / per_epoch) if whole or batches >= per_epoch else batches


def measure(
    session: WorkerSession,
    settings: MeasureSettings,
    driver: WindowDriver = until_precise,
) -> Measurements:
    """Drive one worker through the whole procedure; ``session`` raises WorkerFailure on failure."""
    measured = Measurements(build_s=session.build_s, helpers=session.helpers)
    session.phase(PHASE_WARMUP)
    measured.warmup = session.epoch()
    session.phase(PHASE_VERIFY)
    measured.fingerprint = session.fingerprint()
    taken: list[WindowTiming] = []
    round_of: dict[int, int | None] = {}
    # The machine's busy seconds and the wall time inside the flat-out turns only: interleaved,
    # what happens between them is other workers' turns.
    busy, wall = [0.0], [0.0]

    class Windows:
        def __call__(self, batches: int, restart: bool) -> WindowTiming:
            session.phase(f"flat out, window {len(taken) + 1}")
            taken.append(session.window(batches, restart))
            round_of[id(taken[-1])] = session.last_round
            busy[0] += session.turn_busy_s if session.turn_busy_s is not None else math.nan
            wall[0] += session.turn_wall_s
            return taken[-1]

        def claim(self) -> None:
            session.seat.claim()

    window = Windows()

    cpu_before, roles_before = session.tree_cpu_seconds(), _roles(session)
    flat_out = driver(window, measured.warmup, settings)
    cpu_after, roles_after = session.tree_cpu_seconds(), _roles(session)
    measured.flat_out = replace(
        flat_out,
        cpu_s=_spent(cpu_before, cpu_after),
        samples=sum(w.samples for w in taken),
        cpu_by_role_s={
            role: spent - roles_before.get(role, 0.0) for role, spent in roles_after.items()
        },
        busy_cpu_s=None if math.isnan(busy[0]) else busy[0],
        wall_s=wall[0],
        rounds=tuple(round_of.get(id(w)) for w in flat_out.windows),
    )
    measured.autotune = session.autotune()  # before the paced phase starts a new iterator
    _paced(session, settings, measured)
    # after every figure: the profiler's cost is in none of them
    if session.task.trace_dir is not None:
        session.phase(PHASE_TRACE)
        measured.trace_files = session.profile(
            measured.warmup.batches, settings.step_s, settings.consumer
        )
    measured.closing = session.close()
    return measured


def _spent(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def _roles(session: WorkerSession) -> dict[str, float]:
    return session.cpu_seconds_by_role() if session.helpers.roles else {}


def _paced(session: WorkerSession, settings: MeasureSettings, measured: Measurements) -> None:
    """Paced steps between two floor blocks, until the idle fraction is precise or the time cap."""
    assert measured.warmup is not None
    step = (
        "a Keras training step"
        if settings.consumer == CONSUMER_KERAS
        else f"{plain(settings.step_ms)} ms/step"
    )
    session.phase(f"fetch floor behind {step}")
    measured.floor.append(session.floor(FLOOR_STEPS, settings.step_s, settings.consumer))
    least = settings.idle_epochs * measured.warmup.batches
    done = 0
    while True:
        session.phase(f"paced behind {step}, {done} steps")
        measured.paced.append(session.paced(PACED_BLOCK, settings.step_s, settings.consumer))
        done += PACED_BLOCK
        # The cap stops none before the fewest turns an interval is drawn from.
        if done < least or len(measured.paced) < MIN_IDLE_TURNS:
            continue
        if _idle_is_precise(measured, settings.idle_precision):
            break
        # Its own steps' time, as the flat-out cap counts its own windows'.
        if sum(sum(b.waits_s) + sum(b.steps_s) for b in measured.paced) >= settings.idle_time_cap_s:
            measured.idle_capped = True
            break
    session.phase(f"fetch floor behind {step}")
    measured.floor.append(session.floor(FLOOR_STEPS, settings.step_s, settings.consumer))


def steady_turns(paced: list[PacedSteps]) -> list[tuple[list[float], list[float]]]:
    """(waits, steps) of each paced block (a turn), without the steps that began an epoch."""
    turns = []
    for block in paced:
        kept = [
            (w, s)
            for w, s, first in zip(block.waits_s, block.steps_s, block.epoch_starts, strict=True)
            if not first
        ]
        turns.append(([w for w, _ in kept], [s for _, s in kept]))
    return turns


def _idle_is_precise(measured: Measurements, precision: float) -> bool:
    floor = [w for block in measured.floor for w in block.waits_s]
    point, interval = idle_over_turns(steady_turns(measured.paced), floor)
    return interval is not None and max(point - interval[0], interval[1] - point) <= precision


# Names that lived here in 0.2 and moved since, still found (with a DeprecationWarning).
__getattr__ = left_behind(__name__)
