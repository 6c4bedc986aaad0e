"""Command line: ``python -m profiler run|sweep|list|report|compare``.

Each subcommand is a small object; any ProfilerError ends the program with its one-line message
and exit code (2 for bad input), never a traceback.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn, Protocol

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from profiler.ceiling import Ceiling, measure_ceiling
from profiler.compare import (
    DEFAULT_FAIL_ON,
    METRICS,
    ComparisonMarkdownReporter,
    ComparisonTerminalReporter,
    compare_runs,
    parse_thresholds,
)
from profiler.consumer import CONSUMERS
from profiler.data import DATA_KINDS, IMAGE_FORMATS, DataSource, DataSpec, default_cache_root, prepare_data
from profiler.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, ProfilerError
from profiler.fingerprint import dataset_fingerprint
from profiler.growth import MIN_SIZES
from profiler.metadata import collect_metadata, usable_cpus
from profiler.pipeline import reference_of
from profiler.recommend import with_results
from profiler.reporting import FILE_WIDTH, TerminalReporter, write_report
from profiler.results import (
    KIND_SWEEP,
    STATUS_OK,
    STATUS_SKIPPED,
    RunResult,
    ScenarioResult,
    load_run,
    read_results_json,
    results_kind,
    save_run,
)
from profiler.runner import Runner, RunSettings
from profiler.sweep import (
    DEFAULT_BUDGET_SHARE,
    SweepResult,
    default_budget,
    load_sweep,
    measure_sweep,
    save_sweep,
)
from profiler.sweep_reporting import SweepTerminalReporter, write_sweep_report

RESULTS_FILE = "results.json"


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage, so every bad input is one line, exit 2."""

    def error(self, message: str) -> NoReturn:
        raise ProfilerError(f"{message} (see '{self.prog} --help')")


class Command(Protocol):
    name: str
    help: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, console: Console) -> int: ...


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number: pass a positive integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"got {value}: pass a positive integer (1 or more)")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number: pass a number such as 20") from None
    if value < 0 or value != value:
        raise argparse.ArgumentTypeError(f"got {text}: pass a number of 0 or more")
    return value


def positive_float(text: str) -> float:
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("got 0: pass a number greater than 0")
    return value


def image_size(text: str) -> tuple[int, int]:
    """'64' for 64x64, or 'HxW'."""
    parts = text.lower().split("x")
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size: pass 64 or HEIGHTxWIDTH such as 64x48") from None
    if len(numbers) not in (1, 2) or min(numbers) <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size: pass 64 or HEIGHTxWIDTH with positive numbers")
    return (numbers[0], numbers[-1])


def sample_sizes(text: str) -> tuple[int, ...]:
    """'1000,2000,4000': distinct positive sizes, ascending."""
    sizes = []
    for part in text.split(","):
        try:
            sizes.append(positive_int(part.strip()))
        except argparse.ArgumentTypeError as error:
            raise argparse.ArgumentTypeError(f"in '{text}': {error}; write sizes as 1000,2000,4000") from None
    return tuple(sorted(set(sizes)))


_MEMORY_UNITS = {
    "kib": 1 / 1024, "mib": 1.0, "gib": 1024.0, "tib": 1024.0**2,
    "k": 1 / 1024, "m": 1.0, "g": 1024.0, "t": 1024.0**2,
    "kb": 1e3 / 2**20, "mb": 1e6 / 2**20, "gb": 1e9 / 2**20, "tb": 1e12 / 2**20,
}


def memory_size(text: str) -> float:
    """'16GiB', '16G' (binary), '16GB' (decimal) or '512MiB', in MiB."""
    cleaned = text.strip().lower().replace(" ", "")
    digits = cleaned.rstrip("kmgtib")
    unit = cleaned[len(digits):]
    try:
        value = float(digits)
    except ValueError:
        value = -1.0
    if unit not in _MEMORY_UNITS or not value > 0:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a memory size: write a positive number with a unit, such as 16GiB or 512MiB"
        )
    return value * _MEMORY_UNITS[unit]


@dataclass(frozen=True)
class Job:
    """One thing to measure: a scenario (arguments None) or a user's pipeline function."""

    reference: str
    arguments: dict[str, Any] | None


