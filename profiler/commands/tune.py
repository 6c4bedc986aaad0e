"""``profiler tune``: the best settings of the fastest strategies on this data, with the code to set
them."""

from __future__ import annotations

import argparse
from dataclasses import replace

from profiler.analysis.tune_result import TUNE_FILE, TuneResult, save_tune
from profiler.base.errors import EXIT_FAILED, EXIT_OK, ProfilerError
from profiler.commands.data_options import add_data_arguments
from profiler.commands.measure_command import MeasureCommand
from profiler.commands.measure_options import add_measurement_arguments
from profiler.commands.run_plans import checked_run_plan
from profiler.commands.value_parsers import bounded_int
from profiler.drivers.tune import TunePlan, measure_tune, tunable
from profiler.reporters.tune import TuneTerminalReporter, tune_intro, write_tune_report
from profiler.strategy.registry import ALL, EVERYTHING, registered
from profiler.system.stopping import exit_code_after_stop

TUNE_TIME_CAP_S = 6.0


class TuneCommand(MeasureCommand[TunePlan, TuneResult]):
    order = 3
    name = "tune"
    help = (
        "measure the settings of the fastest strategies one at a time on your data and print the "
        "best, its gain and the code that sets it"
    )
    results_file = TUNE_FILE
    save = staticmethod(save_tune)
    write_report = staticmethod(write_tune_report)
    driver = staticmethod(measure_tune)
    intro = staticmethod(tune_intro)
    terminal_reporter = TuneTerminalReporter

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_data_arguments(parser)
        group = add_measurement_arguments(parser, pipelines=False)
        # Tuning tells settings apart by a few percent: more flat-out time than a run's default 2 s.
        parser.set_defaults(time_cap=TUNE_TIME_CAP_S)
        group.add_argument(
            "--top",
            type=bounded_int(1, 20, "strategies"),
            default=2,
            metavar="N",
            help="tune the N fastest strategies of the quick run at their defaults (default: "
            "%(default)s); ignored where --scenario names them",
        )

    def plan(self, args: argparse.Namespace) -> TunePlan:
        named = args.scenario not in (ALL, EVERYTHING)
        plan = checked_run_plan(args)
        assert plan.spec is not None
        if named:
            _check_tunable([target.name for target in plan.targets])
        else:
            plan = replace(plan, targets=tunable(plan.spec, opt_in=args.scenario == EVERYTHING))
        return TunePlan(plan, named=named, top=args.top)

    def exit_code(self, result: TuneResult) -> int:
        if result.interrupted:
            return exit_code_after_stop()
        # a setting that fails is a finding, not a failure
        return EXIT_OK if result.tuned else EXIT_FAILED


def _check_tunable(names: list[str]) -> None:
    scenarios = registered()
    without = [name for name in names if name in scenarios and not scenarios[name].knobs]
    if without:
        have = ", ".join(name for name, scenario in scenarios.items() if scenario.knobs)
        verb = "has" if len(without) == 1 else "have"
        raise ProfilerError(
            f"{', '.join(without)} {verb} nothing to tune: name strategies with settings ({have}), "
            "or leave --scenario out to tune the fastest of them"
        )


COMMAND = TuneCommand()
