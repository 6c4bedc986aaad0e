"""Where one sample's time goes (profiler.ceiling.stage_times) and which decoder set the ceiling, in
words, a table and a plot; shared by the run's report and the tuning report."""

from __future__ import annotations

from pathlib import Path

from profiler.ceiling.stage_times import CONSUMER, FEED, StageBreakdown
from profiler.reporters.markdown import markdown_table
from profiler.reporters.plotkit import name_rows, plain_log_ticks, pyplot, rows_figure, save

STAGES_PLOT = "stages.png"
_WORDS = {
    "read": "reading the stored bytes",
    "decode": "decoding",
    "resize+normalize": "resizing and normalizing",
    "batch": "stacking samples into batches",
    FEED: "handing batches made in Python to tf.data",
    CONSUMER: "the consumer taking ready batches",
}


def bounding_sentence(stages: StageBreakdown) -> str:
    """The stage that bounds the work, in one sentence."""
    bound = stages.bounding
    # Not a second ceiling: the ceiling is the fastest decoder's work alone; these stages are the
    # strategies' own, read and batch included.
    work = (
        f"these stages together ({', '.join(s.name for s in stages.stages if s.parallel)}: "
        f"the {stages.decoder} work of the Python strategies, where the ceiling times the fastest "
        f"decoder's work alone) allow {stages.work_samples_per_s:,.0f} samples/s on "
        f"{stages.cores} core(s)"
    )
    if not bound.parallel:
        return (
            f"{_capital(_WORDS.get(bound.name, bound.name))} bounds this data: in one thread it "
            f"allows {stages.samples_per_s(bound):,.0f} samples/s, while {work}."
        )
    sentence = (
        f"{_capital(_WORDS.get(bound.name, bound.name))} bounds this data: "
        f"{stages.share(bound):.0%} of one sample's cost ({bound.alone_s * 1e6:,.1f} µs on one "
        f"core); {work}."
    )
    feed = next((stage for stage in stages.stages if stage.name == FEED), None)
    if feed is not None:
        sentence += (
            f" A pipeline that makes batches in Python also pays {feed.alone_s * 1e6:,.1f} µs a "
            f"sample to hand them to tf.data, {feed.alone_s / stages.work_s:.0%} of that work "
            "again."
        )
    return sentence


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def stage_rows(stages: StageBreakdown) -> list[list[str]]:
    return [
        [
            stage.name,
            f"{stage.alone_s * 1e6:,.1f}",
            f"{stage.cumulative_s * 1e6:,.1f}",
            f"{stages.samples_per_s(stage):,.0f}",
            f"{stages.share(stage):.0%}",
        ]
        for stage in stages.stages
    ]


STAGE_HEADERS = ["Stage", "µs/sample alone", "µs/sample cumulative", "Samples/s it allows", "Share"]


def stages_markdown(stages: StageBreakdown) -> str:
    """The section of a report: the sentence, the table and what the columns mean."""
    return (
        f"{bounding_sentence(stages)}\n\n"
        + markdown_table(STAGE_HEADERS, stage_rows(stages), [False, True, True, True, True])
        + "\nEach stage timed in a tight loop on one core in a fresh process, alone (on the "
        "output of the stage before, made beforehand) and cumulatively (the chain up to it); the "
        f"strategies' {stages.decoder} work, batches of {stages.batch_size}. Samples/s it allows: "
        f"the stage alone on {stages.cores} core(s), or in one thread for the feed and the "
        "consumer. Share: of the stages' summed cost.\n\n"
    )


def write_stages_plot(stages: StageBreakdown, folder: Path) -> str:
    """One sideways bar per stage: the samples/s it allows, its share written beside it."""
    plt = pyplot()
    names = [stage.name for stage in stages.stages]
    figure, axes = rows_figure(len(names))
    try:
        rates = [stages.samples_per_s(stage) for stage in stages.stages]
        bound = stages.bounding.name
        bars = axes.barh(
            range(len(names)), rates, color=["tab:red" if n == bound else "tab:blue" for n in names]
        )
        for bar, stage in zip(bars, stages.stages, strict=True):
            axes.text(
                bar.get_width(),
                bar.get_y() + bar.get_height() / 2,
                f" {stages.share(stage):.0%}",
                va="center",
                fontsize=8,
            )
        axes.set_xscale("log")
        plain_log_ticks(axes.xaxis, rates)
        name_rows(axes, names)
        axes.set_xlabel("samples/s the stage alone allows (log scale); red: the bound")
        axes.set_title("Where one sample's time goes")
        save(figure, folder / STAGES_PLOT)
    finally:
        plt.close(figure)
    return STAGES_PLOT