class PipelineAction(argparse.Action):
    """--pipeline MODULE:FUNCTION: a new job, whose arguments the --pipeline-arg after it fill."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        jobs = list(getattr(namespace, self.dest) or [])
        jobs.append(Job(reference_of(str(values)), {}))
        setattr(namespace, self.dest, jobs)


class PipelineArgumentAction(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        jobs = list(getattr(namespace, self.dest) or [])
        if not jobs:
            raise ProfilerError("--pipeline-arg comes before any --pipeline: put it after the pipeline it is for")
        key, value = values
        jobs[-1].arguments[key] = value  # type: ignore[index]
        setattr(namespace, self.dest, jobs)


def pipeline_argument(text: str) -> tuple[str, Any]:
    key, separator, value = text.partition("=")
    if not separator or not key.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"'{text}' is not KEY=VALUE: pass it as --pipeline-arg batch_size=64")
    try:
        parsed: Any = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        parsed = value
    return key.strip(), parsed


class ListCommand:
    name = "list"
    help = "list the scenarios and what each one does"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--verbose", "-v", action="store_true", help="print each scenario's full description")

    def run(self, args: argparse.Namespace, console: Console) -> int:
        from scenarios import REGISTRY

        table = Table(title="Scenarios, in run order", title_justify="left")
        table.add_column("Name", no_wrap=True)
        table.add_column("Memory", no_wrap=True)
        table.add_column("In 'all'", no_wrap=True)
        table.add_column("tf.data options set")
        table.add_column("Description" if args.verbose else "Summary")
        for scenario in REGISTRY.values():
            memory = "grows with data" if scenario.memory_grows_with_data else "flat"
            text = scenario.description if args.verbose else scenario.summary
            if scenario.opt_in:
                text += f". Opt-in, {scenario.opt_in}"
            table.add_row(scenario.name, memory, "opt-in" if scenario.opt_in else "yes",
                          scenario.tf_data_options or "defaults", text)
        console.print(table)
        return EXIT_OK


def add_data_arguments(parser: argparse.ArgumentParser, samples_help: str | None = None, **samples: Any) -> None:
    """The synthetic data's options, shared by run and sweep (which takes a list of sizes)."""
    defaults = DataSpec()
    data = parser.add_argument_group("data (synthetic, generated once and cached)")
    data.add_argument("--data", choices=DATA_KINDS, default=defaults.kind,
                      help="encoded image files, or memory-mapped float32 arrays (default: %(default)s)")
    data.add_argument("--samples", **(samples or {"type": positive_int, "default": defaults.samples}),
                      help=samples_help or "number of samples (default: %(default)s)")
    data.add_argument("--image-size", type=image_size, default=(defaults.height, defaults.width),
                      metavar="SIZE", help="delivered size, 64 or HxW (default: 64)")
    data.add_argument("--source-size", type=positive_int, default=defaults.source_size,
                      help="side of the stored image files before resizing (default: %(default)s)")
    data.add_argument("--channels", type=int, choices=(1, 3), default=defaults.channels,
                      help="colour channels (default: %(default)s)")
    data.add_argument("--format", dest="image_format", choices=IMAGE_FORMATS, default=defaults.image_format,
                      help="file format of --data images (default: %(default)s)")
    data.add_argument("--classes", type=positive_int, default=defaults.classes,
                      help="number of label values (default: %(default)s)")
    data.add_argument("--seed", type=int, default=defaults.seed, help="seed of the synthetic data (default: 0)")
    data.add_argument("--data-dir", type=Path, default=None,
                      help=f"cache of generated datasets (default: {default_cache_root()})")


