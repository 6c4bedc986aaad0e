"""The toolbox every report shares: markdown tables, the answer, plots, the settings and machine
sections, and the writer that puts ``report.md`` and its plots in a run's folder."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from profiler.base.metadata import Metadata
from profiler.base.settings import MeasureSettings, Target
from profiler.base.units import plain
from profiler.system.whole_file import write_text_whole

REPORT_FILE = "report.md"


def markdown_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]
) -> str:
    def escape(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---:" if r else "---" for r in right) + "|",
    ]
    lines += ["| " + " | ".join(escape(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def markdown_answer(name: str | None, text: str) -> str:
    """The report's answer paragraph: the pick in bold with the rest of its sentence, or why there
    is none."""
    return (
        f"**The answer:** {text}\n\n"
        if name is None
        else f"**The answer: pick `{name}`**{text}\n\n"
    )


def markdown_plots(plots: Mapping[str, str] | None) -> str:
    """``plots`` maps a plot's caption to its path relative to the report."""
    if not plots:
        return ""
    return "## Plots\n\n" + "".join(
        f"### {caption}\n\n![{caption}]({path})\n\n" for caption, path in plots.items()
    )


def settings_rows(settings: MeasureSettings, targets: Sequence[Target]) -> list[list[str]]:
    """How every target was measured, as (setting, value) rows; the same in every report."""
    values = {
        "batch_size": settings.batch_size,
        "epochs": settings.epochs,
        "idle_epochs": settings.idle_epochs,
        "step_ms": settings.step_ms,
        "consumer": settings.consumer,
        "workers": settings.workers,
        "timeout_s": settings.timeout_s,
        "precision_percent": settings.precision * 100,
        "idle_precision_points": settings.idle_precision * 100,
        "time_cap_s": settings.time_cap_s,
        "idle_time_cap_s": settings.idle_time_cap_s,
        "processes": settings.processes,
        "cold": "yes" if settings.cold else "no",
        "shuffle_buffer": settings.shuffle_buffer,
    }
    rows = [
        [key, plain(value) if isinstance(value, float) else str(value)]
        for key, value in values.items()
    ]
    rows.append(["scenarios", ", ".join(target.name for target in targets)])
    return rows


def machine_section(metadata: Metadata, made_from: str) -> str:
    """The machine and library versions, and what made the report: the same in every report."""
    machine = metadata.machine
    rows = [
        ["CPU", f"{machine.cpu_model} ({machine.usable_cpus} usable of {machine.cpu_count})"],
        ["memory", f"{machine.memory_total_mib} MiB"],
        ["platform", machine.platform],
        ["Python", metadata.python],
    ]
    rows += [[name, str(version)] for name, version in metadata.packages.items()]
    return (
        "## The machine\n\n"
        + markdown_table(["Item", "Value"], rows, [False, False])
        + f"\nMade by tf-pipeline-profiler {metadata.profiler_version} from {made_from}.\n"
    )


def write_report_files(
    folder: Path,
    draw_plots: Callable[[Path], Mapping[str, str]],
    render: Callable[[IO[str], Mapping[str, str]], None],
) -> Path:
    """Draw the plots into ``folder``, then render ``report.md`` beside them; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    plots = draw_plots(folder)
    path = folder / REPORT_FILE
    text = io.StringIO()
    render(text, plots)
    write_text_whole(path, text.getvalue())
    return path


def write_report_or_say_why(write: Callable[[], Path], results_path: Path) -> str:
    """Write a report; return the line that says where, or why not. A failure here must not cost the
    results already saved. Called before anything is printed, so a terminal that went away (SIGHUP)
    cannot cost the report either."""
    started = time.perf_counter()
    try:
        path = write()
    except Exception as error:  # noqa: BLE001 - the results are safe; say what went wrong and go on
        return (
            f"The report could not be written ({type(error).__name__}: {error}); make it later "
            f"with 'python -m profiler report {results_path}'"
        )
    return f"Report: {path} (made in {time.perf_counter() - started:.1f} s)"
