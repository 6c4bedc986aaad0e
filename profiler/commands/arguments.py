"""Argument types, the option groups that run and sweep share, and arguments -> typed plans."""

from __future__ import annotations

import argparse
import ast
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from profiler.commands.checks import check_batch_memory, check_dispatcher
from profiler.data import DATA_KINDS, IMAGE_FORMATS, DataSpec, default_cache_root
from profiler.errors import ProfilerError
from profiler.measure_run import RunPlan
from profiler.metadata import usable_cpus
from profiler.pipeline import reference_of
from profiler.registry import ALL, EVERYTHING, parse_selection, resolve
from profiler.settings import CONSUMERS, MeasureSettings, ServiceSettings, Target


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number: pass a positive integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"got {value}: pass a positive integer (1 or more)")
    return value


def bounded_int(low: int, high: int, why: str) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high``; ``why`` says where the upper bound comes from."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"'{text}' is not a whole number: pass one from {low} to {high:,}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"got {value:,}: pass a whole number from {low} to {high:,} ({why})")
        return value

    return parse


def path_argument(text: str) -> Path:
    """A path that names something: an empty one would silently mean the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the path is empty: pass a folder or file name, or leave the option out")
    if "\0" in text:
        raise argparse.ArgumentTypeError("the path contains a NUL character: pass a plain path")
    return Path(text)


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number: pass a number such as 20") from None
    if not math.isfinite(value) or value < 0:  # inf and nan pass a comparison with 0
        raise argparse.ArgumentTypeError(f"got {text}: pass a finite number of 0 or more")
    return value


def positive_float(text: str) -> float:
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("got 0: pass a number greater than 0")
    return value


def percentage(text: str) -> float:
    """A percentage greater than 0 and at most 100."""
    value = positive_float(text)
    if value > 100:
        raise argparse.ArgumentTypeError(f"got {text}: pass a percentage greater than 0 and at most 100")
    return value


# The largest side of an image, delivered or stored: 8192 x 8192 x 3 float32 is 768 MiB a sample.
MAX_IMAGE_SIDE = 8192


def image_size(text: str) -> tuple[int, int]:
    """'64' for 64x64, or 'HxW'."""
    parts = text.lower().split("x")
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size: pass 64 or HEIGHTxWIDTH such as 64x48") from None
    if len(numbers) not in (1, 2) or min(numbers) <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size: pass 64 or HEIGHTxWIDTH with positive numbers")
    if max(numbers) > MAX_IMAGE_SIDE:
        raise argparse.ArgumentTypeError(f"'{text}' is too large: pass sides of at most {MAX_IMAGE_SIDE}")
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
    if unit not in _MEMORY_UNITS or not value > 0 or not math.isfinite(value * _MEMORY_UNITS[unit]):
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a memory size: write a positive number with a unit, such as 16GiB or 512MiB"
        )
    return value * _MEMORY_UNITS[unit]


def pipeline_argument(text: str) -> tuple[str, Any]:
    key, separator, value = text.partition("=")
    if not separator or not key.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"'{text}' is not KEY=VALUE: pass it as --pipeline-arg batch_size=64")
    try:
        parsed: Any = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        parsed = value
    return key.strip(), parsed


class PipelineAction(argparse.Action):
    """--pipeline MODULE:FUNCTION: a new target, whose arguments the --pipeline-arg after it fill."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        targets = list(getattr(namespace, self.dest) or [])
        targets.append(Target.pipeline(reference_of(str(values))))
        setattr(namespace, self.dest, targets)


