"""The measuring options that run, sweep, tune and scale share (``profiler.commands.run_plans``
turns them into the typed RunPlan)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from profiler.base.errors import ProfilerError
from profiler.base.metadata import usable_cpus
from profiler.base.settings import CONSUMERS, MeasureSettings, Target
from profiler.commands.value_parsers import (
    bounded_int,
    path_argument,
    percentage,
    pipeline_argument,
    positive_float,
    positive_int,
    step_ms,
)
from profiler.strategy.pipeline_adapter import reference_of
from profiler.strategy.registry import ALL


class PipelineAction(argparse.Action):
    """--pipeline MODULE:FUNCTION: a new target, whose arguments the --pipeline-arg after it
    fill."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        targets = list(getattr(namespace, self.dest) or [])
        targets.append(Target.pipeline(reference_of(str(values))))
        setattr(namespace, self.dest, targets)


class PipelineArgumentAction(argparse.Action):
    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        targets = list(getattr(namespace, self.dest) or [])
        if not targets:
            raise ProfilerError(
                "--pipeline-arg comes before any --pipeline: put it after the pipeline it is for"
            )
        key, value = values
        last = targets[-1]
        if key in last.arguments:
            raise ProfilerError(
                f"--pipeline-arg {key} is given twice for --pipeline {last.reference}: give it "
                "once (for another value, repeat --pipeline with its own --pipeline-arg)"
            )
        targets[-1] = Target.pipeline(last.reference, {**last.arguments, key: value})
        setattr(namespace, self.dest, targets)


def max_workers() -> int:
    """More threads or processes than this only compete for the same cores (and each process
    imports)."""
    return max(32, 8 * usable_cpus())


def add_measurement_arguments(
    parser: argparse.ArgumentParser, pipelines: bool
) -> argparse._ArgumentGroup:
    settings = MeasureSettings()
    run = parser.add_argument_group("measurement")
    _add_target_arguments(parser, run, pipelines)
    _add_service_arguments(run)
    run.add_argument(
        "--batch-size",
        type=positive_int,
        default=settings.batch_size,
        help="samples per batch (default: %(default)s)",
    )
    run.add_argument(
        "--epochs",
        type=positive_int,
        default=settings.epochs,
        help="flat-out epochs timed at least, after the warm-up epoch; windows go on until the "
        "rate is precise (default: %(default)s)",
    )
    run.add_argument(
        "--idle-epochs",
        type=positive_int,
        default=settings.idle_epochs,
        help="epochs consumed at least behind the training step, for idle time; steps go on "
        "until idle is precise (default: %(default)s)",
    )
    _add_precision_arguments(run, settings)
    run.add_argument(
        "--workers",
        type=bounded_int(1, max_workers(), "eight per usable CPU"),
        default=usable_cpus(),
        help="processes for pool-based scenarios (default: usable CPUs, %(default)s)",
    )
    run.add_argument(
        "--timeout",
        type=positive_float,
        default=settings.timeout_s,
        help="seconds one worker process may take to start and import TensorFlow, and again "
        "once told to build its pipeline (default: %(default)s)",
    )
    run.add_argument(
        "--cold",
        action="store_true",
        help="drop the data's files from the page cache before every measured epoch, so reading "
        "from disk is in the figures, as in a first pass over data bigger than memory",
    )
    run.add_argument(
        "--shuffle-buffer",
        type=bounded_int(0, 2**31 - 1, "samples"),
        default=0,
        metavar="N",
        help="shuffle every built-in strategy's samples through a seeded buffer of N samples, "
        "whose memory shows in the peak (default: no shuffling)",
    )
    run.add_argument(
        "--output",
        type=path_argument,
        default=Path("reports"),
        help="folder in which each run creates a new dated subfolder (default: %(default)s)",
    )
    return run


