"""Typed settings of a measurement, from the command line to the results file.

A ``Target`` says what is measured: a registered scenario (or a ``module:ATTRIBUTE`` naming a
Scenario object) or a user's pipeline function with its keyword arguments. ``MeasureSettings``
says how each target is measured. Both travel unchanged into the results and are serialised
once, by ``profiler.results.files``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from profiler.base.units import plain

CONSUMER_SLEEP = "sleep"  # a simulated device step of step_ms
CONSUMER_KERAS = "keras"  # a real Keras training step on every batch
Consumer = Literal["sleep", "keras"]
CONSUMERS: tuple[str, ...] = get_args(Consumer)

SCENARIO = "scenario"
PIPELINE = "pipeline"
TargetKind = Literal["scenario", "pipeline"]


@dataclass(frozen=True)
class Target:
    """One thing to measure: a scenario, or a user's pipeline function and its keyword arguments."""

    kind: TargetKind
    reference: str  # a registered name or "package.module:ATTRIBUTE"
    arguments: dict[str, Any] = field(default_factory=dict)  # a pipeline's keyword arguments
    # The row's name where the reference alone is not unique: one function with two argument sets.
    label: str = ""
    # a scenario's settings, as ``tune`` tries them
    knobs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def scenario(cls, reference: str) -> Target:
        return cls(SCENARIO, reference)

    @classmethod
    def pipeline(cls, reference: str, arguments: dict[str, Any] | None = None) -> Target:
        return cls(PIPELINE, reference, dict(arguments or {}))

    @classmethod
    def tuned(cls, reference: str, knobs: dict[str, Any]) -> Target:
        """The scenario with these settings, named by them: "parallel_map[prefetch=4]"."""
        shown = ", ".join(f"{key}={value}" for key, value in knobs.items())
        return cls(
            SCENARIO, reference, label=f"{reference}[{shown}]" if knobs else "", knobs=dict(knobs)
        )

    @property
    def name(self) -> str:
        return self.label or self.reference

    def labelled(self) -> Target:
        """This pipeline named by its arguments too, such as "shop.data:make(workers=4)"."""
        shown = ", ".join(f"{key}={value!r}" for key, value in self.arguments.items())
        return Target(self.kind, self.reference, dict(self.arguments), f"{self.reference}({shown})")

    @property
    def file_name(self) -> str:
        """The name made safe for a file name: letters, digits, '.', '-' and '_' only, at most 80 of
        them; where that changed it, a hash of the whole name keeps two names apart ("k=1" and
        "k='1'")."""
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", self.name).strip("_.") or "target"
        # "package.module:function" reads as is
        if safe == self.name.replace(":", "_") and len(safe) <= 80:
            return safe
        return f"{safe[:70]}-{hashlib.sha256(self.name.encode()).hexdigest()[:8]}"

    @property
    def is_pipeline(self) -> bool:
        """A user's pipeline brings its own data: there is no dataset to check it against."""
        return self.kind == PIPELINE


@dataclass(frozen=True)
class ServiceSettings:
    """Read by the data_service scenario only."""

    workers: int = 2  # worker servers started on this machine
    dispatcher: str | None = None  # an existing cluster, grpc://HOST:PORT, instead
    # Where no private network namespace can be made, let the local servers listen on every
    # interface, unauthenticated, rather than refuse to start them.
    on_all_interfaces: bool = False


@dataclass(frozen=True)
class MeasureSettings:
    """How every target of a run is measured (see profiler.measuring.procedure)."""

    batch_size: int = 32
    workers: int = 2  # threads or processes of the pool-based scenarios
    epochs: int = 1  # flat-out epochs timed at least, after the warm-up epoch
    idle_epochs: int = 1  # paced epochs consumed at least, for idle time
    step_ms: float = 20.0
    timeout_s: float = 300.0
    consumer: Consumer = CONSUMER_SLEEP
    service: ServiceSettings = field(default_factory=ServiceSettings)
    # Flat-out windows go on until the 95% interval of the median rate is within this share of it...
    precision: float = 0.03
    # ...and paced steps until the idle fraction's 95% interval is within this many points (a
    # fraction)...
    idle_precision: float = 0.01
    # ...or until the flat-out phase has lasted this long, and the paced one this long.
    time_cap_s: float = 1.5
    idle_time_cap_s: float = 1.0
    window_s: float = 0.1  # the least time one flat-out window lasts, as pyperf's values do
    processes: int = 1  # fresh workers per target, their measurements pooled
    cold: bool = False  # the data's files dropped from the page cache before every measured epoch
    shuffle_buffer: int = (
        0  # samples in a seeded shuffle buffer appended to every built-in strategy
    )

    @property
    def step_s(self) -> float:
        return self.step_ms / 1000.0

    def step_name(self) -> str:
        """The consumer of the idle epochs in words: "20 ms training step" or "real Keras training
        step"."""
        if self.consumer == CONSUMER_KERAS:
            return "real Keras training step"
        return f"{plain(self.step_ms)} ms training step"

    def idle_condition(self) -> str:
        """Under what idle was measured: "at 20 ms/step" or "behind a Keras training step"."""
        if self.consumer == CONSUMER_KERAS:
            return "behind a Keras training step"
        return f"at {plain(self.step_ms)} ms/step"
