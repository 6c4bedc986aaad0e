"""The interface every input-pipeline strategy implements, and what it is given to build from.

The strategies themselves live in the top-level ``scenarios`` package (and in third-party
packages), which import this module; the core never imports them by name, it finds them through
``profiler.strategy.registry``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiler.base.settings import MeasureSettings, ServiceSettings
from profiler.data.synthetic import DataSource, DataSpec

# A batch is (images, labels): float32 [B, H, W, C] and int32 [B], numpy arrays or eager tensors.
Batch = tuple[Any, Any]


AUTOTUNE = "AUTOTUNE"  # a knob's value where tf.data picks it (tf.data.AUTOTUNE in the pipeline)


@dataclass(frozen=True)
class Knob:
    """A setting of a strategy that ``tune`` measures: its value untuned and the others worth
    trying."""

    name: str
    default: Any  # what the strategy does untuned; None: the run's --workers
    values: tuple[Any, ...] = ()  # tried besides the default
    threads: bool = False  # also try 1 up to twice the usable cores
    code: str = ""  # the line that sets it in the strategy's code, "{value}" filled in
    what: str = ""  # in words, for the report

    def choices(self, cores: int, default: Any) -> tuple[Any, ...]:
        """Every value to try besides ``default``, in order, none twice."""
        counts = tuple(range(1, 2 * cores + 1)) if self.threads else ()
        return tuple(value for value in dict.fromkeys((*counts, *self.values)) if value != default)


# The roles of the processes a measurement splits its CPU by: the worker's own process, which runs
# the consumer, and the servers of a local tf.data service.
TRAINER = "trainer"
DISPATCHER = "dispatcher"
SERVICE_WORKERS = "service workers"


@dataclass
class Helpers:
    """What a pipeline started or reached beyond its own process, told to the runner once it is
    built."""

    # pid -> role ("dispatcher", say) of each process it started: the CPU of each role is measured.
    roles: dict[int, str] = field(default_factory=dict)
    service_workers: int | None = None  # tf.data service workers serving it, started or found


@dataclass(frozen=True)
class PipelineContext:
    """What a scenario gets to build its pipeline from."""

    source: DataSource | None  # None for a user's pipeline, which brings its own data
    batch_size: int
    workers: int
    # Scratch folder for this scenario alone; the runner deletes it afterwards.
    temp_dir: Path
    # read by the data service only
    service: ServiceSettings = field(default_factory=ServiceSettings)
    # False only where the worker could not confine the network to loopback (see
    # needs_private_network).
    network_private: bool = True
    # Shows the user a line at once, while the run goes on (an exposure they accepted, say).
    warn: Callable[[str], None] = field(default=lambda text: None, compare=False)
    # values ``tune`` set; the rest stay at their default
    knobs: dict[str, Any] = field(default_factory=dict)
    helpers: Helpers = field(default_factory=Helpers)  # filled in by ``open``

    def setting(self, knob: Knob, tensorflow: Any = None) -> Any:
        """The value of ``knob`` for this build; AUTOTUNE as ``tf.data.AUTOTUNE`` where
        ``tensorflow`` is given."""
        value = self.knobs.get(knob.name, knob.default)
        return tensorflow.data.AUTOTUNE if tensorflow is not None and value == AUTOTUNE else value


class Scenario:
    """One input-pipeline strategy.

    ``open`` returns a context manager whose value is re-iterable: each ``iter()`` is one epoch
    over every sample in batches of ``batch_size``, the last one partial. Whatever the pipeline
    starts (pools, threads, files) is released when the context exits, also after an early stop.
    Scenario modules import TensorFlow inside ``open`` only, so listing scenarios stays cheap and
    the profiler's parent process never holds TensorFlow.
    """

    name: str = ""
    summary: str = ""
    description: str = ""
    requires_tensorflow: bool = True
    # True where peak memory holds the whole dataset, so it grows with the number of samples; None
    # where nobody knows (a user's pipeline).
    memory_grows_with_data: bool | None = False
    # True where the decoded dataset is written to disk, which then needs room for all of it.
    disk_grows_with_data: bool = False
    # The few lines that build this strategy on a user's files (see profiler.reporters.advice).
    snippet: str = ""
    # The tf.data options the scenario sets itself; the rest stay at TensorFlow's defaults.
    tf_data_options: str = ""
    # True where the scenario decodes with another library than OpenCV (TensorFlow's image ops),
    # whose resize may round some pixels one level apart.
    pixels_may_differ: bool = False
    # What the scenario can read (profiler.data.synthetic.FORMS): encoded image files, TFRecords of
    # encoded images, arrays; a user's folder is "images", a .npy pair "arrays".
    data_kinds: tuple[str, ...] = ("images", "records", "arrays")
    # Why the scenario is left out of --scenario all (slow to start, say); empty: it is in.
    opt_in: str = ""
    # False where the pipeline's processes must not be stopped between its turns
    # (profiler.measuring.turns): it then runs on while the others take theirs.
    freezable: bool = True
    # What ``tune`` may set, the knob with the most effect first (its search goes in this order).
    knobs: tuple[Knob, ...] = ()
    # True where the pipeline runs on tf.data service workers, ServiceSettings.workers of them when
    # it starts its own: ``scale`` measures it at several counts.
    scales: bool = False

    def open(self, ctx: PipelineContext) -> AbstractContextManager[Iterable[Batch]]:
        raise NotImplementedError

    def can_freeze(self, service: ServiceSettings) -> bool:
        """Whether every process that makes this pipeline's batches is its own, and may be stopped
        between its turns; ``freezable`` unless the settings decide (a cluster of the user's)."""
        return self.freezable

    def cannot_serve(self, spec: DataSpec) -> str | None:
        """Why this scenario cannot read the data of ``spec``, or None where it can."""
        if spec.form in self.data_kinds:
            return None
        words = {"images": "image files", "records": "TFRecord files", "arrays": "arrays"}
        return (
            f"cannot read {words[spec.form]}, only "
            f"{' or '.join(words[kind] for kind in self.data_kinds)}"
        )

    def cannot_measure(self, settings: MeasureSettings) -> str | None:
        """Why this scenario cannot be measured as ``settings`` ask (--cold, --shuffle-buffer), or
        None."""
        return None

    def needs_private_network(self, service: ServiceSettings) -> bool:
        """True where the pipeline starts servers that would listen beyond loopback.

        The worker then moves into a network namespace of its own, whose only interface is
        loopback, before TensorFlow starts a thread; where the system allows none, it refuses to
        build the pipeline unless the user accepted the exposure.
        """
        return False

    def knob_choices(
        self, knob: Knob, source: DataSource | None, cores: int, default: Any
    ) -> tuple[Any, ...]:
        """The values of ``knob`` worth trying on this data besides ``default``."""
        return knob.choices(cores, default)

    def check_knobs(self, knobs: dict[str, Any]) -> None:
        """Refuse a knob this scenario does not have, naming those it has."""
        unknown = sorted(set(knobs) - {knob.name for knob in self.knobs})
        if unknown:
            have = ", ".join(knob.name for knob in self.knobs) or "none"
            raise ValueError(f"{self.name} has no setting {', '.join(unknown)} (it has: {have})")

    def validate(self) -> None:
        """Fail early, in the worker and before TensorFlow is imported, when the scenario cannot
        run."""

    def source_text(self) -> str | None:
        """The code that defines this scenario: its module's source."""
        try:
            return inspect.getsource(inspect.getmodule(type(self)))  # type: ignore[arg-type]
        except (OSError, TypeError):
            return None