def add_measurement_arguments(parser: argparse.ArgumentParser, pipelines: bool) -> argparse._ArgumentGroup:
    settings = RunSettings()
    run = parser.add_argument_group("measurement")
    if pipelines:
        run.add_argument("--scenario", default=None,
                         help="'all' (all but the slow opt-in scenarios), 'everything', a name, or a comma "
                              "list (see 'list'); default: all, or none when --pipeline is given")
        run.add_argument("--pipeline", action=PipelineAction, dest="pipelines", default=[], metavar="MODULE:FUNCTION",
                         help="also measure your own function that returns a tf.data.Dataset, or a pair "
                              "(generator function, output_signature); repeatable")
        run.add_argument("--pipeline-arg", action=PipelineArgumentAction, dest="pipelines", metavar="KEY=VALUE",
                         type=pipeline_argument,
                         help="keyword argument for the --pipeline before it; VALUE is read as a Python "
                              "literal where it is one, else as text; repeatable")
    else:
        run.add_argument("--scenario", default="all",
                         help="'all' (all but the slow opt-in scenarios), 'everything', a name, or a comma "
                              "list (see 'list'); default: %(default)s")
        parser.set_defaults(pipelines=[])
    run.add_argument("--dispatcher", default=None, metavar="grpc://HOST:PORT",
                     help="data_service: use this existing tf.data service cluster instead of starting one")
    run.add_argument("--service-workers", type=positive_int, default=2,
                     help="data_service: worker servers to start on this machine (default: %(default)s)")
    run.add_argument("--batch-size", type=positive_int, default=settings.batch_size,
                     help="samples per batch (default: %(default)s)")
    run.add_argument("--epochs", type=positive_int, default=settings.epochs,
                     help="flat-out epochs measured after the warm-up epoch (default: %(default)s)")
    run.add_argument("--idle-epochs", type=positive_int, default=settings.idle_epochs,
                     help="epochs consumed at --step-ms per batch to measure idle time (default: %(default)s)")
    run.add_argument("--step-ms", type=non_negative_float, default=settings.step_ms,
                     help="simulated training step per batch, in ms (default: %(default)s)")
    run.add_argument("--consumer", choices=CONSUMERS, default=settings.consumer,
                     help="what consumes the idle epochs: 'sleep' simulates a device step of --step-ms; "
                          "'keras' trains a small Keras model on each batch, on the device TensorFlow "
                          "places it on (default: %(default)s)")
    run.add_argument("--workers", type=positive_int, default=usable_cpus(),
                     help="processes for pool-based scenarios (default: usable CPUs, %(default)s)")
    run.add_argument("--timeout", type=positive_float, default=settings.timeout_s,
                     help="seconds one scenario may take, TensorFlow import included (default: %(default)s)")
    run.add_argument("--output", type=Path, default=Path("reports"),
                     help="folder in which each run creates a new dated subfolder (default: %(default)s)")
    return run


def spec_from_args(args: argparse.Namespace, samples: int) -> DataSpec:
    return DataSpec(
        kind=args.data,
        samples=samples,
        height=args.image_size[0],
        width=args.image_size[1],
        channels=args.channels,
        source_size=args.source_size,
        image_format=args.image_format,
        classes=args.classes,
        seed=args.seed,
    )


def settings_from_args(args: argparse.Namespace) -> RunSettings:
    if args.dispatcher and not args.dispatcher.startswith("grpc://"):
        raise ProfilerError(
            f"--dispatcher '{args.dispatcher}' is not a tf.data service address: write it as grpc://HOST:PORT"
        )
    return RunSettings(
        batch_size=args.batch_size,
        workers=args.workers,
        epochs=args.epochs,
        idle_epochs=args.idle_epochs,
        step_ms=args.step_ms,
        timeout_s=args.timeout,
        consumer=args.consumer,
        scenario_options={"service_workers": args.service_workers, "dispatcher": args.dispatcher},
    )


def check_batch_size(batch_size: int, samples: int, what: str, remedy: str) -> None:
    if batch_size > samples:
        raise ProfilerError(
            f"--batch-size {batch_size} is larger than {what}: pass a batch size of at most {samples}, or {remedy}"
        )


