"""Regression checks as ``compare --fail-on`` writes them (``samples_per_s:10%``), parsed into
small objects, every limit bounded so that no check can be one that never fails."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from profiler.analysis.evidence import METRICS
from profiler.base.errors import ProfilerError
from profiler.base.units import plain

# Limits past these (100 times worse; a number no unit here reaches) are refused: a gate that can
# never fail is no gate.
MAX_RELATIVE_LIMIT = 100.0
MAX_ABSOLUTE_LIMIT = 1e12


def _shown_limit(limit: float, percent: bool) -> str:
    return f"{limit:.0%}" if percent else f"{limit:g}"


# Names from results format 1, still accepted in --fail-on.
_ALIASES = {"peak_rss_mb": "peak_rss_mib", "peak_pss_mb": "peak_pss_mib"}
DEFAULT_FAIL_ON = "samples_per_s:10%,peak_rss_mib:15%,idle_fraction:0.05"
_THRESHOLD = re.compile(r"^\s*([a-z0-9_]+)\s*:\s*([0-9]+\.?[0-9]*|\.[0-9]+)\s*(%?)\s*$")


@dataclass(frozen=True)
class Threshold:
    """How much worse a metric may get: relative (``10%``) or absolute in its own unit
    (``0.05``)."""

    metric: str
    limit: float
    relative: bool

    @classmethod
    def parse(cls, text: str) -> Threshold:
        match = _THRESHOLD.match(text)
        if not match:
            raise ProfilerError(
                f"cannot read the check '{text}': write METRIC:N% (relative) or METRIC:N "
                "(absolute), such as samples_per_s:10%"
            )
        name, value, percent = match.groups()
        name = _ALIASES.get(name, name)
        if name not in METRICS:
            raise ProfilerError(
                f"unknown metric '{name}' in --fail-on: choose from {', '.join(METRICS)}"
            )
        limit = float(value) / 100.0 if percent else float(value)
        most = MAX_RELATIVE_LIMIT if percent else MAX_ABSOLUTE_LIMIT
        if not math.isfinite(limit) or limit > most:
            shown = f"{most:.0%}" if percent else f"{most:,.0f}"
            raise ProfilerError(
                f"the limit of '{text.strip()[:60]}' is too large to ever be reached: pass at most "
                f"{shown}"
            )
        never = (percent and limit >= 1.0 and METRICS[name].higher_is_better) or (
            not percent and name == "idle_fraction" and limit >= 1.0
        )
        if never:
            raise ProfilerError(
                f"{name} cannot get worse by {_shown_limit(limit, percent)}, so "
                f"'{text.strip()[:60]}' could never fail: pass a smaller limit"
            )
        return cls(name, limit, bool(percent))

    def describe(self) -> str:
        """The limit as the change is shown: relative in %, an absolute idle limit in points."""
        if self.relative:
            return f"{self.limit:.0%}"
        return (
            f"{self.limit * 100:g} points" if self.metric == "idle_fraction" else plain(self.limit)
        )


def parse_thresholds(text: str) -> tuple[Threshold, ...]:
    thresholds = tuple(Threshold.parse(part) for part in text.split(",") if part.strip())
    if not thresholds:  # a gate with nothing to check would pass whatever happened
        raise ProfilerError(
            f"--fail-on '{text}' names no check: pass at least one METRIC:LIMIT, such as "
            "samples_per_s:10%"
        )
    names = [t.metric for t in thresholds]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ProfilerError(
            f"metric '{repeated[0]}' appears twice in --fail-on: give it one threshold"
        )
    return thresholds
