"""Arguments -> the typed RunPlan that every command that measures hands to its driver: the
settings, the targets chosen, the data, each refused in one line where it cannot work."""

from __future__ import annotations

import argparse

from profiler.base.errors import ProfilerError
from profiler.base.settings import MeasureSettings, ServiceSettings, Target
from profiler.commands.data_options import spec_from
from profiler.commands.preflight import check_batch_memory, check_dispatcher
from profiler.data.synthetic import default_cache_root
from profiler.drivers.run import RunPlan
from profiler.strategy.pipeline_source import check_pipeline
from profiler.strategy.registry import ALL, EVERYTHING, parse_selection, resolve


def checked_run_plan(args: argparse.Namespace) -> RunPlan:
    """The RunPlan of the arguments, its batch size checked against --samples first."""
    samples = spec_from(args, args.samples).samples
    if samples:  # 0: all of a user's data, however many that is
        check_batch_size(args.batch_size, samples, f"--samples {samples}", "more samples")
    return run_plan(args, args.samples)


def settings_from(args: argparse.Namespace) -> MeasureSettings:
    if args.dispatcher is not None:
        check_dispatcher(args.dispatcher)
    check_batch_memory(spec_from(args, 1), args.batch_size)
    return MeasureSettings(
        batch_size=args.batch_size,
        workers=args.workers,
        epochs=args.epochs,
        idle_epochs=args.idle_epochs,
        step_ms=args.step_ms,
        timeout_s=args.timeout,
        consumer=args.consumer,
        service=ServiceSettings(
            workers=args.service_workers,
            dispatcher=args.dispatcher,
            on_all_interfaces=args.service_on_all_interfaces,
        ),
        precision=args.precision / 100.0,
        idle_precision=args.idle_precision / 100.0,
        time_cap_s=args.time_cap,
        idle_time_cap_s=args.idle_time_cap,
        processes=args.processes,
        cold=args.cold,
        shuffle_buffer=args.shuffle_buffer,
    )


def check_batch_size(batch_size: int, samples: int, what: str, remedy: str) -> None:
    if batch_size > samples:
        raise ProfilerError(
            f"--batch-size {batch_size} is larger than {what}: pass a batch size of at most "
            f"{samples}, or {remedy}"
        )


def select_targets(args: argparse.Namespace) -> tuple[Target, ...]:
    """The targets to measure; of 'all' and 'everything', those that cannot read the data get a row
    saying so."""
    if args.scenario is not None:
        references = parse_selection(args.scenario)
    else:
        references = [] if args.pipelines else parse_selection(ALL)
    if args.scenario not in (None, ALL, EVERYTHING):
        spec = spec_from(args, 1)
        asked = MeasureSettings(cold=args.cold, shuffle_buffer=args.shuffle_buffer)
        for reference in references:
            problem = resolve(reference).cannot_serve(spec)
            if problem:
                raise ProfilerError(
                    f"scenario '{reference}' {problem}: leave it out of --scenario or pass other "
                    "--data"
                )
            problem = resolve(reference).cannot_measure(asked)
            if problem:
                raise ProfilerError(
                    f"scenario '{reference}' {problem}: leave it out of --scenario, or the option"
                )
    targets = [Target.scenario(ref) for ref in references] + list(args.pipelines)
    service_options = [
        option
        for option, given in (
            ("--dispatcher", args.dispatcher is not None),
            ("--service-on-all-interfaces", args.service_on_all_interfaces),
        )
        if given
    ]
    if service_options and not any(
        not t.is_pipeline and resolve(t.reference).scales for t in targets
    ):
        raise ProfilerError(
            f"{service_options[0]} is for the data_service scenario, which is not selected: add "
            "data_service to --scenario, or leave the option out"
        )
    named = named_apart(targets)
    for target in args.pipelines:
        check_pipeline(target.reference)  # before a folder is made or data prepared
    return named


def named_apart(targets: list[Target]) -> tuple[Target, ...]:
    """The targets, a function given with several argument sets named by its arguments; a scenario,
    or a function with the same arguments, listed twice is refused."""
    references = [target.reference for target in targets]
    keys = [(target.reference, repr(sorted(target.arguments.items()))) for target in targets]
    for target, key in zip(targets, keys, strict=True):
        if keys.count(key) > 1:
            same = " with the same --pipeline-arg values" if target.is_pipeline else ""
            fix = (
                "give each its own --pipeline-arg values"
                if target.is_pipeline
                else "name each scenario once"
            )
            raise ProfilerError(f"'{target.reference}' is listed twice{same}: {fix}")
    return tuple(
        target.labelled()
        if target.is_pipeline and references.count(target.reference) > 1
        else target
        for target in targets
    )


def run_plan(args: argparse.Namespace, samples: int | None) -> RunPlan:
    """The run's typed plan."""
    targets = select_targets(args)
    # A user's pipeline reads its own data: only built-in scenarios need the dataset (and its
    # ceiling).
    spec = spec_from(args, samples) if any(not target.is_pipeline for target in targets) else None
    plan = RunPlan(
        settings=settings_from(args),
        targets=targets,
        spec=spec,
        cache_root=args.data_dir or default_cache_root(),
        on_bad_file=args.on_bad_file,
    )
    return plan
