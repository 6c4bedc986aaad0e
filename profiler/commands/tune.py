"""``profiler tune``: the best settings of the fastest strategies on this data, with the code to set them."""

from __future__ import annotations

import argparse
from dataclasses import replace

from rich.console import Console

from profiler.analysis.tune_result import TUNE_FILE, save_tune
from profiler.base.errors import EXIT_FAILED, EXIT_OK, ProfilerError
from profiler.commands.data_options import add_data_arguments, spec_from
from profiler.commands.measure_options import add_measurement_arguments, check_batch_size, run_plan
from profiler.commands.value_parsers import bounded_int
from profiler.drivers.tune import TunePlan, measure_tune, tunable
from profiler.reporters.common import write_report_or_say_why
from profiler.reporters.tune import TuneProgress, TuneTerminalReporter, write_tune_report
from profiler.results.files import KeepLastGood, new_run_folder
from profiler.strategy.registry import ALL, EVERYTHING, registered
from profiler.system.stopping import exit_code_after_stop

TUNE_TIME_CAP_S = 6.0


class TuneCommand:
    order = 3
    name = "tune"
    help = ("measure the settings of the fastest strategies one at a time on your data and print the best, its "
            "gain and the code that sets it")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_data_arguments(parser)
        group = add_measurement_arguments(parser, pipelines=False)
        # Tuning tells settings apart by a few percent: more flat-out time than a run's default 2 s.
        parser.set_defaults(time_cap=TUNE_TIME_CAP_S)
        group.add_argument("--top", type=bounded_int(1, 20, "strategies"), default=2, metavar="N",
                           help="tune the N fastest strategies of the quick run at their defaults (default: "
                                "%(default)s); ignored where --scenario names them")

    def run(self, args: argparse.Namespace, console: Console) -> int:
        samples = spec_from(args, args.samples).samples
        if samples:
            check_batch_size(args.batch_size, samples, f"--samples {samples}", "more samples")
        named = args.scenario not in (ALL, EVERYTHING)
        plan = run_plan(args, args.samples)
        assert plan.spec is not None
        if named:
            _check_tunable([target.name for target in plan.targets])
        else:
            plan = replace(plan, targets=tunable(plan.spec, opt_in=args.scenario == EVERYTHING))
        with new_run_folder(args.output) as folder:
            path = folder / TUNE_FILE
            progress = TuneProgress(console, path)
            save = KeepLastGood(save_tune, path)
            result = measure_tune(TunePlan(plan, named=named, top=args.top), events=progress, save=save,
                                  log_dir=folder / "logs")
        report_line = write_report_or_say_why(lambda: write_tune_report(result, folder), path)
        TuneTerminalReporter(console.file).render(result)
        console.print(f"Results: {path}" if save.problem is None else f"Warning: {save.problem}.", markup=False)
        console.print(report_line, markup=False)
        if result.interrupted:
            return exit_code_after_stop()
        return EXIT_OK if result.tuned else EXIT_FAILED  # a setting that fails is a finding, not a failure


def _check_tunable(names: list[str]) -> None:
    scenarios = registered()
    without = [name for name in names if name in scenarios and not scenarios[name].knobs]
    if without:
        have = ", ".join(name for name, scenario in scenarios.items() if scenario.knobs)
        verb = "has" if len(without) == 1 else "have"
        raise ProfilerError(f"{', '.join(without)} {verb} nothing to tune: name strategies with settings ({have}), "
                            "or leave --scenario out to tune the fastest of them")


COMMAND = TuneCommand()