def select_jobs(args: argparse.Namespace) -> tuple[list[Job], list[str]]:
    """The jobs to measure, and the scenarios of 'all'/'everything' left out as unable to read --data."""
    from scenarios import parse_selection, resolve

    references = parse_selection(args.scenario or "all") if args.scenario or not args.pipelines else []
    unreadable = [ref for ref in references if args.data not in resolve(ref).data_kinds]
    if unreadable and args.scenario not in (None, "all", "everything"):
        kinds = " or ".join(resolve(unreadable[0]).data_kinds)
        raise ProfilerError(
            f"scenario '{unreadable[0]}' cannot read --data {args.data}, only {kinds}: "
            f"leave it out of --scenario or pass --data {kinds.split(' or ')[0]}"
        )
    references = [ref for ref in references if ref not in unreadable]
    jobs = [Job(reference, None) for reference in references] + list(args.pipelines)
    names = [job.reference for job in jobs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ProfilerError(f"'{repeated[0]}' is listed twice: name each scenario and pipeline once")
    return jobs, unreadable


class RunCommand:
    name = "run"
    help = "measure scenarios on synthetic data, print a comparison and write results.json"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_data_arguments(parser)
        add_measurement_arguments(parser, pipelines=True)

    def run(self, args: argparse.Namespace, console: Console) -> int:
        spec = spec_from_args(args, args.samples)
        check_batch_size(args.batch_size, args.samples, f"--samples {args.samples}", "more samples")
        jobs, unreadable = select_jobs(args)
        names = [job.reference for job in jobs]
        settings = settings_from_args(args)
        run_dir = create_run_folder(args.output)
        cache_root = args.data_dir or default_cache_root()
        try:
            source = _prepare(spec, cache_root, console)
            expected = dataset_fingerprint(source, args.batch_size)
            ceiling = _ceiling(source, console)
        except BaseException:
            run_dir.rmdir()  # still empty: nothing was measured
            raise
        options = {
            **asdict(settings),
            "scenarios": names,
            "pipeline_arguments": {job.reference: job.arguments for job in jobs if job.arguments is not None},
            "data_dir": str(cache_root),
        }
        run = RunResult(
            metadata=collect_metadata(),
            options=options,
            data={**spec.to_dict(), "description": spec.describe(), "path": str(source.root)},
            expected_fingerprint=expected,
            created=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            ceiling=ceiling.to_dict() if ceiling else None,
        )
        results_path = run_dir / RESULTS_FILE
        for reference in unreadable:
            console.print(f"Leaving out {reference}: it cannot read --data {args.data}.", markup=False)
        console.print(
            f"Measuring {len(jobs)} pipeline(s) on {spec.describe()}, each in a fresh process; "
            f"results go to {results_path}",
            markup=False,
        )
        run = self._measure(run, jobs, source, settings, run_dir, console)
        TerminalReporter(console.file).render(run)
        console.print(f"Results: {results_path}", markup=False)
        _report(lambda: write_report(run, run_dir), results_path, console)
        return exit_code_for(run.scenarios, run.interrupted)

    def _measure(
        self,
        run: RunResult,
        jobs: list[Job],
        source: DataSource,
        settings: RunSettings,
        run_dir: Path,
        console: Console,
    ) -> RunResult:
        results: list[ScenarioResult] = []
        results_path = run_dir / RESULTS_FILE
        progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True
        )
        task_ids: dict[str, Any] = {}

        def on_phase(reference: str, phase: str) -> None:
            progress.update(task_ids[reference], description=f"{reference}: {phase}")

        interrupted = False
        with progress, Runner(source, settings, log_dir=run_dir / "logs", on_phase=on_phase) as runner:
            try:
                for job in jobs:
                    task_ids[job.reference] = progress.add_task(f"{job.reference}: starting worker", total=None)
                    result = runner.run(job.reference, job.arguments)
                    if job.arguments is None:  # a user's pipeline brings its own data: nothing to check
                        result = result.with_reference(run.expected_fingerprint)
                        result = result.with_ceiling((run.ceiling or {}).get("samples_per_s"))
                    progress.remove_task(task_ids[job.reference])
                    results.append(result)
                    progress.console.print(_one_line(result))
                    run = _with_results(run, results, interrupted=runner.interrupted)
                    save_run(run, results_path)  # after every scenario: nothing measured is lost
                    if runner.interrupted:
                        interrupted = True
                        break
            except KeyboardInterrupt:
                interrupted = True
        return _with_results(run, results, interrupted=interrupted, path=results_path)


def exit_code_for(results: Sequence[ScenarioResult], interrupted: bool) -> int:
    """130 after Ctrl-C, 1 when a scenario failed, crashed or timed out, else 0 (a skip is no failure)."""
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if all(r.status in (STATUS_OK, STATUS_SKIPPED) for r in results) else EXIT_FAILED


def _with_results(
    run: RunResult, results: list[ScenarioResult], interrupted: bool, path: Path | None = None
) -> RunResult:
    updated = with_results(run, results, interrupted)
    if path is not None:
        save_run(updated, path)
    return updated


def _one_line(result: ScenarioResult, where: str = "") -> Text:
    wall = f"{result.wall_s:.1f} s" if result.wall_s is not None else ""
    if result.ok:
        return Text.assemble(("done", "green"), f" {result.name}{where} in {wall}")
    if result.status == STATUS_SKIPPED:
        return Text.assemble((result.status, "yellow"), f" {result.name}{where}: {result.error}")
    return Text.assemble((result.status, "red"), f" {result.name}{where} after {wall}: {result.error}")