def _add_target_arguments(
    parser: argparse.ArgumentParser, run: argparse._ArgumentGroup, pipelines: bool
) -> None:
    """What to measure: --scenario, and where a command takes them, --pipeline and its
    arguments."""
    selection = (
        "'all' (all but the slow opt-in scenarios), 'everything', a name, or a comma list (see "
        "'list')"
    )
    if pipelines:
        run.add_argument(
            "--scenario",
            default=None,
            help=f"{selection}; default: all, or none when --pipeline is given",
        )
        run.add_argument(
            "--pipeline",
            action=PipelineAction,
            dest="pipelines",
            default=[],
            metavar="MODULE:FUNCTION",
            help="also measure your own function that returns a tf.data.Dataset, or a pair "
            "(generator function, output_signature); repeatable",
        )
        run.add_argument(
            "--pipeline-arg",
            action=PipelineArgumentAction,
            dest="pipelines",
            metavar="KEY=VALUE",
            type=pipeline_argument,
            help="keyword argument for the --pipeline before it; VALUE is read as a Python "
            "literal where it is one, else as text; repeatable",
        )
    else:
        run.add_argument("--scenario", default=ALL, help=f"{selection}; default: %(default)s")
        parser.set_defaults(pipelines=[])


def _add_service_arguments(run: argparse._ArgumentGroup) -> None:
    """The tf.data service's: a cluster of the user's, or the workers started here."""
    run.add_argument(
        "--dispatcher",
        default=None,
        metavar="grpc://HOST:PORT",
        help="data_service: use this existing tf.data service cluster instead of starting one",
    )
    run.add_argument(
        "--service-on-all-interfaces",
        action="store_true",
        help="data_service: where this system allows no private network namespace, let the local "
        "servers listen on every interface, unauthenticated, for as long as the scenario runs "
        "(default: refuse to start them)",
    )
    run.add_argument(
        "--service-workers",
        type=bounded_int(1, max_workers(), "eight per usable CPU"),
        default=MeasureSettings().service.workers,
        help="data_service: worker servers to start on this machine (default: %(default)s)",
    )


def _add_precision_arguments(run: argparse._ArgumentGroup, settings: MeasureSettings) -> None:
    run.add_argument(
        "--precision",
        type=percentage,
        default=settings.precision * 100,
        metavar="PERCENT",
        help="measure flat out until the 95%% interval of the median rate is within this many "
        "percent of it (default: %(default)g)",
    )
    run.add_argument(
        "--idle-precision",
        type=percentage,
        default=settings.idle_precision * 100,
        metavar="POINTS",
        help="consume paced steps until the 95%% interval of the idle percentage is within this "
        "many points (default: %(default)g)",
    )
    run.add_argument(
        "--time-cap",
        type=positive_float,
        default=settings.time_cap_s,
        metavar="SECONDS",
        help="stop the flat-out windows once they have lasted this long (their own time, not the "
        "other workers' turns), precise or not, once they cover --epochs epochs and six windows "
        "(default: %(default)g)",
    )
    run.add_argument(
        "--idle-time-cap",
        type=positive_float,
        default=settings.idle_time_cap_s,
        metavar="SECONDS",
        help="stop the paced steps once they have lasted this long (their own time), precise or "
        "not, once they cover --idle-epochs epochs and three turns (default: %(default)g)",
    )
    run.add_argument(
        "--processes",
        type=bounded_int(1, max_workers(), "eight per usable CPU"),
        default=settings.processes,
        help=(
            "fresh worker processes per scenario, their measurements pooled (default: %(default)s)"
        ),
    )
    run.add_argument(
        "--step-ms",
        type=step_ms,
        default=settings.step_ms,
        help="simulated training step per batch, in ms (default: %(default)s)",
    )
    run.add_argument(
        "--consumer",
        choices=CONSUMERS,
        default=settings.consumer,
        help="what consumes the idle epochs: 'sleep' simulates a device step of --step-ms; "
        "'keras' trains a small Keras model on each batch, on the device TensorFlow "
        "places it on (default: %(default)s)",
    )
