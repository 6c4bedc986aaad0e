"""``profiler scale``: how many tf.data service workers keep a training step busy, measured at 1, 2,
... workers."""

from __future__ import annotations

import argparse

from profiler.analysis.scale_result import SCALE_FILE, ScaleResult, save_scale
from profiler.base.errors import EXIT_FAILED, EXIT_OK, ProfilerError
from profiler.base.metadata import usable_cpus
from profiler.base.settings import CONSUMER_SLEEP, MeasureSettings
from profiler.base.units import plain
from profiler.commands.data_options import add_data_arguments
from profiler.commands.measure_command import MeasureCommand
from profiler.commands.measure_options import add_measurement_arguments, max_workers
from profiler.commands.run_plans import checked_run_plan
from profiler.commands.value_parsers import bounded_int
from profiler.drivers.scale import ScalePlan, measure_scale
from profiler.reporters.scale import ScaleTerminalReporter, scale_intro, write_scale_report
from profiler.strategy.registry import ALL, EVERYTHING, resolve
from profiler.system.stopping import exit_code_after_stop

SERVICE_SCENARIO = "data_service"
MIN_STEP_MS = 0.1


class ScaleCommand(MeasureCommand[ScalePlan, ScaleResult]):
    order = 4
    name = "scale"
    help = (
        "measure the tf.data service with 1, 2, ... local workers (or your cluster) and say how "
        "many workers keep a training step busy"
    )
    results_file = SCALE_FILE
    save = staticmethod(save_scale)
    write_report = staticmethod(write_scale_report)
    driver = staticmethod(measure_scale)
    intro = staticmethod(scale_intro)
    terminal_reporter = ScaleTerminalReporter

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_data_arguments(parser)
        group = add_measurement_arguments(parser, pipelines=False)
        parser.set_defaults(scenario=SERVICE_SCENARIO, service_workers=None)
        for action in parser._actions:  # run's words for these two do not hold here
            if "--scenario" in action.option_strings:
                action.help = (
                    f"a strategy that runs on tf.data service workers (default: {SERVICE_SCENARIO})"
                )
            elif "--service-workers" in action.option_strings:
                action.help = argparse.SUPPRESS
        group.add_argument(
            "--max-workers",
            type=bounded_int(1, max_workers(), "eight per usable CPU"),
            default=None,
            metavar="N",
            help=f"measure 1 up to N local workers, one core each (default: the usable CPUs, "
            f"{usable_cpus()})",
        )
        group.add_argument(
            "--accelerators",
            type=bounded_int(1, 100_000, "accelerators"),
            default=1,
            metavar="K",
            help=(
                "accelerators the trainer feeds, each taking a batch per step (default: "
                "%(default)s)"
            ),
        )
        group.add_argument(
            "--worker-cores",
            type=bounded_int(1, 4096, "cores"),
            default=None,
            metavar="C",
            help="cores of each machine the workers will run on: the advice counts workers of "
            "C cores, at this machine's measured rate per core (default: 1)",
        )

    def plan(self, args: argparse.Namespace) -> ScalePlan:
        _check(args)
        args.service_workers = 1
        plan = checked_run_plan(args)
        counts = () if args.dispatcher else tuple(range(1, (args.max_workers or usable_cpus()) + 1))
        return ScalePlan(plan, counts, args.accelerators, args.worker_cores or 1)

    def exit_code(self, result: ScaleResult) -> int:
        if result.interrupted:
            return exit_code_after_stop()
        return EXIT_OK if result.advice is not None else EXIT_FAILED


def _check(args: argparse.Namespace) -> None:
    """Refuse what scale cannot measure, in one line, before anything is prepared."""
    if args.service_workers is not None:
        raise ProfilerError(
            "--service-workers is chosen by scale: use --max-workers N to measure 1 to N workers"
        )
    if args.step_ms < MIN_STEP_MS:
        raise ProfilerError(
            f"--step-ms {args.step_ms:g} asks for batches faster than any accelerator takes them: "
            f"give your training step's length, {plain(MIN_STEP_MS)} ms or more"
        )
    if args.consumer != CONSUMER_SLEEP:
        raise ProfilerError(
            "scale keeps a step of --step-ms busy, and --consumer keras times its own: leave "
            "--consumer out"
        )
    if (
        args.scenario in (ALL, EVERYTHING)
        or "," in args.scenario
        or not getattr(resolve(args.scenario), "scales", False)
    ):
        raise ProfilerError(
            "scale measures one strategy that runs on tf.data service workers, not "
            f"'{args.scenario}': leave --scenario out ({SERVICE_SCENARIO})"
        )
    problem = resolve(args.scenario).cannot_measure(
        MeasureSettings(cold=args.cold, shuffle_buffer=args.shuffle_buffer)
    )
    if problem:
        raise ProfilerError(f"{args.scenario} {problem}: leave the option out")
    if args.dispatcher and (args.max_workers is not None or args.worker_cores is not None):
        option = "--max-workers" if args.max_workers is not None else "--worker-cores"
        raise ProfilerError(
            f"{option} is for workers started here, and --dispatcher measures your cluster's: give "
            "one of them"
        )


COMMAND = ScaleCommand()
