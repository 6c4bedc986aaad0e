"""How a tf.data service's rate grows with its workers, and how many a training step needs.

Each measured count of local workers is a ``ScalePoint``. The fit takes the rate of one worker
(one core of this machine: local workers are held to a core each) from the counts whose CPU left
this machine's cores room, and limits it by what does not grow with workers: the trainer's
receiving and the dispatcher, each from the CPU it spent per sample at the fastest count. On this
machine every count also shares the cores, which bounds the rate at the cores other processes
left free / (CPU of all roles per sample) as the fewest workers spent it; a cluster of other
machines does not. ``Advice`` turns a training step into a rate and that rate into
workers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from profiler.base.codec import encode
from profiler.base.metadata import Metadata
from profiler.base.settings import MeasureSettings
from profiler.results.files import FORMAT_VERSION, write_json
from profiler.results.records import DataRecord, ScenarioResult, cpu_us_per_sample_by_role
from profiler.strategy.scenario import DISPATCHER, SERVICE_WORKERS, TRAINER

KIND_SCALE = "scale"
SCALE_FILE = "scale.json"
# A count whose roles together kept this share of the cores busy was held back by this machine.
CORE_BOUND_FRACTION = 0.85
# A count within this share of the trainer's or the dispatcher's limit was held back by it.
LIMIT_BOUND_FRACTION = 0.9


@dataclass(frozen=True)
class ScalePoint:
    """One measured count of workers."""

    workers: int
    status: str
    error: str | None = None
    samples_per_s: float | None = None
    samples_per_s_ci: tuple[float, float] | None = None
    # CPU per sample of each role over the flat-out phase.
    trainer_us_per_sample: float | None = None
    dispatcher_us_per_sample: float | None = None
    workers_us_per_sample: float | None = None
    startup_s: float | None = None  # servers started, then the job's first batch: paid once
    idle_fraction: float | None = None  # behind the training step, above the fetch floor
    samples_match: bool | None = None
    other_busy_cores: float | None = None  # cores other processes kept busy meanwhile

    @property
    def ok(self) -> bool:
        return self.samples_per_s is not None and self.samples_match is not False

    @property
    def cpu_us_per_sample(self) -> float | None:
        parts = (
            self.trainer_us_per_sample,
            self.dispatcher_us_per_sample,
            self.workers_us_per_sample,
        )
        return None if any(part is None for part in parts) else sum(parts)  # type: ignore[arg-type]


def point_of(workers: int, result: ScenarioResult) -> ScalePoint:
    roles = cpu_us_per_sample_by_role(result)
    return ScalePoint(
        workers=result.service_workers or workers,
        status=result.status,
        error=result.error,
        samples_per_s=result.samples_per_s,
        samples_per_s_ci=result.samples_per_s_ci,
        trainer_us_per_sample=roles.get(TRAINER),
        dispatcher_us_per_sample=roles.get(DISPATCHER),
        workers_us_per_sample=roles.get(SERVICE_WORKERS),
        startup_s=result.first_batch_s,
        idle_fraction=result.idle_fraction,
        samples_match=result.samples_match,
        other_busy_cores=result.other_busy_cores,
    )


@dataclass(frozen=True)
class ScaleFit:
    """rate(n) = min(n x per worker, trainer limit, dispatcher limit); here also at most the free
    cores / CPU per sample."""

    per_worker_samples_per_s: float
    per_worker_samples_per_s_range: tuple[float, float]  # from the rates' 95% intervals
    counts_fitted: tuple[int, ...]  # the counts not held back by this machine's cores
    trainer_limit_samples_per_s: float | None  # this machine's cores / the trainer's CPU per sample
    dispatcher_limit_samples_per_s: float | None  # one core / the dispatcher's CPU per sample
    # The cores other processes left free (as the fewest workers found them) / every role's CPU per
    # sample.
    local_limit_samples_per_s: float | None

    def samples_per_s(
        self, workers: float, per_worker: float | None = None, local: bool = False
    ) -> float:
        limits = [self.trainer_limit_samples_per_s, self.dispatcher_limit_samples_per_s]
        if local:
            limits.append(self.local_limit_samples_per_s)
        return min(
            [workers * (per_worker or self.per_worker_samples_per_s), *[x for x in limits if x]]
        )

    @property
    def serial_limit_samples_per_s(self) -> float | None:
        """The most any number of workers can deliver to one trainer."""
        limits = [
            x for x in (self.trainer_limit_samples_per_s, self.dispatcher_limit_samples_per_s) if x
        ]
        return min(limits) if limits else None

    @property
    def bound_by(self) -> str:
        trainer, dispatcher = self.trainer_limit_samples_per_s, self.dispatcher_limit_samples_per_s
        if dispatcher and (not trainer or dispatcher < trainer):
            return DISPATCHER
        return TRAINER


def fit(points: tuple[ScalePoint, ...], cores: int) -> ScaleFit | None:
    """The per-worker rate through the origin, by least squares, over the counts that nothing but
    their workers held back: neither this machine's free cores nor the trainer's or the dispatcher's
    limit (the fewest workers where every count was); the limits from the CPU the roles spent."""
    usable = [p for p in points if p.ok]
    if not usable:
        return None
    # Part of the trainer's and the dispatcher's CPU goes by the second (heartbeats), not by the
    # sample: the fastest count spreads it thinnest, as a cluster at the rate the advice is for
    # would.
    fastest = max(usable, key=lambda p: p.samples_per_s or 0.0)
    trainer, dispatcher = (
        _limit(cores, fastest.trainer_us_per_sample),
        _limit(1, fastest.dispatcher_us_per_sample),
    )
    serial = min([limit for limit in (trainer, dispatcher) if limit] or [math.inf])
    fitted = [p for p in usable if not _held_back(p, cores, serial)] or usable[:1]
    squares = sum(p.workers**2 for p in fitted)

    def through_origin(rates: list[float]) -> float:
        return sum(p.workers * rate for p, rate in zip(fitted, rates, strict=True)) / squares

    point = through_origin([p.samples_per_s for p in fitted])  # type: ignore[misc]
    bounds = [p.samples_per_s_ci or (p.samples_per_s, p.samples_per_s) for p in fitted]
    low = through_origin([bound[0] for bound in bounds])  # type: ignore[misc]
    high = through_origin([bound[1] for bound in bounds])  # type: ignore[misc]
    return ScaleFit(
        per_worker_samples_per_s=point,
        per_worker_samples_per_s_range=(low, high),
        counts_fitted=tuple(p.workers for p in fitted),
        trainer_limit_samples_per_s=trainer,
        dispatcher_limit_samples_per_s=dispatcher,
        local_limit_samples_per_s=_limit(
            _free_cores(fitted[0], cores), fitted[0].cpu_us_per_sample
        ),
    )


def _held_back(point: ScalePoint, cores: int, serial_limit: float) -> bool:
    """The count's roles kept the cores others left busy, or its rate reached the trainer's or the
    dispatcher's limit: more workers would not have added their share."""
    rate = point.samples_per_s or 0.0
    if rate >= LIMIT_BOUND_FRACTION * serial_limit:
        return True
    if point.cpu_us_per_sample is None:
        return False
    free = cores - (point.other_busy_cores or 0.0)
    return rate * point.cpu_us_per_sample / 1e6 >= CORE_BOUND_FRACTION * free


