"""Units shared by every layer. Memory is counted in MiB (2**20 bytes) throughout: names end in
``_mib``."""

from __future__ import annotations

MIB = float(1 << 20)


def plain(value: float) -> str:
    """A setting as typed, never in exponent form: 20.0 -> "20", 0.001 -> "0.001", 1e6 ->
    "1000000"."""
    from decimal import Decimal

    return format(Decimal(repr(float(value))).normalize(), "f")


def significant(value: float, digits: int = 3) -> str:
    """``digits`` significant figures, never in exponent form: 7.134 -> "7.13", 1234.5 -> "1,235",
    0.05381 -> "0.0538". Figures of ``digits`` or more whole digits are shown whole, with commas."""
    import math

    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if abs(value) < 10 ** (digits - 1):
        value = float(f"{value:.{digits}g}")  # rounded first: 99.96 is "100", not "100.0"
    if abs(value) >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    decimals = digits - 1 - math.floor(math.log10(abs(value)))
    return f"{value:,.{decimals}f}"
