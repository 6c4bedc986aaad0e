"""Command line: ``python -m profiler run|list``.

Each subcommand is a small object; any ProfilerError ends the program with its one-line message
and exit code (2 for bad input), never a traceback.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
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
from profiler.data import DATA_KINDS, IMAGE_FORMATS, DataSource, DataSpec, default_cache_root, prepare_data
from profiler.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, ProfilerError
from profiler.fingerprint import dataset_fingerprint
from profiler.metadata import collect_metadata, usable_cpus
from profiler.pipeline import reference_of
from profiler.recommend import recommend
from profiler.reporting import FILE_WIDTH, TerminalReporter, write_report
from profiler.results import STATUS_OK, RunResult, ScenarioResult, load_run, save_run
from profiler.runner import Runner, RunSettings

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


class RunCommand:
    name = "run"
    help = "measure scenarios on synthetic data, print a comparison and write results.json"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        defaults = DataSpec()
        settings = RunSettings()
        data = parser.add_argument_group("data (synthetic, generated once and cached)")
        data.add_argument("--data", choices=DATA_KINDS, default=defaults.kind,
                          help="encoded image files, or memory-mapped float32 arrays (default: %(default)s)")
        data.add_argument("--samples", type=positive_int, default=defaults.samples,
                          help="number of samples (default: %(default)s)")
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
        run = parser.add_argument_group("measurement")
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
        run.add_argument("--workers", type=positive_int, default=usable_cpus(),
                         help="processes for pool-based scenarios (default: usable CPUs, %(default)s)")
        run.add_argument("--timeout", type=positive_float, default=settings.timeout_s,
                         help="seconds one scenario may take, TensorFlow import included (default: %(default)s)")
        run.add_argument("--output", type=Path, default=Path("reports"),
                         help="folder in which each run creates a new dated subfolder (default: %(default)s)")

    def run(self, args: argparse.Namespace, console: Console) -> int:
        spec = DataSpec(
            kind=args.data,
            samples=args.samples,
            height=args.image_size[0],
            width=args.image_size[1],
            channels=args.channels,
            source_size=args.source_size,
            image_format=args.image_format,
            classes=args.classes,
            seed=args.seed,
        )
        if args.batch_size > args.samples:
            raise ProfilerError(
                f"--batch-size {args.batch_size} is larger than --samples {args.samples}: "
                f"pass a batch size of at most {args.samples}, or more samples"
            )
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
        settings = RunSettings(
            batch_size=args.batch_size,
            workers=args.workers,
            epochs=args.epochs,
            idle_epochs=args.idle_epochs,
            step_ms=args.step_ms,
            timeout_s=args.timeout,
            scenario_options={"service_workers": args.service_workers, "dispatcher": args.dispatcher},
        )
        if args.dispatcher and not args.dispatcher.startswith("grpc://"):
            raise ProfilerError(
                f"--dispatcher '{args.dispatcher}' is not a tf.data service address: write it as grpc://HOST:PORT"
            )
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
        _report(run, run_dir, console)
        if run.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_OK if all(s.status == STATUS_OK for s in run.scenarios) else EXIT_FAILED

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


def _with_results(
    run: RunResult, results: list[ScenarioResult], interrupted: bool, path: Path | None = None
) -> RunResult:
    chosen = recommend(results, float(run.options.get("step_ms", 0.0)))
    updated = replace(
        run,
        scenarios=tuple(results),
        interrupted=interrupted,
        recommendation=chosen.to_dict() if chosen else None,
    )
    if path is not None:
        save_run(updated, path)
    return updated


def _one_line(result: ScenarioResult) -> Text:
    wall = f"{result.wall_s:.1f} s" if result.wall_s is not None else ""
    if result.ok:
        return Text.assemble(("done", "green"), f" {result.name} in {wall}")
    return Text.assemble((result.status, "red"), f" {result.name} after {wall}: {result.error}")


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


def _report(run: RunResult, folder: Path, console: Console) -> None:
    """Write the markdown report; a failure here must not cost the results already saved."""
    started = time.perf_counter()
    try:
        path = write_report(run, folder)
    except Exception as error:  # noqa: BLE001 - the results are safe; say what went wrong and go on
        console.print(f"The report could not be written ({type(error).__name__}: {error}); "
                      f"make it later with 'python -m profiler report {folder / RESULTS_FILE}'", markup=False)
        return
    console.print(f"Report: {path} (made in {time.perf_counter() - started:.1f} s)", markup=False)


class ReportCommand:
    name = "report"
    help = "render the markdown report and plots from a saved results.json"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("results", type=Path, help="a results.json written by 'run'")
        parser.add_argument("-o", "--output", type=Path, default=None,
                            help="folder for report.md and its plots (default: the folder of RESULTS)")

    def run(self, args: argparse.Namespace, console: Console) -> int:
        run = load_run(args.results)
        folder = args.output or args.results.parent
        try:
            path = write_report(run, folder)
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
    command.name: command for command in (RunCommand(), ListCommand(), ReportCommand(), CompareCommand())
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
