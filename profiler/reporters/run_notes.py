"""What a run's table needs beside it: failures, data left unranked, noise, the consumer and
options."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from profiler.base.settings import CONSUMER_KERAS
from profiler.base.stats import MIN_IDLE_TURNS
from profiler.base.units import plain
from profiler.reporters.advice import disk_note
from profiler.reporters.common import Note, ceiling_note, data_notes, load_note
from profiler.reporters.stages import bounding_sentence
from profiler.results.records import (
    DATA_CLOSE,
    DATA_DIFFERS,
    STATUS_INTERRUPTED,
    RunResult,
    ScenarioResult,
    cpu_us_per_sample_by_role,
)
from profiler.strategy.scenario import DISPATCHER, SERVICE_WORKERS, TRAINER

# As pyperf does: warn when the standard deviation passes 10% of the mean.
NOISY_SPREAD = 0.10


def notes(run: RunResult) -> list[Note]:
    """What the reader must know beside the table: failures, wrong data, noise, interruption."""
    found = [note for result in run.scenarios for note in _result_notes(result)]
    found += _not_compared_notes(run)
    machine = run.metadata.machine
    load = load_note(run.scenarios, machine.usable_cpus or machine.cpu_count or None)
    found += [load] if load is not None else []
    found += _precision_notes(run) + _unknown_idle_notes(run)
    found += turns_notes(run)
    consumer = consumer_line(run)
    if consumer:
        found.append(Note(consumer, "info"))
    if run.data is not None:  # pipelines alone read their own data, as they do
        found += data_notes(run.data, run.settings)
    found += ceiling_note(run.ceiling)
    found += _above_ceiling_notes(run)
    if run.ceiling is not None and run.ceiling.stages is not None:
        found.append(Note(bounding_sentence(run.ceiling.stages), "info"))
    found += _trace_notes(run)
    found += [
        Note(text, "info")
        for result in run.scenarios
        if (text := service_line(result, run.settings.batch_size))
    ]
    disk = disk_note(run)
    if disk is not None:
        found.append(disk)
    options_line = tf_data_options_line(run)
    if options_line:
        found.append(Note(options_line, "info"))
    if run.interrupted:
        found.append(Note(_interrupted_line(run), "warning"))
    return found


def missing_after_stop(runs: Sequence[RunResult]) -> list[str]:
    """What a stop left unmeasured in ``runs``, a clause each (a run's note and a sweep's)."""
    # Rows cut short count as missing too: a stop before any turn leaves every row "interrupted".
    cut = sum(1 for run in runs for r in run.scenarios if r.status == STATUS_INTERRUPTED)
    parts = [f"{cut} scenario(s) stopped before their figures were whole"] if cut else []
    if any(len(run.targets) > len(run.scenarios) for run in runs):
        parts.append("scenarios not listed did not run")
    return parts


def _interrupted_line(run: RunResult) -> str:
    parts = missing_after_stop([run])
    if not parts:
        return "Run interrupted after every scenario was measured: nothing is missing."
    return "Run interrupted: " + "; ".join(parts) + "."


def turns_notes(run: RunResult) -> list[Note]:
    """How the rates were taken: interleaved turns, in which groups, beside what reference."""
    groups: dict[int, list[str]] = {}
    for result in run.scenarios:
        if result.group is not None and result.turn_rounds:
            groups.setdefault(result.group, []).append(result.name)
    if not groups:
        return []
    text = (
        "Turns: the pipelines were measured in interleaved turns, round after round in a shuffled "
        "order, each frozen while the others took theirs: all saw the same moments of the machine"
    )
    if len(groups) > 1:
        text += "; they did not all fit in memory at once, and took turns in groups: " + "; ".join(
            f"{number}: {', '.join(names)}" for number, names in sorted(groups.items())
        )
    reference = run.reference
    if reference is not None:
        spread = ""
        if reference.rate_ci is not None:
            low, high = reference.rate_ci
            spread = f" (95%: {low:,.0f} to {high:,.0f})"
        text += (
            f". The machine's reference, a fixed decode loop on one core in the same rounds, ran "
            f"at {reference.rate:,.0f} {reference.unit}{spread} over {len(reference.rates)} "
            "turns; each rate over it is kept in the results, and compare gates on it"
        )
    return [Note(text + ".", "info")]


def _result_notes(result: ScenarioResult) -> list[Note]:
    if not result.ok:
        where = f" (log: {result.log_path})" if result.log_path else ""
        return [Note(f"{result.name}: {result.status}: {result.error}{where}", "error")]
    if result.data_status == DATA_CLOSE:
        return [
            Note(
                f"{result.name}: same samples, shapes and labels as the dataset; some pixels are "
                "one level (1/255) apart, because its decoder or resize rounds differently from "
                "OpenCV's at this size",
                "info",
            )
        ]
    if result.data_status == DATA_DIFFERS:
        return [
            Note(
                f"{result.name}: delivered different data from the dataset "
                f"({_fingerprint_text(result)}): its figures do not compare"
                + (f"; {result.error}" if result.error else ""),
                "error",
            )
        ]
    return []


def _not_compared_notes(run: RunResult) -> list[Note]:
    pick = run.recommendation
    if pick is None or not pick.not_compared:
        return []
    apart = [r for r in run.scenarios if r.name in pick.not_compared]
    what = "; ".join(f"{r.name} delivered {_fingerprint_text(r)}" for r in apart)
    fix = (
        "measure them on the same data (for the built-ins, --data or --image-size) to rank them "
        "together"
        if run.data is not None
        else "the rows ranked are those that delivered what most rows delivered (the "
        "first listed, where as many delivered each); make the pipelines deliver the same shape to "
        "rank them "
        "together"
    )
    return [
        Note(
            f"Not ranked: {what}, not the {pick.compared_on} of the rows ranked, so rates and "
            f"memory do not compare; {fix}.",
            "warning",
        )
    ]


def _trace_notes(run: RunResult) -> list[Note]:
    """Where the TensorBoard profiles are, and how to open them."""
    traced = [r for r in run.scenarios if r.trace_files]
    if not traced:
        return []
    # Each file lies in TARGET/plugins/profile/STAMP/: TensorBoard takes the folder above the
    # targets.
    folder = Path(traced[0].trace_files[0]).parents[4]
    return [
        Note(
            f"Traces: one paced epoch of {', '.join(r.name for r in traced)} under TensorFlow's "
            f"profiler; open them with: tensorboard --logdir {shlex.quote(str(folder))} (Profile, "
            "input-pipeline analyzer).",
            "info",
        )
    ]


def service_line(result: ScenarioResult, batch_size: int) -> str | None:
    """A tf.data service row's one-off start-up apart from its steady rate, per worker, and the CPU
    each role spends on a batch: the transfer's (the trainer's and the dispatcher's) does not shrink
    with workers."""
    if not result.service_workers or result.samples_per_s is None or result.build_s is None:
        return None
    workers = result.service_workers
    job_s = (result.first_batch_s or result.build_s) - result.build_s
    text = (
        f"{result.name}: {result.build_s:.1f} s to build (servers started, or a cluster's workers "
        f"counted) and {job_s:.2f} s more to the job's first batch, paid once; then "
        f"{result.samples_per_s:,.0f} samples/s from {workers} worker(s), "
        f"{result.samples_per_s / workers:,.0f} per worker"
    )
    per_batch = {
        role: us * batch_size / 1000 for role, us in cpu_us_per_sample_by_role(result).items()
    }
    if TRAINER in per_batch:
        trainer, dispatcher = per_batch[TRAINER], per_batch.get(DISPATCHER)
        parts = f"the trainer receiving {trainer:.2f} ms" + (
            f", the dispatcher {dispatcher:.2f} ms" if dispatcher is not None else ""
        )
        text += (
            f". CPU per batch of {batch_size}: the transfer {trainer + (dispatcher or 0.0):.2f} ms "
            f"({parts}), which more workers do not share"
        )
        if SERVICE_WORKERS in per_batch:
            text += f"; the workers' decoding and sending {per_batch[SERVICE_WORKERS]:.2f} ms"
    return text + ". How many workers a training step needs: python -m profiler scale."


def _above_ceiling_notes(run: RunResult) -> list[Note]:
    """What "of ceiling" above 100% means, for the rows where it appears."""
    above = [
        r
        for r in run.scenarios
        if r.ok and r.ceiling_fraction is not None and r.ceiling_fraction > 1.0
    ]
    if not above:
        return []
    keep = [r.name for r in above if r.memory_grows_with_data or r.disk_grows_with_data]
    other = [r.name for r in above if r.name not in keep]
    parts = []
    if keep:
        one = len(keep) == 1  # "cache_file keeps", "cache, cache_file keep"
        parts.append(
            f"{', '.join(keep)} {'keeps' if one else 'keep'} the decoded samples (in memory or on "
            f"disk) after the first epoch, so {'it skips' if one else 'they skip'} the reading "
            "and decoding the ceiling is made of"
        )
    if other:
        decoder = run.ceiling.decoder if run.ceiling is not None else "OpenCV"
        parts.append(
            f"{', '.join(other)} {'decodes' if len(other) == 1 else 'decode'} every epoch, faster "
            f"than the {decoder} decoder the ceiling was set by; results written before the "
            "ceiling timed every decoder read so, and a decoder the ceiling does not time would too"
        )
    return [Note("Of ceiling above 100%: " + "; ".join(parts) + ".", "info")]


def _precision_notes(run: RunResult) -> list[Note]:
    measured = [r for r in run.scenarios if r.ok]
    found = []
    noisy = [
        f"{r.name} sd {r.rate_spread:.0%}"
        for r in measured
        if r.rate_half_width is None and r.rate_spread is not None and r.rate_spread > NOISY_SPREAD
    ]
    if noisy:  # results of format 1 carry no interval
        found.append(
            Note(
                f"Noisy: batch rates varied from epoch to epoch by more than {NOISY_SPREAD:.0%} "
                f"for {', '.join(noisy)}. Treat those rates as approximate.",
                "warning",
            )
        )
    settings = run.settings
    capped = [
        f"{r.name} ±{r.rate_half_width:.0%}"
        for r in measured
        if r.rate_capped and r.rate_half_width
    ]
    if capped:
        found.append(
            Note(
                f"Time cap: the flat-out windows of {', '.join(capped)} stopped at --time-cap "
                f"{plain(settings.time_cap_s)} s before their rate's interval narrowed to "
                f"±{settings.precision:.0%}; more --time-cap, or a quieter machine, narrows it.",
                "warning",
            )
        )
    idle_capped = [
        f"{r.name} ±{r.idle_half_width * 100:.1f}"
        for r in measured
        if r.idle_capped and r.idle_half_width is not None
    ]
    if idle_capped:
        found.append(
            Note(
                f"Time cap: the paced steps of {', '.join(idle_capped)} stopped at --idle-time-cap "
                f"{plain(settings.idle_time_cap_s)} s before their idle interval narrowed to "
                f"±{plain(settings.idle_precision * 100)} points.",
                "info",
            )
        )
    floors = [r.fetch_floor_ms for r in measured if r.fetch_floor_ms is not None]
    if floors:
        raw = [r.idle_fraction_raw for r in measured if r.idle_fraction_raw is not None]
        found.append(
            Note(
                "Fetch floor: waiting for an always-ready batch behind the same step took "
                f"{_span(floors, '{:.2f}')} ms here, every pipeline pays it; idle is counted above "
                f"it (before: {_span(raw, '{:.1%}')}).",
                "info",
            )
        )
    return found


def _span(values: list[float], pattern: str) -> str:
    low, high = pattern.format(min(values)), pattern.format(max(values))
    return low if low == high else f"{low} to {high}"


def consumer_line(run: RunResult) -> str | None:
    """With a real training step, what each step cost and where it ran, and how busy the GPU was."""
    if run.settings.consumer != CONSUMER_KERAS:
        return None
    measured = [r for r in run.scenarios if r.ok and r.step_p50_ms is not None]
    if not measured:
        return None
    parts = []
    for result in measured:
        text = f"{result.name} {result.step_p50_ms:.1f} ms on {result.step_device or '?'}"
        if result.gpu_utilization_percent is not None:
            text += f", GPU busy {result.gpu_utilization_percent:.0f}%"
        parts.append(text)
    has_gpu = any(r.gpu_utilization_percent is not None for r in measured)
    gpu = "" if has_gpu else " No GPU utilization: no GPU or NVML here."
    return (
        "Consumer: a small Keras model trained on every batch of the idle epochs; median step: "
        + "; ".join(parts)
        + "."
        + gpu
    )


def options_text(options: Mapping[str, object]) -> str:
    return ", ".join(
        f"{key}={'on' if value else 'off'}" for key, value in options.items() if key != "explicit"
    )


def tf_data_options_line(run: RunResult) -> str | None:
    """Which tf.data options were in effect, since TensorFlow sets some on its own."""
    groups: dict[str, list[str]] = {}
    for result in run.scenarios:
        if result.ok and result.tf_data_options:
            groups.setdefault(options_text(result.tf_data_options), []).append(result.name)
    if not groups:
        return None
    return (
        "tf.data options in effect: "
        + "; ".join(f"{', '.join(n)}: {o}" for o, n in groups.items())
        + "."
    )


def _fingerprint_text(result: ScenarioResult) -> str:
    fp = result.fingerprint
    if fp is None:
        return "nothing"
    shape = "x".join(str(n) for n in fp.image_shape)
    return f"{fp.samples} samples of {shape} {fp.image_dtype}, labels {fp.label_dtype}"


def _unknown_idle_notes(run: RunResult) -> list[Note]:
    unknown = [r.name for r in run.scenarios if r.ok and r.idle_interval_unknown]
    if not unknown:
        return []
    text = (
        f"Idle interval unknown (±?) for {', '.join(unknown)}: fewer than {MIN_IDLE_TURNS} "
        "paced turns with steady steps; more --idle-time-cap gives them. compare reads no "
        "evidence from them."
    )
    return [Note(text, "warning")]