def create_run_folder(output: Path) -> Path:
    """A new folder under ``output`` named by date and time; never reuses an existing one."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        output.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, 100):
            candidate = output / (stamp if attempt == 1 else f"{stamp}-{attempt}")
            try:
                candidate.mkdir()
            except FileExistsError:
                continue
            probe = candidate / ".write-test"
            probe.write_text("ok")
            probe.unlink()
            return candidate
    except OSError as error:
        reason = error.strerror or str(error)
        raise ProfilerError(
            f"cannot write to output folder '{output}' ({reason}): pass --output with a writable folder"
        ) from None
    raise ProfilerError(f"output folder '{output}' has too many runs for {stamp}: pass another --output")


def _ceiling(source: DataSource, console: Console) -> Ceiling | None:
    """This machine's most samples/s for this data; a failure costs the percentages, not the run."""
    with console.status("Measuring what this machine can do at most for this data"):
        try:
            ceiling = measure_ceiling(source, usable_cpus())
        except RuntimeError as error:
            console.print(f"No ceiling: {error}", markup=False)
            return None
    console.print(f"Ceiling: {ceiling.describe()}", markup=False)
    return ceiling


def _prepare(spec: DataSpec, cache_root: Path, console: Console) -> DataSource:
    try:
        with Progress(
            TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True
        ) as progress:
            task = progress.add_task(f"Preparing {spec.describe()}", total=spec.samples)
            source, generated = prepare_data(
                spec, cache_root, on_progress=lambda done, total: progress.update(task, completed=done)
            )
    except OSError as error:
        raise ProfilerError(
            f"cannot write the dataset cache in '{cache_root}' ({error.strerror or error}): "
            "pass --data-dir with a writable folder"
        ) from None
    console.print(f"{'Generated' if generated else 'Reusing cached'} dataset: {source.root}", markup=False)
    return source


def _report(write: Callable[[], Path], results_path: Path, console: Console) -> None:
    """Write the markdown report; a failure here must not cost the results already saved."""
    started = time.perf_counter()
    try:
        path = write()
    except Exception as error:  # noqa: BLE001 - the results are safe; say what went wrong and go on
        console.print(f"The report could not be written ({type(error).__name__}: {error}); "
                      f"make it later with 'python -m profiler report {results_path}'", markup=False)
        return
    console.print(f"Report: {path} (made in {time.perf_counter() - started:.1f} s)", markup=False)


DEFAULT_SWEEP_SIZES = "1000,2000,4000,8000"
SWEEP_FILE = "sweep.json"


class SweepCommand:
    name = "sweep"
    help = ("measure scenarios at several dataset sizes, fit how memory and epoch time grow, and "
            "pick for the full size")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_data_arguments(
            parser,
            samples_help=f"comma list of dataset sizes to measure at (default: {DEFAULT_SWEEP_SIZES})",
            type=sample_sizes,
            default=sample_sizes(DEFAULT_SWEEP_SIZES),
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
        jobs, unreadable = select_jobs(args)
        names = [job.reference for job in jobs]
        settings = settings_from_args(args)
        if args.memory_budget is None:
            budget, basis = default_budget()
        else:
            budget, basis = args.memory_budget, "set with --memory-budget"
        cache_root = args.data_dir or default_cache_root()
        run_dir = create_run_folder(args.output)
        spec = spec_from_args(args, sizes[0])
        try:
            ceiling = _ceiling(_prepare(spec, cache_root, console), console)
        except BaseException:
            run_dir.rmdir()  # still empty: nothing was measured
            raise
        sweep = SweepResult(
            metadata=collect_metadata(),
            options={**asdict(settings), "scenarios": names, "sizes": list(sizes), "data_dir": str(cache_root)},
            data={key: value for key, value in spec.to_dict().items() if key != "samples"},
            created=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            ceiling=ceiling.to_dict() if ceiling else None,
            target_samples=args.target_samples,
            memory_budget_mb=budget,
            budget_basis=basis,
        )
        path = run_dir / SWEEP_FILE
        for reference in unreadable:
            console.print(f"Leaving out {reference}: it cannot read --data {args.data}.", markup=False)
        if len(sizes) < MIN_SIZES:
            console.print(f"Note: {len(sizes)} size(s) give no trend to trust; pass at least {MIN_SIZES} "
                          "--samples values to extrapolate.", markup=False)
        console.print(
            f"Measuring {len(names)} scenario(s) at {len(sizes)} sizes ({', '.join(f'{n:,}' for n in sizes)} "
            f"samples), each in a fresh process; results go to {path}",
            markup=False,
        )
        progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True
        )
        task = progress.add_task("starting", total=None)

        def on_phase(size: int, name: str, phase: str) -> None:
            progress.update(task, description=f"{name} at {size:,} samples: {phase}")

        def on_result(size: int, result: ScenarioResult) -> None:
            progress.console.print(_one_line(result, f" at {size:,} samples"))

        def prepare(sized: DataSpec) -> DataSource:
            progress.update(task, description=f"preparing {sized.describe()}")
            try:
                source, generated = prepare_data(sized, cache_root)
            except OSError as error:  # the sizes measured so far are already saved
                raise ProfilerError(
                    f"cannot write the dataset of {sized.samples:,} samples in '{cache_root}' "
                    f"({error.strerror or error}): free disk space or pass --data-dir with room; "
                    f"the sizes measured so far are in {path}"
                ) from None
            if generated:
                progress.console.print(f"Generated dataset: {source.root}", markup=False)
            return source

        with progress:
            sweep = measure_sweep(sweep, names, spec, settings, prepare, lambda s: save_sweep(s, path),
                                  log_dir=run_dir / "logs", on_phase=on_phase, on_result=on_result)
        SweepTerminalReporter(console.file).render(sweep)
        console.print(f"Results: {path}", markup=False)
        _report(lambda: write_sweep_report(sweep, run_dir), path, console)
        return exit_code_for([r for run in sweep.runs for r in run.scenarios], sweep.interrupted)


