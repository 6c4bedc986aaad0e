"""A tuning shown live, as a table per strategy in the terminal, and as ``report.md`` with the
stages."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from rich.text import Text

from profiler.analysis.tune_result import TunedStrategy, TuneResult, usable
from profiler.ceiling.limit import Ceiling
from profiler.reporters.common import (
    OTHER_LOAD_SHOWN_CORES,
    Column,
    TerminalReporter,
    ceiling_text,
    fitted_tables,
    took_text,
)
from profiler.reporters.markdown import (
    machine_section,
    markdown_answer,
    markdown_plots,
    markdown_table,
    settings_rows,
    write_report_files,
)
from profiler.reporters.safe import escaped, markdown_text, terminal_text
from profiler.reporters.stages import bounding_sentence, stages_markdown, write_stages_plot
from profiler.results.records import RunResult, ScenarioResult

COLUMNS = (
    Column("Knob"),
    Column("Value"),
    Column("Samples/s\n±95%", right=True),
    Column("Of\nceiling", right=True),
    Column("Data"),
    Column("Kept"),
)


def tune_intro(run: RunResult) -> str:
    """What a tuning's progress says first."""
    data = run.data.description if run.data else "the data"
    return f"Tuning on {data}, every configuration in a fresh process"


def trial_rows(tuned: TunedStrategy) -> list[list[str]]:
    """One row per configuration, in the order measured; the best so far, measured again in a round,
    "in use"."""
    rows = []
    for trial in tuned.trials:
        result = trial.result
        kept = (
            not trial.again
            and bool(trial.knob)
            and tuned.best.settings.get(trial.knob) == trial.value
            and tuned.default.settings.get(trial.knob) != trial.value
        )
        rate = (
            f"{result.samples_per_s:,.0f} ±{result.rate_half_width or 0:.0%}"
            if usable(result)
            else (result.error or result.status)[:60]
        )
        fraction = f"{result.ceiling_fraction:.0%}" if result.ceiling_fraction is not None else "-"
        value = "" if not trial.knob else f"{trial.value}" + (" (in use)" if trial.again else "")
        rows.append(
            [
                trial.knob or "(defaults)",
                value,
                rate,
                fraction,
                result.data_status or "-",
                "kept" if kept else "",
            ]
        )
    return rows


def snippet_lines(tuned: TunedStrategy) -> list[str]:
    """The lines that set the tuned values, each with the default it replaces; none unless they
    gained."""
    if not tuned.gained:
        return []
    knobs = {knob.name: knob for knob in tuned.knobs}
    lines = []
    for name, value in tuned.changed.items():
        if name not in knobs or not knobs[name].code:
            what = f": {knobs[name].what}" if name in knobs and knobs[name].what else ""
            lines.append(f"# {name} = {value}{what}")
            continue
        code, _, where = knobs[name].code.format(value=value).partition("  # ")
        lines.append(f"{code}  # {where + '; ' if where else ''}default: {knobs[name].default}")
    if any(line.startswith("options.") for line in lines):
        lines = ["options = tf.data.Options()", *lines, "dataset = dataset.with_options(options)"]
    return lines


def verdict(tuned: TunedStrategy) -> str:
    """The tuned result in one paragraph: the settings, the rates before and after, the gain, what
    to do."""
    best, default = tuned.best, tuned.default
    settings = ", ".join(f"{name}={value}" for name, value in tuned.changed.items())
    if not tuned.complete:
        if not tuned.changed:
            return (
                f"{tuned.name}: stopped before the search finished; no setting had beaten the "
                f"defaults ({_rate(default.samples_per_s, default.ceiling_fraction)}) so far."
            )
        return (
            f"{tuned.name}: stopped before the search finished; the best so far, {settings}, "
            f"measured {_rate(best.samples_per_s, best.ceiling_fraction)} in its round, not yet "
            f"compared with the defaults ({_rate(default.samples_per_s, default.ceiling_fraction)} "
            "at the start)."
        )
    if not tuned.changed:
        return (
            f"{tuned.name}: no setting beat the defaults beyond noise; keep them. At the defaults "
            f"it delivered {_rate(default.samples_per_s, default.ceiling_fraction)}."
        )
    gain = ""
    if tuned.gain is not None:
        interval = (
            f" (95% interval {tuned.gain_ci[0]:.2f}x-{tuned.gain_ci[1]:.2f}x)"
            if tuned.gain_ci
            else ""
        )
        gain = f": {tuned.gain:.2f}x{interval}, the two measured alternately"
    measured = (
        f"{_rate(best.samples_per_s, best.ceiling_fraction)} against "
        f"{_rate(default.samples_per_s, default.ceiling_fraction)} at the defaults{gain}"
    )
    if not tuned.gained:
        return (
            f"{tuned.name}: keep the defaults. The best of the search, {settings}, measured "
            f"{measured}: no gain beyond noise."
        )
    return f"{tuned.name} with {settings}: {measured}."


