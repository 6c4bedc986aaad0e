"""Result objects and their versioned JSON form.

Memory figures are in MiB (2**20 bytes); the JSON keys keep the ``_mb`` suffix for brevity.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from profiler.errors import ProfilerError
from profiler.fingerprint import Fingerprint

FORMAT_VERSION = 1

STATUS_OK = "ok"
STATUS_FAILED = "failed"  # the scenario raised an exception
STATUS_CRASHED = "crashed"  # the worker died without a result (signal, exit, killed)
STATUS_TIMEOUT = "timeout"
STATUS_INTERRUPTED = "interrupted"  # stopped by Ctrl-C
STATUS_SKIPPED = "skipped"  # not started: its predicted memory exceeds what is available

INPUT_BOUND = "input-bound"
MODERATELY_INPUT_BOUND = "moderately input-bound"
NOT_INPUT_BOUND = "not input-bound"
# Idle fractions at which the training step counts as waiting on input.
INPUT_BOUND_AT = 0.20
MODERATELY_INPUT_BOUND_AT = 0.05


def step_name(options: dict[str, Any]) -> str:
    """The consumer of the idle epochs in words: "20 ms training step" or "real Keras training step"."""
    if options.get("consumer") == "keras":
        return "real Keras training step"
    return f"{float(options.get('step_ms', 0.0)):g} ms training step"


def idle_condition(options: dict[str, Any]) -> str:
    """Under what the idle figures were measured: "at 20 ms/step" or "behind a Keras training step"."""
    if options.get("consumer") == "keras":
        return "behind a Keras training step"
    return f"at {float(options.get('step_ms', 0.0)):g} ms/step"


def verdict_for(idle_fraction: float | None) -> str | None:
    if idle_fraction is None:
        return None
    if idle_fraction >= INPUT_BOUND_AT:
        return INPUT_BOUND
    if idle_fraction >= MODERATELY_INPUT_BOUND_AT:
        return MODERATELY_INPUT_BOUND
    return NOT_INPUT_BOUND


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    status: str
    error: str | None = None
    summary: str = ""
    description: str = ""
    memory_grows_with_data: bool = False
    disk_grows_with_data: bool = False
    source_hash: str | None = None
    wall_s: float | None = None
    # Memory above the baseline (RSS right after importing TensorFlow), whole process tree.
    baseline_rss_mb: float | None = None
    baseline_pss_mb: float | None = None
    peak_rss_mb: float | None = None
    peak_pss_mb: float | None = None
    # The worker's own ru_maxrss, absolute: a cross-check for a single-process pipeline.
    ru_maxrss_mb: float | None = None
    rss_interval_ms: float | None = None
    # Warm-up: both measured from the moment the pipeline starts being built.
    build_s: float | None = None
    first_batch_s: float | None = None
    warmup_epoch_s: float | None = None
    # Flat-out measured epochs.
    epoch_s: tuple[float, ...] = ()
    batches_per_epoch: int | None = None
    samples_per_epoch: int | None = None
    batches_per_s: float | None = None
    samples_per_s: float | None = None
    batches_per_s_min: float | None = None
    batches_per_s_max: float | None = None
    cpu_s: float | None = None  # tree CPU seconds per flat-out epoch, median
    # samples_per_s over what this machine can do at most for this data (see profiler.ceiling).
    ceiling_fraction: float | None = None
    # Paced epochs: a simulated device step per batch. Steady state: each epoch's first batch is
    # left out of idle and the wait percentiles, and its wait reported as epoch_start_wait_ms.
    idle_s: float | None = None
    compute_s: float | None = None
    idle_fraction: float | None = None
    wait_p50_ms: float | None = None
    wait_p95_ms: float | None = None
    wait_ms: tuple[float, ...] = ()
    epoch_start_wait_ms: float | None = None
    step_p50_ms: float | None = None  # median training step of the paced epochs, steady state
    step_device: str | None = None  # "simulated", or where the Keras consumer's step ran ("GPU:0")
    gpu_utilization: float | None = None  # mean NVML utilization % during the paced epochs
    fingerprint: Fingerprint | None = None
    fingerprint_matches: bool | None = None  # every pixel and label equals the dataset's
    samples_match: bool | None = None  # count, shapes, dtypes and labels equal the dataset's
    # Set by scenarios that decode with another library than OpenCV, whose pixels may round
    # one level apart: for them, matching samples are enough.
    pixels_may_differ: bool = False
    tf_data_options: dict[str, Any] = field(default_factory=dict)
    memory_timeline: tuple[tuple[float, float], ...] = ()  # (seconds since worker start, MiB RSS)
    log_path: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    @property
    def verdict(self) -> str | None:
        return verdict_for(self.idle_fraction)

    @property
    def rate_spread(self) -> float | None:
        """Standard deviation / mean of the per-epoch batch rates: the epoch-to-epoch noise."""
        if len(self.epoch_s) < 2 or not self.batches_per_epoch or min(self.epoch_s) <= 0:
            return None
        rates = [self.batches_per_epoch / seconds for seconds in self.epoch_s]
        return statistics.stdev(rates) / statistics.fmean(rates)

    @property
    def cpu_cores_busy(self) -> float | None:
        """Average number of cores the tree kept busy during a flat-out epoch."""
        if self.cpu_s is None or not self.epoch_s:
            return None
        epoch = statistics.median(self.epoch_s)
        return self.cpu_s / epoch if epoch > 0 else None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, Fingerprint):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = [list(v) if isinstance(v, tuple) else v for v in value]
            data[item.name] = value
        data["verdict"] = self.verdict
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScenarioResult:
        known = {item.name for item in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        if values.get("fingerprint") is not None:
            values["fingerprint"] = Fingerprint.from_dict(values["fingerprint"])
        for key in ("epoch_s", "wait_ms"):
            values[key] = tuple(values.get(key) or ())
        values["memory_timeline"] = tuple(tuple(point) for point in values.get("memory_timeline") or ())
        return cls(**values)

    @property
    def data_status(self) -> str | None:
        """"same", "close" (same samples, pixels one rounding apart, allowed here), "differs" or None."""
        if self.fingerprint_matches is None:
            return None
        if self.fingerprint_matches:
            return "same"
        if self.pixels_may_differ and self.samples_match:
            return "close"
        return "differs"

    def with_ceiling(self, ceiling_samples_per_s: float | None) -> ScenarioResult:
        if not ceiling_samples_per_s or self.samples_per_s is None:
            return self
        return replace(self, ceiling_fraction=self.samples_per_s / ceiling_samples_per_s)

    def with_reference(self, expected: Fingerprint | None) -> ScenarioResult:
        if expected is None or self.fingerprint is None:
            return self
        return replace(
            self,
            fingerprint_matches=self.fingerprint == expected,
            samples_match=self.fingerprint.same_samples(expected),
        )


@dataclass(frozen=True)
class RunResult:
    metadata: dict[str, Any]
    options: dict[str, Any]
    data: dict[str, Any]
    expected_fingerprint: Fingerprint | None
    scenarios: tuple[ScenarioResult, ...] = ()
    interrupted: bool = False
    created: str = ""
    recommendation: dict[str, Any] | None = None
    ceiling: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "kind": KIND_RUN,
            "created": self.created,
            "metadata": self.metadata,
            "options": self.options,
            "data": self.data,
            "expected_fingerprint": (
                self.expected_fingerprint.to_dict() if self.expected_fingerprint else None
            ),
            "interrupted": self.interrupted,
            "recommendation": self.recommendation,
            "ceiling": self.ceiling,
            "scenarios": [scenario.to_dict() for scenario in self.scenarios],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        expected = data.get("expected_fingerprint")
        return cls(
            metadata=dict(data.get("metadata") or {}),
            options=dict(data.get("options") or {}),
            data=dict(data.get("data") or {}),
            expected_fingerprint=Fingerprint.from_dict(expected) if expected else None,
            scenarios=tuple(ScenarioResult.from_dict(s) for s in data.get("scenarios") or ()),
            interrupted=bool(data.get("interrupted", False)),
            created=str(data.get("created", "")),
            recommendation=data.get("recommendation"),
            ceiling=data.get("ceiling"),
        )


def save_run(run: RunResult, path: Path) -> None:
    write_json(run.to_dict(), path)


def write_json(data: dict[str, Any], path: Path) -> None:
    """Write atomically, so a crash or Ctrl-C mid-write never leaves a truncated file."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=".results-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(data, stream, indent=2, allow_nan=False)
            stream.write("\n")
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a results file is meant to be shared
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# The "kind" key of a results file; a run's file predates the key and may lack it.
KIND_RUN = "run"
KIND_SWEEP = "sweep"
_WRITTEN_BY = {KIND_RUN: "'profiler run'", KIND_SWEEP: "'profiler sweep'"}