class ReportCommand:
    name = "report"
    help = "render the markdown report and plots from a saved results.json"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("results", type=Path,
                            help="a results.json written by 'run', or a sweep.json written by 'sweep'")
        parser.add_argument("-o", "--output", type=Path, default=None,
                            help="folder for report.md and its plots (default: the folder of RESULTS)")

    def run(self, args: argparse.Namespace, console: Console) -> int:
        folder = args.output or args.results.parent
        is_sweep = results_kind(read_results_json(args.results)) == KIND_SWEEP
        results = load_sweep(args.results) if is_sweep else load_run(args.results)
        try:
            if isinstance(results, SweepResult):
                path = write_sweep_report(results, folder)
            else:
                path = write_report(results, folder)
        except OSError as error:
            raise ProfilerError(
                f"cannot write the report in '{folder}' ({error.strerror or error}): pass -o with a writable folder"
            ) from None
        console.print(f"Report: {path}", markup=False)
        return EXIT_OK


class CompareCommand:
    name = "compare"
    help = "compare two results.json files; exit 1 when a check fails"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("base", type=Path, help="the results.json to compare against")
        parser.add_argument("new", type=Path, help="the results.json of the change")
        parser.add_argument("--fail-on", default=DEFAULT_FAIL_ON, metavar="CHECKS",
                            help="comma list of METRIC:N%% (relative) or METRIC:N (absolute) that may get worse "
                                 f"by at most that much; metrics: {', '.join(METRICS)} (default: %(default)s)")
        parser.add_argument("--markdown", type=Path, default=None, metavar="FILE",
                            help="also write the comparison as markdown, for a pull-request comment")

    def run(self, args: argparse.Namespace, console: Console) -> int:
        thresholds = parse_thresholds(args.fail_on)
        base, new = load_run(args.base), load_run(args.new)
        comparison = compare_runs(base, new, thresholds, base_label=str(args.base), new_label=str(args.new))
        if args.markdown is not None:
            try:
                with args.markdown.open("w") as stream:
                    ComparisonMarkdownReporter(stream).render(comparison)
            except OSError as error:
                raise ProfilerError(
                    f"cannot write '{args.markdown}' ({error.strerror or error}): pass --markdown with a writable path"
                ) from None
        ComparisonTerminalReporter(console.file).render(comparison)
        return EXIT_FAILED if comparison.failed else EXIT_OK


COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (RunCommand(), SweepCommand(), ListCommand(), ReportCommand(), CompareCommand())
}


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="python -m profiler",
        description="Measure TensorFlow input-pipeline strategies on this machine and recommend one.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for command in COMMANDS.values():
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = FILE_WIDTH  # a log or a pipe: do not wrap at 80 columns
    error_console = Console(stderr=True, highlight=False)
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise ProfilerError(
                f"no command given: use one of {', '.join(COMMANDS)}, such as 'python -m profiler run'"
            )
        return COMMANDS[args.command].run(args, console)
    except ProfilerError as error:
        error_console.print(f"error: {error.message}", markup=False, soft_wrap=True)
        return error.exit_code
    except KeyboardInterrupt:
        error_console.print("interrupted", markup=False)
        return EXIT_INTERRUPTED
