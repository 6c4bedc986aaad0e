"""Hostile input, generated from a seed: every bad value is one line, exit 2, no traceback, nothing lost.

Arguments: each numeric or path option gets values drawn from a pool of the usual suspects
(infinities, NaN, huge and negative numbers, empty and control-laden text). Files: a good
results file with one field changed to a value of the wrong type or range, or removed, fed to
``report`` and to ``compare`` both ways. Names: markup and escape sequences in scenario names and
errors must come out inert in the terminal, in report.md and in compare's markdown.
"""

from __future__ import annotations

import copy
import io
import json
import math
import random
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from profiler.commands import main

ROOT = Path(__file__).resolve().parents[2]
GOOD_RUN = ROOT / "reports" / "example" / "results.json"
SEED = 20261126

BAD_VALUES = ["inf", "-inf", "nan", "NaN", "1e400", "-1e400", "-1", "0", "-0", "1e10", "9" * 40, "", " ", "abc",
              "1.5.2", "0x10", "1_000", "\x1b[31m", "$(reboot)", "10%", "1e-400", "١٢"]
# option -> whether a value is acceptable (the oracle), with the bounds the help states
NUMERIC = {
    "--samples": lambda v: _int(v) is not None and _int(v) >= 1,
    "--batch-size": lambda v: _int(v) is not None and _int(v) >= 1,
    "--epochs": lambda v: _int(v) is not None and _int(v) >= 1,
    "--seed": lambda v: _int(v) is not None and 0 <= _int(v) < 2**32,
    "--classes": lambda v: _int(v) is not None and 1 <= _int(v) < 2**31,
    "--source-size": lambda v: _int(v) is not None and 1 <= _int(v) <= 8192,
    "--timeout": lambda v: _float(v) is not None and _float(v) > 0,
    "--step-ms": lambda v: _float(v) is not None and _float(v) >= 0,
    "--time-cap": lambda v: _float(v) is not None and _float(v) > 0,
    "--precision": lambda v: _float(v) is not None and 0 < _float(v) <= 100,
}


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _call(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _argument_cases() -> list[tuple[str, str]]:
    rng = random.Random(SEED)
    cases = [(option, value) for option in NUMERIC for value in BAD_VALUES]
    cases += [("--output", rng.choice(["", " ", "\x00x"])) for _ in range(5)]
    return cases


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TF_PIPELINE_PROFILER_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.parametrize(("option", "value"), _argument_cases())
def test_every_bad_argument_is_one_line_and_exit_2(isolated, option, value):
    # A second, certainly bad option after it: a value judged fine stops there, so nothing runs.
    code, out, err = _call(["run", f"{option}={value}", "--batch-size=0"])
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    acceptable = NUMERIC[option](value) if option in NUMERIC else False
    if not acceptable:
        assert option in lines[0], f"{option}={value!r} was accepted: {lines[0]}"
    assert list(isolated.iterdir()) == [], "a refused run left files behind"


def _paths(data, prefix=()):
    if isinstance(data, dict):
        for key, value in data.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data[:2]):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


WRONG = [None, "x", -1, -0.5, 1e308, [], {}, True, "", 0, [1, 2, 3], {"a": 1}]


def _mutations(count: int) -> list[tuple[tuple, str, object]]:
    rng = random.Random(SEED)
    paths = list(_paths(json.loads(GOOD_RUN.read_text())))
    return [(rng.choice(paths), "delete" if rng.random() < 0.3 else "set", rng.choice(WRONG)) for _ in range(count)]


def _mutated(path: tuple, how: str, value: object) -> dict:
    data = copy.deepcopy(json.loads(GOOD_RUN.read_text()))
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    if how == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return data


@pytest.mark.parametrize(("number", "mutation"), list(enumerate(_mutations(80))))
def test_a_damaged_results_file_is_refused_in_one_line_or_read(tmp_path, number, mutation):
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps(_mutated(*mutation)))
    good = tmp_path / "good.json"
    good.write_text(GOOD_RUN.read_text())
    commands = [["compare", str(good), str(bad)], ["compare", str(bad), str(good)]]
    if number % 10 == 0:  # plots are slow to draw: one case in ten also renders the report
        report = tmp_path / "out" / "report.md"
        report.parent.mkdir()
        report.write_text("an earlier, good report\n")
        commands.append(["report", str(bad), "-o", str(report.parent)])
    for argv in commands:
        code, _, err = _call(argv)
        assert code in (0, 1, 2), (argv, err)
        assert "Traceback" not in err
        if code == 2:
            assert len(err.strip().splitlines()) == 1, err
        if argv[0] == "report" and code != 0:
            assert report.read_text() == "an earlier, good report\n", "a failed report replaced a good one"


HOSTILE = ("evil\x1b[2J\x1b]0;pwned\x07 <img src=x onerror=alert(1)> [click](http://example.com) `code`\n# Heading"
           " [/b] \\[sneaky\\](http://example.org)")


def test_hostile_names_and_errors_come_out_inert(tmp_path):
    data = json.loads(GOOD_RUN.read_text())
    data["scenarios"][0]["name"] = HOSTILE
    data["scenarios"][1].update(status="failed", error=HOSTILE)
    run = tmp_path / "hostile.json"
    run.write_text(json.dumps(data))
    code, _, err = _call(["report", str(run)])
    assert code == 0, err
    report = (tmp_path / "report.md").read_text()
    comment = tmp_path / "comment.md"
    code, terminal, err = _call(["compare", str(GOOD_RUN), str(run), "--markdown", str(comment)])
    assert code == 1, err  # the base's first scenario is missing from the new run: a failed check
    for text in (report, comment.read_text()):
        assert "<img" not in text and "[click](http" not in text and "\x1b" not in text
        assert "\\\\\\[sneaky\\\\\\](http://example.org)" in text  # the backslashes shown, the brackets escaped
        assert "\n# Heading" not in text
        assert "&lt;img src=x onerror=alert(1)&gt; \\[click\\](http://example.com) 'code' # Heading" in text
    assert "\x1b" not in terminal and "\\x1b[2J" in terminal
