"""``profiler sweep``: measure at several dataset sizes, fit the growth, predict and pick at the
target."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from profiler.analysis.fits import MIN_SIZES
from profiler.analysis.sweep_result import DEFAULT_BUDGET_SHARE, SweepResult, save_sweep
from profiler.base.errors import ProfilerError
from profiler.commands.data_options import add_data_arguments, spec_from
from profiler.commands.measure_command import MeasureCommand
from profiler.commands.measure_options import add_measurement_arguments
from profiler.commands.preflight import check_disk, check_sizes_pipelines
from profiler.commands.run_plans import check_batch_size, run_plan
from profiler.commands.value_parsers import memory_size, positive_int, sample_sizes
from profiler.data.user_data import count_samples
from profiler.drivers.run import DataCacheError, RunEvents
from profiler.drivers.sweep import SweepPlan, measure_sweep
from profiler.measuring.admission import available_memory_mib
from profiler.reporters.series_progress import SweepProgress
from profiler.reporters.sweep import SweepTerminalReporter, write_sweep_report
from profiler.results.files import SWEEP_FILE
from profiler.results.records import exit_code

DEFAULT_SIZES = "1000,2000,4000,8000"


def default_budget() -> tuple[float, str]:
    available = available_memory_mib()
    return available * DEFAULT_BUDGET_SHARE, (
        f"{DEFAULT_BUDGET_SHARE:.0%} of the {available:,.0f} MiB available when the sweep started"
    )


class SweepCommand(MeasureCommand[SweepPlan, SweepResult]):
    order = 2
    name = "sweep"
    help = (
        "measure scenarios at several dataset sizes, fit how memory and epoch time grow, and pick "
        "for the full size"
    )
    results_file = SWEEP_FILE
    save = staticmethod(save_sweep)
    write_report = staticmethod(write_sweep_report)
    terminal_reporter = SweepTerminalReporter

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_data_arguments(
            parser,
            samples_help=(
                f"comma list of dataset sizes to measure at (default: {DEFAULT_SIZES}; your data: "
                "those below its size, or an eighth, a quarter and half of it)"
            ),
            type=sample_sizes,
            default=None,
        )
        group = add_measurement_arguments(parser, pipelines=True)
        group.add_argument(
            "--target-samples",
            type=positive_int,
            default=None,
            metavar="N",
            help="size of the full dataset: predict each scenario's peak memory and epoch "
            "time there and recommend the fastest that fits (default: your data's full "
            "count; none for generated data)",
        )
        group.add_argument(
            "--memory-budget",
            type=memory_size,
            default=None,
            metavar="SIZE",
            help="memory the training job may use, such as 16GiB (default: "
            f"{DEFAULT_BUDGET_SHARE * 100:.0f}%% of the memory available when the sweep starts)",
        )

    def plan(self, args: argparse.Namespace) -> SweepPlan:
        sizes, full = sweep_sizes(args)
        check_batch_size(
            args.batch_size, sizes[0], f"the smallest size {sizes[0]}", "larger --samples"
        )
        run = run_plan(args, sizes[0])
        check_disk([spec_from(args, size) for size in sizes], run.cache_root)
        check_sizes_pipelines(run.targets)
        if args.memory_budget is None:
            budget, basis = default_budget()
        else:
            budget, basis = args.memory_budget, "set with --memory-budget"
        return SweepPlan(
            run=run,
            sizes=sizes,
            target_samples=args.target_samples or full,
            memory_budget_mib=budget,
            budget_basis=basis,
        )

    def progress(self, console: Console, path: Path, plan: SweepPlan) -> RunEvents:
        notes = []
        if len(plan.sizes) < MIN_SIZES:
            notes.append(
                f"Note: {len(plan.sizes)} size(s) give no trend to trust; pass at least "
                f"{MIN_SIZES} --samples values to extrapolate."
            )
        return SweepProgress(console, path, plan.sizes, notes)

    def measure(
        self,
        args: argparse.Namespace,
        plan: SweepPlan,
        events: RunEvents,
        save: Callable[[SweepResult], None],
        folder: Path,
    ) -> SweepResult:
        assert isinstance(events, SweepProgress)
        try:
            return measure_sweep(plan, events=events, save=save, log_dir=folder / "logs")
        except DataCacheError as error:
            if error.samples == plan.sizes[0]:
                raise
            raise ProfilerError(
                f"cannot write the dataset of {error.samples:,} samples in '{error.cache_root}' "
                f"({error.reason}): free disk space or pass --data-dir with room; the sizes "
                f"measured so far are in {folder / SWEEP_FILE}"
            ) from None
        finally:
            events.sweep_finished()

    def exit_code(self, result: SweepResult) -> int:
        return exit_code([r for run in result.runs for r in run.scenarios], result.interrupted)


def sweep_sizes(args: argparse.Namespace) -> tuple[tuple[int, ...], int | None]:
    """The sizes to measure, and a user's data's full count (None for generated data)."""
    spec = spec_from(args, 1)
    if not spec.is_user_data:
        return args.samples or sample_sizes(DEFAULT_SIZES), None
    full = count_samples(spec)
    if args.samples is None:
        below = tuple(size for size in sample_sizes(DEFAULT_SIZES) if size < full)
        sizes = (
            below
            if len(below) >= MIN_SIZES
            else tuple(sorted({max(1, full // n) for n in (8, 4, 2)}))
        )
        return sizes, full
    if args.samples[-1] > full:
        raise ProfilerError(
            f"--samples {args.samples[-1]:,} is more than the {full:,} samples in {spec.path}: "
            f"pass sizes of at most {full:,}"
        )
    return args.samples, full


COMMAND = SweepCommand()