def read_results_json(path: Path) -> dict[str, Any]:
    """The parsed JSON of a results file of this format version, refusing anything else with advice."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as error:
        raise ProfilerError(f"cannot read results file '{path}': {error.strerror}") from None
    except ValueError as error:
        raise ProfilerError(
            f"'{path}' is not valid JSON ({error}): pass a results.json written by 'profiler run'"
        ) from None
    if not isinstance(data, dict) or "format_version" not in data:
        raise ProfilerError(f"'{path}' has no format_version: pass a results.json written by 'profiler run'")
    version = data["format_version"]
    if version != FORMAT_VERSION:
        raise ProfilerError(
            f"'{path}' is results format version {version}, this profiler reads version "
            f"{FORMAT_VERSION}: re-run 'profiler run' with this version, or use the profiler "
            "version that wrote it"
        )
    return data


def results_kind(data: dict[str, Any]) -> str:
    return str(data.get("kind", KIND_RUN))


def load_run(path: Path) -> RunResult:
    """Read a run's results file, refusing one of another format version or kind with advice."""
    data = read_results_json(path)
    if results_kind(data) != KIND_RUN:
        raise ProfilerError(
            f"'{path}' was written by {_WRITTEN_BY.get(results_kind(data), 'another command')}, not "
            "'profiler run': pass a results.json written by 'profiler run'"
        )
    try:
        return RunResult.from_dict(data)
    except (TypeError, KeyError, ValueError) as error:
        raise ProfilerError(f"'{path}' is malformed ({error}): pass an unmodified results.json") from None
