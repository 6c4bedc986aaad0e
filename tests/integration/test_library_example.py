"""The library example in docs/development.md, run as a user would run it: as a script of its
own."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO_ROOT, subprocess_env

DOC = REPO_ROOT / "docs" / "development.md"


def _example() -> str:
    section = DOC.read_text().split("## Measuring from Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_example_is_short():
    lines = [line for line in _example().splitlines() if line.strip()]
    assert len(lines) <= 12, "the example shows the library in about ten lines"


def test_the_library_example_measures_two_strategies(tmp_path: Path):
    script = tmp_path / "example.py"
    script.write_text(_example())
    env = subprocess_env(TF_PIPELINE_PROFILER_CACHE=str(tmp_path / "cache"))
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    rates = [
        re.fullmatch(r"(\w+): ([\d,]+) samples/s, peak (\d+) MiB", line) for line in lines[:-1]
    ]
    assert [match.group(1) for match in rates if match] == ["preload", "generator"], done.stdout
    assert all(int(match.group(2).replace(",", "")) > 0 for match in rates if match)
    # At 0.5 s caps a loaded machine can leave both rates too wide to rank: then no pick, saying so.
    assert re.fullmatch(r"pick: (preload|generator) \(.+\)", lines[-1]) or lines[-1].startswith(
        "pick: None (every rate's 95% interval is wider than"
    ), lines[-1]
