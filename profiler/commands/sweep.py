"""``profiler sweep``: measure at several dataset sizes, fit the growth, predict and pick at the target."""

from __future__ import annotations

import argparse

from rich.console import Console

from profiler.commands.arguments import (
    add_data_arguments,
    add_measurement_arguments,
    check_batch_size,
    memory_size,
    positive_int,
    run_plan,
    sample_sizes,
    spec_from,
)
from profiler.commands.checks import check_disk
from profiler.errors import ProfilerError
from profiler.fits import MIN_SIZES
from profiler.measure_run import DataCacheError, SweepPlan, measure_sweep
from profiler.reporters.common import write_report_or_say_why
from profiler.reporters.progress import SweepProgress
from profiler.reporters.sweep import SweepTerminalReporter, write_sweep_report
from profiler.results import exit_code
from profiler.runner import available_memory_mib
from profiler.storage import SWEEP_FILE, KeepLastGood, new_run_folder, save_sweep
from profiler.sweep import DEFAULT_BUDGET_SHARE

DEFAULT_SIZES = "1000,2000,4000,8000"


def default_budget() -> tuple[float, str]:
    available = available_memory_mib()
    return available * DEFAULT_BUDGET_SHARE, (
        f"{DEFAULT_BUDGET_SHARE:.0%} of the {available:,.0f} MiB available when the sweep started"
    )


class SweepCommand:
    order = 2
    name = "sweep"
    help = ("measure scenarios at several dataset sizes, fit how memory and epoch time grow, and "
            "pick for the full size")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_data_arguments(
            parser,
            samples_help=f"comma list of dataset sizes to measure at (default: {DEFAULT_SIZES})",
            type=sample_sizes,
            default=sample_sizes(DEFAULT_SIZES),
        )
        group = add_measurement_arguments(parser, pipelines=False)
        group.add_argument("--target-samples", type=positive_int, default=None, metavar="N",
                           help="size of the full dataset: predict each scenario's peak memory and epoch "
                                "time there and recommend the fastest that fits")
        group.add_argument("--memory-budget", type=memory_size, default=None, metavar="SIZE",
                           help="memory the training job may use, such as 16GiB (default: "
                                f"{DEFAULT_BUDGET_SHARE * 100:.0f}%% of the memory available when the sweep starts)")

    def run(self, args: argparse.Namespace, console: Console) -> int:
        sizes: tuple[int, ...] = args.samples
        check_batch_size(args.batch_size, sizes[0], f"the smallest size {sizes[0]}", "larger --samples")
        run, unreadable = run_plan(args, sizes[0])
        check_disk([spec_from(args, size) for size in sizes], run.cache_root)
        budget, basis = default_budget() if args.memory_budget is None else (args.memory_budget,
                                                                            "set with --memory-budget")
        plan = SweepPlan(run=run, sizes=sizes, target_samples=args.target_samples, memory_budget_mib=budget,
                         budget_basis=basis)
        with new_run_folder(args.output) as folder:
            path = folder / SWEEP_FILE
            notes = [f"Leaving out {name}: it cannot read --data {args.data}." for name in unreadable]
            if len(sizes) < MIN_SIZES:
                notes.append(f"Note: {len(sizes)} size(s) give no trend to trust; pass at least {MIN_SIZES} "
                             "--samples values to extrapolate.")
            progress = SweepProgress(console, path, sizes, notes)
            save = KeepLastGood(save_sweep, path)
            try:
                sweep = measure_sweep(plan, events=progress, save=save, log_dir=folder / "logs")
            except DataCacheError as error:
                if error.samples == sizes[0]:
                    raise
                raise ProfilerError(
                    f"cannot write the dataset of {error.samples:,} samples in '{error.cache_root}' ({error.reason}): "
                    f"free disk space or pass --data-dir with room; the sizes measured so far are in {path}"
                ) from None
            finally:
                progress.sweep_finished()
        report_line = write_report_or_say_why(lambda: write_sweep_report(sweep, folder), path)
        SweepTerminalReporter(console.file).render(sweep)
        console.print(f"Results: {path}" if save.problem is None else f"Warning: {save.problem}.", markup=False)
        console.print(report_line, markup=False)
        return exit_code([r for run in sweep.runs for r in run.scenarios], sweep.interrupted)


COMMAND = SweepCommand()
