"""What every plot shares: matplotlib loaded headless, one colour per scenario, sizes that grow with
the number of rows, plain tick labels and a reproducible PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from profiler.base.units import significant

DPI = 110
# Ten distinct hues first, then their lighter shades: fourteen scenarios never share a colour, and a
# line of the second ten is also dashed (see line_style).
_TAB20_ORDER = (0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19)


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # before pyplot: never try to open a display
    # Row names are the user's ("tag=$x$"): text is drawn as written, never parsed as math, which
    # would lose a whole report to one name it cannot parse.
    matplotlib.rcParams["text.parse_math"] = False
    from matplotlib import pyplot as loaded

    return loaded


def colours(names: Sequence[str]) -> dict[str, Any]:
    """One colour per name, by its place in the run's list, so every plot of a report agrees."""
    cmap = pyplot().get_cmap("tab20")
    return {
        name: cmap(_TAB20_ORDER[index % len(_TAB20_ORDER)])
        for index, name in enumerate(dict.fromkeys(names))
    }


def line_style(names: Sequence[str], name: str) -> str:
    """Solid for the first ten names, dashed for the ten that reuse their hues in a lighter
    shade."""
    index = list(dict.fromkeys(names)).index(name)
    return "-" if index % 20 < 10 else "--"


def rows_figure(rows: int) -> Any:
    """A figure for one horizontal bar per row: names on the left read at any count."""
    return pyplot().subplots(figsize=(8, 1.4 + 0.34 * max(rows, 3)), dpi=DPI)


# A longer name (a long --pipeline-arg value is part of its row's name) is drawn by its ends:
# matplotlib lays text out glyph by glyph, and one 9,000-character label cost 8 s a plot. The table
# and results.json keep the whole name.
LONGEST_LABEL = 48


def drawn_name(name: str) -> str:
    """``name`` as a plot draws it: whole up to LONGEST_LABEL characters, else its first 30 and
    last 15 characters around "..."."""
    return name if len(name) <= LONGEST_LABEL else f"{name[:30]}...{name[-15:]}"


def name_rows(axes: Any, names: Sequence[str]) -> None:
    """The names top to bottom in the table's order."""
    axes.set_yticks(range(len(names)), labels=[drawn_name(name) for name in names])
    axes.set_ylim(len(names) - 0.5, -0.5)


def plain_log_ticks(axis: Any, values: Sequence[float]) -> None:
    """Plain numbers ("0.4", "6", "20,000") on a log axis rather than "4 x 10^-1"; between the
    decades, 2 and 5 are labelled where the values span less than three decades (more would
    crowd)."""
    import math

    from matplotlib import ticker

    positive = [v for v in values if v > 0]
    decades = math.log10(max(positive) / min(positive)) if positive else 0.0
    axis.set_major_formatter(ticker.FuncFormatter(lambda value, _position: tick_text(value)))
    axis.set_minor_formatter(
        ticker.FuncFormatter(_minor_tick if decades < 3 else lambda value, _position: "")
    )


def symlog_if_outliers(axes: Any, which: str, peaks: Sequence[float], lowest: float) -> None:
    """A symmetric-log axis where one or two scenarios' peaks sit far above the middle one, which on
    a linear axis would flatten all the others onto zero: linear up to the middle peak, logarithmic
    beyond; the axis starts at zero or ``lowest``, below it."""
    ordered = sorted(peaks)
    if not ordered or ordered[-1] <= 5 * max(ordered[len(ordered) // 2], 1.0):
        return
    getattr(axes, f"set_{which}scale")("symlog", linthresh=max(ordered[len(ordered) // 2], 10.0))
    plain_ticks(getattr(axes, f"{which}axis"))
    getattr(axes, f"set_{which}lim")(min(0.0, lowest), None)


def plain_ticks(axis: Any) -> None:
    """Plain numbers on a linear or symmetric-log axis ("100", not "10^2")."""
    from matplotlib import ticker

    axis.set_major_formatter(ticker.FuncFormatter(lambda value, _position: tick_text(value)))


def tick_text(value: float) -> str:
    """A tick's number: at most three significant figures, no exponent, no trailing zeros."""
    text = significant(value)
    return text.rstrip("0").rstrip(".") if "." in text else text


def _minor_tick(value: float, _position: int) -> str:
    mantissa = f"{value:.1e}"[:3]
    return tick_text(value) if mantissa in ("2.0", "5.0") else ""


def save(figure: Any, path: Path) -> None:
    figure.tight_layout()
    # No "Software" stamp: the file does not change with the matplotlib version that drew it.
    figure.savefig(path, format="png", metadata={"Software": None})