def _rate(samples_per_s: float | None, fraction: float | None) -> str:
    if samples_per_s is None:
        return "no rate"
    return f"{samples_per_s:,.0f} samples/s" + (
        f" ({fraction:.0%} of ceiling)" if fraction is not None else ""
    )


def gap_text(result: ScenarioResult, ceiling: Ceiling | None) -> str:
    """Why a rate stays below the ceiling, from the CPU it used: more work per sample, or idle
    cores."""
    if (
        ceiling is None
        or not result.ok
        or not result.cpu_s
        or not result.samples_per_epoch
        or not result.samples_per_s
    ):
        return ""
    per_sample_s = result.cpu_s / result.samples_per_epoch
    # Cores other processes kept busy were not the pipeline's to use: they are not idle ones.
    others = result.other_busy_cores or 0.0
    loaded = others >= OTHER_LOAD_SHOWN_CORES
    free = max(ceiling.cores - others, 0.1) if loaded else ceiling.cores
    most = free / per_sample_s  # every core it had busy at this CPU cost per sample
    reached = result.samples_per_s / most
    cores = f"{ceiling.cores} core(s)" + (
        f", {others:.1f} of them kept busy by other processes," if loaded else ""
    )
    left = "the cores left to it" if loaded else "the cores"
    rest = f"it kept {left} busy" if reached >= 0.9 else f"the rest of the time {left} stood idle"
    return (
        f"It used {per_sample_s * 1e6:,.0f} µs of CPU per sample (its whole process tree, flat "
        f"out) against the ceiling's {ceiling.work_per_sample_s * 1e6:,.0f} µs: on {cores} "
        f"that allows at most {most:,.0f} samples/s ({most / ceiling.samples_per_s:.0%} of the "
        f"ceiling), of which it reached {reached:.0%}; {rest}."
    )


def autotune_text(tuned: TunedStrategy) -> str:
    if not tuned.autotune:
        return (
            "tf.data's autotuning exposed no values for this strategy (autotune off, or not a "
            "tf.data map)"
        )
    values = ", ".join(
        f"{value.node} {value.parameter} {value.value:g}" for value in tuned.autotune
    )
    return f"At the defaults, tf.data's autotuning had chosen: {values}"


def _wall(result: TuneResult) -> str:
    return took_text("Tuning", result.wall_s)


class TuneTerminalReporter(TerminalReporter):
    def render(self, result: TuneResult) -> None:
        result = escaped(result, terminal_text)
        say = self.console.print
        if result.ceiling is not None:
            say(Text(f"Ceiling: {ceiling_text(result.ceiling)}."))
            if result.ceiling.stages is not None:
                say(Text(bounding_sentence(result.ceiling.stages)))
        for tuned in result.tuned:
            for table in fitted_tables(
                self.console, f"{tuned.name}: one knob at a time", None, COLUMNS, trial_rows(tuned)
            ):
                say(table)
            say(Text(autotune_text(tuned) + ".", style="dim"))
            say(Text(verdict(tuned), style="bold"))
            if tuned.best_result is not None and gap_text(tuned.best_result, result.ceiling):
                say(Text(gap_text(tuned.best_result, result.ceiling)))
            lines = snippet_lines(tuned)
            if lines:
                say(
                    Text(
                        "Code: the lines to change in the strategy's make_dataset() (the report "
                        "has it whole):",
                        style="bold",
                    )
                )
                say(Text("\n".join(lines), style="cyan"), soft_wrap=True)
        if not result.tuned:
            say(
                Text(
                    "Stopped before any strategy was tuned."
                    if result.interrupted
                    else (
                        "Nothing was tuned: no strategy with settings was measured at its defaults."
                    ),
                    style="bold red",
                )
            )
        if result.interrupted:
            say(
                Text(
                    "Stopped early: what was measured is above and in the results.", style="yellow"
                )
            )
        say(Text(_wall(result)))


