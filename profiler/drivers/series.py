"""A series of measurements kept in one growing result: sweep's sizes, tune's rounds, scale's
counts.

Each step hands the series its new result; the series stamps the time so far where the result has
``wall_s``, saves it at once, so nothing measured is lost, and ends on Ctrl-C (or SIGTERM, SIGHUP)
with what was measured, marked ``interrupted``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

Result = TypeVar("Result")


class Series(Generic[Result]):
    def __init__(self, result: Result, save: Callable[[Result], None] | None = None) -> None:
        self.result = result
        self._save = save or (lambda result: None)
        self._started_s = time.monotonic()
        fields = dataclasses.fields(result)  # type: ignore[arg-type]
        self._timed = any(field.name == "wall_s" for field in fields)

    def keep(self, update: Result) -> None:
        """``update`` is the series' result from now on; saved at once."""
        if self._timed:
            wall_s = time.monotonic() - self._started_s
            update = dataclasses.replace(update, wall_s=wall_s)  # type: ignore[type-var]
        self.result = update
        self._save(update)

    def stopped(self) -> None:
        self.keep(dataclasses.replace(self.result, interrupted=True))  # type: ignore[type-var]


def measure_series(
    first: Result,
    steps: Callable[[Series[Result]], Any],
    save: Callable[[Result], None] | None = None,
    nothing_measured: Callable[[Result], bool] = lambda result: False,
) -> Result:
    """Run ``steps`` on a series that starts at ``first``; its result when they end or are stopped.

    A stop before anything was measured (by ``nothing_measured``) propagates: there is nothing to
    keep, and the caller's folder stays empty.
    """
    series = Series(first, save)
    try:
        steps(series)
    except KeyboardInterrupt:
        if nothing_measured(series.result):
            raise
        series.stopped()
    return series.result