def _free_cores(point: ScalePoint, cores: int) -> float:
    """The cores other processes left the roles, never fewer than the roles were seen to use: the
    load of others and the roles' own are read apart and can add up to more than the cores."""
    used = (point.samples_per_s or 0.0) * (point.cpu_us_per_sample or 0.0) / 1e6
    return max(cores - (point.other_busy_cores or 0.0), used)


def predicted_from_fewest(points: tuple[ScalePoint, ...], cores: int, workers: int) -> float | None:
    """What the fewest workers measured alone predict for ``workers`` on this machine."""
    alone = fit(tuple(p for p in points if p.ok)[:1], cores)
    return None if alone is None else alone.samples_per_s(workers, local=True)


def _limit(cores: float, us_per_sample: float | None) -> float | None:
    return cores * 1e6 / us_per_sample if us_per_sample else None


@dataclass(frozen=True)
class Advice:
    """How many workers keep ``accelerators`` busy at a step of ``step_ms`` on batches of
    ``batch_size``."""

    step_ms: float
    batch_size: int
    accelerators: int
    # cores of each worker machine: its rate is this many of this machine's one-core workers
    worker_cores: int
    required_samples_per_s: float
    per_worker_samples_per_s: float
    # None: no count does it, the trainer's receiving or the dispatcher bounds it
    workers_needed: int | None
    workers_range: tuple[int, int] | None
    bound_by: str  # "workers", "trainer" or "dispatcher"
    # Against an existing cluster: its workers, whether its measured rate keeps the step busy, how
    # many more.
    cluster_workers: int | None = None
    keeps_busy: bool | None = None
    more_workers: int | None = None


