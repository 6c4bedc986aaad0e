"""Numbers are printed as people write them: never in exponent form, whatever their size."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from profiler.units import plain, significant

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize(("value", "text"), [
    (2000.0, "2,000"), (1180.4, "1,180"), (137633.0, "137,633"), (7.134, "7.13"), (99.96, "100"),
    (0.05381, "0.0538"), (0.0000123, "0.0000123"), (-3.2, "-3.20"), (0.0, "0"), (1e7, "10,000,000"),
])
def test_significant_figures_without_exponents(value, text):
    assert significant(value) == text


@pytest.mark.parametrize(("value", "text"), [(20.0, "20"), (0.001, "0.001"), (1e6, "1000000"), (2.5, "2.5")])
def test_settings_as_typed(value, text):
    assert plain(value) == text


def test_no_rendering_holds_an_exponent():
    files = sorted(DATA.glob("*golden*"))
    assert len(files) >= 6
    for path in files:
        found = re.findall(r"\d(?:\.\d+)?e[+-]\d+", path.read_text())
        assert not found, f"{path.name}: {found}"