class PipelineArgumentAction(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        targets = list(getattr(namespace, self.dest) or [])
        if not targets:
            raise ProfilerError("--pipeline-arg comes before any --pipeline: put it after the pipeline it is for")
        key, value = values
        last = targets[-1]
        targets[-1] = Target.pipeline(last.reference, {**last.arguments, key: value})
        setattr(namespace, self.dest, targets)


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
    data.add_argument("--source-size", type=bounded_int(1, MAX_IMAGE_SIDE, "pixels per side"),
                      default=defaults.source_size,
                      help="side of the stored image files before resizing (default: %(default)s)")
    data.add_argument("--channels", type=int, choices=(1, 3), default=defaults.channels,
                      help="colour channels (default: %(default)s)")
    data.add_argument("--format", dest="image_format", choices=IMAGE_FORMATS, default=defaults.image_format,
                      help="file format of --data images (default: %(default)s)")
    data.add_argument("--classes", type=bounded_int(1, 2**31 - 1, "labels are int32"), default=defaults.classes,
                      help="number of label values (default: %(default)s)")
    data.add_argument("--seed", type=bounded_int(0, 2**32 - 1, "numpy's seeds are unsigned"), default=defaults.seed,
                      help="seed of the synthetic data (default: 0)")
    data.add_argument("--data-dir", type=path_argument, default=None,
                      help=f"cache of generated datasets (default: {default_cache_root()})")


def max_workers() -> int:
    """More threads or processes than this only compete for the same cores (and each process imports)."""
    return max(32, 8 * usable_cpus())


def add_measurement_arguments(parser: argparse.ArgumentParser, pipelines: bool) -> argparse._ArgumentGroup:
    settings = MeasureSettings()
    run = parser.add_argument_group("measurement")
    selection = "'all' (all but the slow opt-in scenarios), 'everything', a name, or a comma list (see 'list')"
    if pipelines:
        run.add_argument("--scenario", default=None,
                         help=f"{selection}; default: all, or none when --pipeline is given")
        run.add_argument("--pipeline", action=PipelineAction, dest="pipelines", default=[], metavar="MODULE:FUNCTION",
                         help="also measure your own function that returns a tf.data.Dataset, or a pair "
                              "(generator function, output_signature); repeatable")
        run.add_argument("--pipeline-arg", action=PipelineArgumentAction, dest="pipelines", metavar="KEY=VALUE",
                         type=pipeline_argument,
                         help="keyword argument for the --pipeline before it; VALUE is read as a Python "
                              "literal where it is one, else as text; repeatable")
    else:
        run.add_argument("--scenario", default=ALL, help=f"{selection}; default: %(default)s")
        parser.set_defaults(pipelines=[])
    run.add_argument("--dispatcher", default=None, metavar="grpc://HOST:PORT",
                     help="data_service: use this existing tf.data service cluster instead of starting one")
    run.add_argument("--service-on-all-interfaces", action="store_true",
                     help="data_service: where this system allows no private network namespace, let the local "
                          "servers listen on every interface, unauthenticated, for as long as the scenario runs "
                          "(default: refuse to start them)")
    run.add_argument("--service-workers", type=bounded_int(1, max_workers(), "eight per usable CPU"),
                     default=settings.service.workers,
                     help="data_service: worker servers to start on this machine (default: %(default)s)")
    run.add_argument("--batch-size", type=positive_int, default=settings.batch_size,
                     help="samples per batch (default: %(default)s)")
    run.add_argument("--epochs", type=positive_int, default=settings.epochs,
                     help="flat-out epochs timed at least, after the warm-up epoch; windows go on until the "
                          "rate is precise (default: %(default)s)")
    run.add_argument("--idle-epochs", type=positive_int, default=settings.idle_epochs,
                     help="epochs consumed at least behind the training step, for idle time; steps go on "
                          "until idle is precise (default: %(default)s)")
    _add_precision_arguments(run, settings)
    run.add_argument("--workers", type=bounded_int(1, max_workers(), "eight per usable CPU"), default=usable_cpus(),
                     help="processes for pool-based scenarios (default: usable CPUs, %(default)s)")
    run.add_argument("--timeout", type=positive_float, default=settings.timeout_s,
                     help="seconds one worker process may take once told to build its pipeline (default: "
                          "%(default)s)")
    run.add_argument("--output", type=path_argument, default=Path("reports"),
                     help="folder in which each run creates a new dated subfolder (default: %(default)s)")
    return run


def _add_precision_arguments(run: argparse._ArgumentGroup, settings: MeasureSettings) -> None:
    run.add_argument("--precision", type=percentage, default=settings.precision * 100, metavar="PERCENT",
                     help="measure flat out until the 95%% interval of the median rate is within this many "
                          "percent of it (default: %(default)g)")
    run.add_argument("--idle-precision", type=percentage, default=settings.idle_precision * 100, metavar="POINTS",
                     help="consume paced steps until the 95%% interval of the idle percentage is within this "
                          "many points (default: %(default)g)")
    run.add_argument("--time-cap", type=positive_float, default=settings.time_cap_s, metavar="SECONDS",
                     help="stop the flat-out windows after this long, precise or not, once they cover --epochs "
                          "epochs and six windows (default: %(default)g)")
    run.add_argument("--idle-time-cap", type=positive_float, default=settings.idle_time_cap_s, metavar="SECONDS",
                     help="stop the paced steps after this long, precise or not, once they cover --idle-epochs "
                          "epochs (default: %(default)g)")
    run.add_argument("--processes", type=positive_int, default=settings.processes,
                     help="fresh worker processes per scenario, their measurements pooled (default: %(default)s)")
    run.add_argument("--step-ms", type=non_negative_float, default=settings.step_ms,
                     help="simulated training step per batch, in ms (default: %(default)s)")
    run.add_argument("--consumer", choices=CONSUMERS, default=settings.consumer,
                     help="what consumes the idle epochs: 'sleep' simulates a device step of --step-ms; "
                          "'keras' trains a small Keras model on each batch, on the device TensorFlow "
                          "places it on (default: %(default)s)")


def spec_from(args: argparse.Namespace, samples: int) -> DataSpec:
    return DataSpec(
        kind=args.data, samples=samples, height=args.image_size[0], width=args.image_size[1],
        channels=args.channels, source_size=args.source_size, image_format=args.image_format,
        classes=args.classes, seed=args.seed,
    )


def settings_from(args: argparse.Namespace) -> MeasureSettings:
    if args.dispatcher is not None:
        check_dispatcher(args.dispatcher)
    check_batch_memory(spec_from(args, 1), args.batch_size)
    return MeasureSettings(
        batch_size=args.batch_size, workers=args.workers, epochs=args.epochs, idle_epochs=args.idle_epochs,
        step_ms=args.step_ms, timeout_s=args.timeout, consumer=args.consumer,
        service=ServiceSettings(workers=args.service_workers, dispatcher=args.dispatcher,
                                on_all_interfaces=args.service_on_all_interfaces),
        precision=args.precision / 100.0, idle_precision=args.idle_precision / 100.0, time_cap_s=args.time_cap,
        idle_time_cap_s=args.idle_time_cap, processes=args.processes,
    )


def check_batch_size(batch_size: int, samples: int, what: str, remedy: str) -> None:
    if batch_size > samples:
        raise ProfilerError(
            f"--batch-size {batch_size} is larger than {what}: pass a batch size of at most {samples}, or {remedy}"
        )


def select_targets(args: argparse.Namespace) -> tuple[tuple[Target, ...], list[str]]:
    """The targets to measure, and the scenarios of 'all'/'everything' left out as unable to read --data."""
    if args.scenario is not None:
        references = parse_selection(args.scenario)
    else:
        references = [] if args.pipelines else parse_selection(ALL)
    unreadable = [ref for ref in references if args.data not in resolve(ref).data_kinds]
    if unreadable and args.scenario not in (None, ALL, EVERYTHING):
        kinds = " or ".join(resolve(unreadable[0]).data_kinds)
        raise ProfilerError(
            f"scenario '{unreadable[0]}' cannot read --data {args.data}, only {kinds}: "
            f"leave it out of --scenario or pass --data {kinds.split(' or ')[0]}"
        )
    targets = [Target.scenario(ref) for ref in references if ref not in unreadable] + list(args.pipelines)
    service_options = [option for option, given in (("--dispatcher", args.dispatcher is not None),
                                                     ("--service-on-all-interfaces", args.service_on_all_interfaces))
                       if given]
    if service_options and not any(target.name == "data_service" for target in targets):
        raise ProfilerError(f"{service_options[0]} is for the data_service scenario, which is not selected: "
                            "add data_service to --scenario, or leave the option out")
    names = [target.name for target in targets]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ProfilerError(f"'{repeated[0]}' is listed twice: name each scenario and pipeline once")
    return tuple(targets), unreadable


def run_plan(args: argparse.Namespace, samples: int) -> tuple[RunPlan, list[str]]:
    """The run's typed plan, and the scenarios left out as unable to read --data."""
    targets, unreadable = select_targets(args)
    plan = RunPlan(settings=settings_from(args), targets=targets, spec=spec_from(args, samples),
                   cache_root=args.data_dir or default_cache_root())
    return plan, unreadable