def required_rate(step_ms: float, batch_size: int, accelerators: int) -> float:
    """Samples/s that keep every accelerator busy: each takes a batch per step."""
    return accelerators * batch_size * 1000.0 / step_ms if step_ms > 0 else math.inf


def advise(
    scale: ScaleFit, step_ms: float, batch_size: int, accelerators: int, worker_cores: int
) -> Advice:
    required = required_rate(step_ms, batch_size, accelerators)
    per_worker = scale.per_worker_samples_per_s * worker_cores
    low, high = (rate * worker_cores for rate in scale.per_worker_samples_per_s_range)
    serial = scale.serial_limit_samples_per_s
    enough = serial is None or required <= serial
    return Advice(
        step_ms=step_ms,
        batch_size=batch_size,
        accelerators=accelerators,
        worker_cores=worker_cores,
        required_samples_per_s=required,
        per_worker_samples_per_s=per_worker,
        workers_needed=_workers_for(required, per_worker) if enough else None,
        workers_range=(_workers_for(required, high), _workers_for(required, low))
        if enough and low > 0
        else None,
        bound_by="workers" if enough else scale.bound_by,
    )


def _workers_for(required: float, per_worker: float) -> int:
    return max(1, math.ceil(required / per_worker - 1e-9)) if math.isfinite(required) else 0


def advise_cluster(
    point: ScalePoint, step_ms: float, batch_size: int, accelerators: int, cores: int
) -> Advice:
    """An existing cluster of ``point.workers`` workers: per worker what it measured, all together
    (bounds and all) whether that keeps the step busy; no count where this trainer could not receive
    the rate."""
    assert point.samples_per_s is not None
    required = required_rate(step_ms, batch_size, accelerators)
    per_worker = point.samples_per_s / point.workers
    low = (point.samples_per_s_ci or (point.samples_per_s,) * 2)[0]
    high = (point.samples_per_s_ci or (point.samples_per_s,) * 2)[1]
    trainer_limit = _limit(cores, point.trainer_us_per_sample)
    enough = trainer_limit is None or required <= trainer_limit
    needed = _workers_for(required, per_worker) if enough else None
    return Advice(
        step_ms=step_ms,
        batch_size=batch_size,
        accelerators=accelerators,
        worker_cores=0,
        required_samples_per_s=required,
        per_worker_samples_per_s=per_worker,
        workers_needed=needed,
        workers_range=(
            _workers_for(required, high / point.workers),
            _workers_for(required, low / point.workers),
        )
        if enough
        else None,
        bound_by="workers" if enough else TRAINER,
        cluster_workers=point.workers,
        keeps_busy=point.samples_per_s >= required,
        more_workers=None if needed is None else max(0, needed - point.workers),
    )


@dataclass(frozen=True)
class ScaleResult:
    metadata: Metadata
    settings: MeasureSettings
    data: DataRecord | None
    created: str
    cores: int  # this machine's usable cores: the local counts' bound
    counts_planned: tuple[
        int, ...
    ] = ()  # the local counts to measure; empty for a cluster of the user's
    points: tuple[ScalePoint, ...] = ()
    fit: ScaleFit | None = None
    advice: Advice | None = None
    dispatcher: str | None = (
        None  # the user's cluster, where one was measured instead of local workers
    )
    wall_s: float | None = None
    interrupted: bool = False


def scale_to_json(result: ScaleResult) -> dict[str, Any]:
    data = {"format_version": FORMAT_VERSION, "kind": KIND_SCALE, **encode(result)}
    # derived, for readers of the file: the fit at each measured count, here
    if result.fit is not None:
        data["fit"]["predicted_here"] = {
            str(p.workers): result.fit.samples_per_s(p.workers, local=True) for p in result.points
        }
        data["fit"]["predicted_from_fewest"] = {
            str(p.workers): predicted_from_fewest(result.points, result.cores, p.workers)
            for p in result.points
        }
    return data


def save_scale(result: ScaleResult, path: Path) -> None:
    write_json(scale_to_json(result), path)