class TuneMarkdownReporter:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def render(self, result: TuneResult, plots: Mapping[str, str] | None = None) -> None:
        raw = result
        result = escaped(result, markdown_text)
        write = self.stream.write
        data = result.data.description if result.data is not None else "the data"
        write("# Tuning report\n\n")
        write(
            "**The question:** which settings make the fastest strategies turn most of this "
            f"machine into batches of {result.settings.batch_size}, for {data}?\n\n"
        )
        write(_answer(result))
        if result.ceiling is not None:
            write(f"Ceiling: {ceiling_text(result.ceiling)}.\n\n")
            if result.ceiling.stages is not None:
                write(
                    "## Where one sample's time goes\n\n" + stages_markdown(result.ceiling.stages)
                )
        if result.candidates:
            rows = [
                [name, f"{rate:,.0f}"]
                for name, rate in sorted(result.candidates.items(), key=lambda i: -i[1])
            ]
            write(
                "## At their defaults\n\n"
                + markdown_table(["Strategy", "Samples/s"], rows, [False, True])
                + "\n"
            )
        for tuned, original in zip(result.tuned, raw.tuned, strict=True):
            gap = (
                gap_text(tuned.best_result, result.ceiling) if tuned.best_result is not None else ""
            )
            write(f"## {tuned.name}\n\n{verdict(tuned)} {gap}\n\n{autotune_text(tuned)}.\n\n")
            write(
                markdown_table(
                    [name.replace("\n", " ") for name, _ in COLUMNS],
                    trial_rows(tuned),
                    [right for _, right in COLUMNS],
                )
            )
            lines = snippet_lines(original)
            if lines:
                write(
                    "\nThe settings, in the strategy's code "
                    f"below:\n\n{fenced(chr(10).join(lines))}"
                )
            if original.snippet:
                write(f"\nThe strategy at its defaults:\n\n{fenced(original.snippet.rstrip())}")
            write("\n")
        stopped = " It was stopped before it finished." if result.interrupted else ""
        write(f"## How the search went\n\n{sentence(result.search)}.{stopped} {_wall(result)}\n\n")
        write(markdown_plots(plots))
        write("## The tuning\n\n")
        write(
            markdown_table(
                ["Setting", "Value"],
                [["data", data], *settings_rows(result.settings, result.targets)],
                [False, False],
            )
        )
        write("\n" + machine_section(result.metadata, f"the tuning of {result.created}"))


def fenced(code: str) -> str:
    """``code`` in a fence longer than any run of backticks in it: code goes in as it is,
    unescaped."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", code)), default=0))
    return f"{fence}python\n{code}\n{fence}\n"


def _answer(result: TuneResult) -> str:
    """The pick: the first strategy whose tuned settings gained, or why there is none."""
    if result.interrupted:
        return markdown_answer(
            None,
            "the tuning was stopped before it finished (Ctrl-C or a signal): below is what was "
            "measured; run it again for an answer.",
        )
    gained = next((tuned for tuned in result.tuned if tuned.gained), None)
    if gained is not None:
        return markdown_answer(gained.name, f": {verdict(gained)}")
    if result.tuned:
        return markdown_answer(
            None, "keep the defaults: " + " ".join(verdict(tuned) for tuned in result.tuned)
        )
    return markdown_answer(
        None, "nothing was tuned: no strategy with settings was measured at its defaults."
    )


def sentence(text: str) -> str:
    """``text`` with its first letter made a capital, the rest left as it is."""
    return text[:1].upper() + text[1:]


def write_tune_report(result: TuneResult, folder: Path) -> Path:
    def plots(target: Path) -> dict[str, str]:
        if result.ceiling is None or result.ceiling.stages is None:
            return {}
        return {"Where one sample's time goes": write_stages_plot(result.ceiling.stages, target)}

    return write_report_files(
        folder, plots, lambda stream, drawn: TuneMarkdownReporter(stream).render(result, drawn)
    )
