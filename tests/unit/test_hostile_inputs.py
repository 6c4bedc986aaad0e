"""Hostile input, generated from a seed: every bad value is one line, exit 2, no traceback, nothing
lost.

Arguments: each numeric or path option gets values drawn from a pool of the usual suspects
(infinities, NaN, huge and negative numbers, empty and control-laden text). Files: a good
results file with one field changed to a value of the wrong type or range, or removed, fed to
``report`` and to ``compare`` both ways; the test's own reading of the format says whether each must
be refused (in one line naming the field) or may be read (and then shown as the file says).
Names: markup and escape sequences in scenario names and errors must come out inert in the
terminal, in report.md and in compare's markdown.
"""

from __future__ import annotations

import copy
import io
import json
import math
import random
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from profiler.commands import main
from profiler.commands.measure_options import max_workers
from profiler.commands.value_parsers import MAX_WHOLE

ROOT = Path(__file__).resolve().parents[2]
GOOD_RUN = ROOT / "reports" / "example" / "results.json"
SEED = 20261126

BAD_VALUES = [
    "inf",
    "-inf",
    "nan",
    "NaN",
    "1e400",
    "-1e400",
    "-1",
    "0",
    "-0",
    "1e10",
    "9" * 40,
    "",
    " ",
    "abc",
    "1.5.2",
    "0x10",
    "1_000",
    "\x1b[31m",
    "$(reboot)",
    "10%",
    "1e-400",
    "١٢",
]
# option -> whether a value is acceptable (the oracle): the bounds of each option's argument type
# (profiler/commands/value_parsers.py, data_options.py), read the way Python reads a number, so
# "1_000"
# and Arabic-Indic digits count. The help states few of them: --step-ms's cap of 60,000 ms and
# --seed's 32 bits are in the types and their error messages only.
# Counts stop at 10**12: the estimates multiply them as floats, and 10**400 is none.
NUMERIC = {
    "--samples": lambda v: _int(v) is not None and 1 <= _int(v) <= MAX_WHOLE,
    "--batch-size": lambda v: _int(v) is not None and 1 <= _int(v) <= MAX_WHOLE,
    "--epochs": lambda v: _int(v) is not None and 1 <= _int(v) <= MAX_WHOLE,
    "--seed": lambda v: _int(v) is not None and 0 <= _int(v) < 2**32,
    "--classes": lambda v: _int(v) is not None and 1 <= _int(v) < 2**31,
    "--source-size": lambda v: _int(v) is not None and 1 <= _int(v) <= 8192,
    "--timeout": lambda v: _float(v) is not None and _float(v) > 0,
    "--step-ms": lambda v: _float(v) is not None and 0 <= _float(v) <= 60_000,
    "--time-cap": lambda v: _float(v) is not None and _float(v) > 0,
    "--precision": lambda v: _float(v) is not None and 0 < _float(v) <= 100,
    "--processes": lambda v: _int(v) is not None and 1 <= _int(v) <= max_workers(),
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


def _argument_error(option: str) -> str:
    """How argparse's one line starts when it refuses this option's value."""
    return f"error: argument {option}: "


@pytest.mark.parametrize(("option", "value"), _argument_cases())
def test_every_bad_argument_is_one_line_and_exit_2(isolated, option, value):
    # A second, certainly bad option after it: a value judged fine stops there, so nothing runs,
    # and the error then names that option rather than the one under test.
    sentinel = "--epochs" if option == "--batch-size" else "--batch-size"
    code, out, err = _call(["run", f"{option}={value}", f"{sentinel}=0"])
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    acceptable = NUMERIC[option](value) if option in NUMERIC else False
    if acceptable:
        assert lines[0].startswith(_argument_error(sentinel)), (
            f"{option}={value!r} was refused: {lines[0]}"
        )
    else:
        assert lines[0].startswith(_argument_error(option)), (
            f"{option}={value!r} was accepted: {lines[0]}"
        )
    assert list(isolated.iterdir()) == [], "a refused run left files behind"


def test_the_oracle_calls_some_values_acceptable_and_some_not():
    # Both branches of the test above are taken, for every numeric option.
    for option, acceptable in NUMERIC.items():
        verdicts = {acceptable(value) for value in BAD_VALUES}
        assert verdicts == {True, False}, option


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
    return [
        (rng.choice(paths), "delete" if rng.random() < 0.3 else "set", rng.choice(WRONG))
        for _ in range(count)
    ]


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


# The results format, as this test reads it from the records' fields and comments
# (results/records.py, base/settings.py, data/synthetic.py, base/metadata.py, data/fingerprint.py,
# ceiling/limit.py, ceiling/decoder_rates.py, ceiling/stage_times.py) and the
# rules the codec's docstring states: what each field may hold, and whether a file may leave it
# out. Written out here rather than taken from the code, so that a value the product reads too
# leniently shows up as a damaged file that was read.
def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(low=0, high=None):  # a whole number counts something: never negative
    return lambda v: (
        isinstance(v, int) and not isinstance(v, bool) and v >= low and (high is None or v <= high)
    )


def _number(low=None, high=None, above=None):
    return lambda v: (
        _is_number(v)
        and (low is None or v >= low)
        and (high is None or v <= high)
        and (above is None or v > above)
    )


def _one_of(*choices):
    return lambda v: any(type(v) is type(choice) and v == choice for choice in choices)


def _nullable(kind):
    return lambda v: v is None or kind(v)


def _items(kind):
    return lambda v: isinstance(v, list) and all(kind(item) for item in v)


def _pair(first, second=None, ordered=False):  # (low, high) when ordered, as intervals are
    second = second or first
    return lambda v: (
        isinstance(v, list)
        and len(v) == 2
        and first(v[0])
        and second(v[1])
        and (not ordered or v[0] <= v[1])
    )


def _mapping(kind):
    return lambda v: isinstance(v, dict) and all(kind(item) for item in v.values())


def _record(required: dict, optional: dict, derived=()):
    """An object with these fields; ``derived`` keys are written for readers and ignored on
    reading."""
    fields = {**required, **optional}

    def fits(v) -> bool:
        if not isinstance(v, dict) or any(key not in fields and key not in derived for key in v):
            return False
        return all(key in v for key in required) and all(
            fields[key](v[key]) for key in v if key in fields
        )

    return fits


TEXT, FLAG, ANY = (lambda v: isinstance(v, str)), (lambda v: isinstance(v, bool)), (lambda v: True)
COUNT, COUNT1 = _whole(), _whole(low=1)
AMOUNT = _number(low=0)  # seconds, rates, MiB, cores: never negative
POSITIVE = _number(above=0)  # a duration that must pass, a time per call that was measured
FRACTION = _number(low=0, high=1)
N = _nullable
MACHINE = _record(
    {},
    {
        "hostname": TEXT,
        "platform": TEXT,
        "cpu_model": TEXT,
        "cpu_count": COUNT,
        "usable_cpus": COUNT,
        "memory_total_mib": COUNT,
        "machine_id": TEXT,
    },
)
METADATA = _record(
    {},
    {
        "profiler_version": TEXT,
        "python": TEXT,
        "python_implementation": TEXT,
        "executable": TEXT,
        "machine": MACHINE,
        "packages": _mapping(N(TEXT)),
    },
)
SETTINGS = _record(
    {},
    {
        "batch_size": COUNT1,
        "workers": COUNT1,
        "epochs": COUNT1,
        "idle_epochs": COUNT1,
        "step_ms": AMOUNT,
        "timeout_s": POSITIVE,
        "consumer": _one_of("sleep", "keras"),
        "service": _record(
            {}, {"workers": COUNT1, "dispatcher": N(TEXT), "on_all_interfaces": FLAG}
        ),
        "precision": _number(above=0, high=1),
        "idle_precision": _number(above=0, high=1),
        "time_cap_s": POSITIVE,
        "idle_time_cap_s": POSITIVE,
        "window_s": POSITIVE,
        "processes": COUNT1,
        "cold": FLAG,
        "shuffle_buffer": COUNT,
    },
)
TARGET = _record(
    {"kind": _one_of("scenario", "pipeline"), "reference": TEXT},
    {"arguments": _mapping(ANY), "label": TEXT, "knobs": _mapping(ANY)},
)
SPEC = _record(
    {},
    {
        "kind": _one_of("images", "arrays", "folder", "tfrecord", "npy"),
        "samples": COUNT,
        "height": COUNT1,
        "width": COUNT1,
        "channels": COUNT1,
        "source_size": COUNT1,
        "image_format": _one_of("jpeg", "png"),
        "classes": COUNT1,
        "seed": _whole(high=2**32 - 1),
        "augment": FLAG,
        "path": TEXT,
        "image_key": TEXT,
        "label_key": TEXT,
    },
)
DATA = _record(
    {"spec": SPEC},
    {
        "path": TEXT,
        "found": N(COUNT),
        "skipped_files": COUNT,
        "skipped_examples": _items(TEXT),
        "skipped_paths": _items(TEXT),
        "typical_size": TEXT,
        "bytes_per_file": N(AMOUNT),
        "formats": _items(TEXT),
        "index": TEXT,
    },
    derived=("description",),
)
FINGERPRINT = _record(
    {
        "samples": COUNT,
        "batches": COUNT,
        "image_shape": _items(COUNT),
        "image_dtype": TEXT,
        "label_dtype": TEXT,
        "checksum": TEXT,
    },
    {
        "labels_checksum": TEXT,
        "channel_sums": _items(_number()),
        "channel_squares": _items(_number()),
        "pixels_finite": FLAG,
    },
)
STATUSES = ("ok", "failed", "crashed", "timeout", "interrupted", "skipped")
SCENARIO = _record(
    {"name": TEXT, "status": _one_of(*STATUSES)},
    {
        "error": N(TEXT),
        "summary": TEXT,
        "description": TEXT,
        "memory_grows_with_data": N(FLAG),
        "disk_grows_with_data": FLAG,
        "disk_written_mib": N(AMOUNT),
        "snippet": TEXT,
        "source_hash": N(TEXT),
        "wall_s": N(AMOUNT),
        "baseline_rss_mib": N(AMOUNT),
        "baseline_pss_mib": N(AMOUNT),
        # above the baseline: a peak may lie below it
        "peak_rss_mib": N(_number()),
        "peak_pss_mib": N(_number()),
        "ru_maxrss_mib": N(AMOUNT),
        "rss_interval_ms": N(AMOUNT),
        "build_s": N(AMOUNT),
        "first_batch_s": N(AMOUNT),
        "warmup_epoch_s": N(AMOUNT),
        "epoch_s": _items(AMOUNT),
        "batches_per_epoch": N(COUNT),
        "samples_per_epoch": N(COUNT),
        "batches_per_s": N(AMOUNT),
        "samples_per_s": N(AMOUNT),
        "samples_per_s_ci": N(_pair(AMOUNT, ordered=True)),
        "batches_per_s_min": N(AMOUNT),
        "batches_per_s_max": N(AMOUNT),
        "window_samples_per_s": _items(POSITIVE),
        "window_batches": N(COUNT1),
        "warmup_windows": COUNT,
        "rate_capped": FLAG,
        "cpu_s": N(AMOUNT),
        "cpu_roles": _items(_record({"role": TEXT, "cpu_us_per_sample": AMOUNT}, {})),
        "service_workers": N(COUNT),
        "other_busy_cores": N(AMOUNT),
        "processes": COUNT1,
        "ceiling_fraction": N(AMOUNT),
        "idle_s": N(AMOUNT),
        "compute_s": N(AMOUNT),
        "idle_fraction": N(FRACTION),
        "idle_fraction_ci": N(_pair(FRACTION, ordered=True)),
        "idle_fraction_raw": N(FRACTION),
        "fetch_floor_ms": N(AMOUNT),
        "idle_capped": FLAG,
        "wait_p50_ms": N(AMOUNT),
        "wait_p95_ms": N(AMOUNT),
        "wait_ms": _items(AMOUNT),
        "epoch_start_wait_ms": N(AMOUNT),
        "step_p50_ms": N(AMOUNT),
        "step_device": N(TEXT),
        "gpu_utilization_percent": N(_number(low=0, high=100)),
        "fingerprint": N(FINGERPRINT),
        "fingerprint_matches": N(FLAG),
        "samples_match": N(FLAG),
        "pixels_may_differ": FLAG,
        "tf_data_options": _mapping(ANY),
        "autotune": _items(_record({"node": TEXT, "parameter": TEXT, "value": _number()}, {})),
        "trace_files": _items(TEXT),
        "memory_timeline": _items(_pair(_number())),
        "build_started_s": N(AMOUNT),
        "log_path": N(TEXT),
        "turn_rounds": _items(COUNT),
        "group": N(COUNT),
        "reference_ratio": N(POSITIVE),
        "reference_ratio_ci": N(_pair(POSITIVE, ordered=True)),
    },
    derived=("verdict", "windows"),
)
PICK = _record(
    {"name": N(TEXT), "reason": TEXT},
    {
        "runner_up": N(TEXT),
        "tied_with": _items(TEXT),
        "not_compared": _items(TEXT),
        "compared_on": N(TEXT),
        "too_wide": _items(TEXT),
    },
)
REFERENCE = _record(
    {"unit": TEXT, "rates": _items(_number()), "rounds": _items(COUNT), "rate": _number()},
    {
        "rate_ci": N(_pair(_number(), ordered=True)),
        "work_rates": _items(_number()),
        "work_rounds": _items(COUNT),
    },
)
STAGE = _record({"name": TEXT, "alone_s": POSITIVE, "cumulative_s": POSITIVE}, {"parallel": FLAG})
CEILING = _record(
    {"work_per_sample_s": POSITIVE, "cores": COUNT1, "measured_samples": COUNT1},
    {
        "read_mb_per_s": N(AMOUNT),
        "mb_per_sample": N(AMOUNT),
        "cold": FLAG,
        "turns": COUNT,
        "turns_samples_per_s_ci": N(_pair(AMOUNT, ordered=True)),
        "alone_samples_per_s": N(AMOUNT),
        "decoder": TEXT,
        "decoders": _items(
            _record(
                {"name": TEXT, "work_per_sample_s": POSITIVE, "measured_samples": COUNT1},
                {"how": TEXT},
            )
        ),
        "stages": N(
            _record(
                {
                    "stages": lambda v: _items(STAGE)(v) and len(v) >= 1,
                    "cores": COUNT1,
                    "batch_size": COUNT1,
                },
                {"decoder": TEXT},
            )
        ),
    },
    derived=("samples_per_s", "bound_by"),
)
RUN_FILE = _record(
    {
        "format_version": _one_of(3),
        "metadata": METADATA,
        "settings": SETTINGS,
        "targets": _items(TARGET),
        "data": N(DATA),
    },
    {
        "kind": _one_of("run"),
        "expected_fingerprint": N(FINGERPRINT),
        "scenarios": _items(SCENARIO),
        "interrupted": FLAG,
        "created": TEXT,
        "recommendation": N(PICK),
        "ceiling": N(CEILING),
        "data_dir": TEXT,
        "reference": N(REFERENCE),
    },
)


def test_the_format_oracle_reads_the_good_file_and_refuses_what_it_should():
    good = json.loads(GOOD_RUN.read_text())
    assert RUN_FILE(good)
    for path, how, value in [
        (("settings", "epochs"), "set", 0),
        (("scenarios", 0, "status"), "set", "x"),
        (("scenarios", 0, "name"), "delete", None),
        (("recommendation", "name"), "set", 1),
        (("scenarios", 0, "samples_per_s_ci", 0), "set", 1e308),
        (("surprise",), "set", 1),
    ]:
        assert not RUN_FILE(_mutated(path, how, value)), path
    for path, how, value in [
        (("scenarios", 0, "error"), "set", "x"),
        (("scenarios", 0, "verdict"), "set", 1),
        (("scenarios", 0, "wall_s"), "delete", None),
        (("ceiling", "decoders", 0), "delete", None),
    ]:
        assert RUN_FILE(_mutated(path, how, value)), path
    # The seeded mutations below take both branches: some must be refused, some may be read.
    assert {RUN_FILE(_mutated(*mutation)) for mutation in _mutations(80)} == {True, False}


# What compare shows of each figure, and the checks its default --fail-on makes: (field, how a
# value is written), and (field, limit, relative, higher is better).
SHOWN = {
    "samples/s": ("samples_per_s", "{:,.0f}"),
    "batches/s": ("batches_per_s", "{:,.1f}"),
    "idle": ("idle_fraction", "{:.1%}"),
    "wait p95 ms": ("wait_p95_ms", "{:.2f}"),
    "first batch s": ("first_batch_s", "{:.2f}"),
    "warm-up s": ("warmup_epoch_s", "{:.2f}"),
    "peak RSS MiB": ("peak_rss_mib", "{:+,.0f}"),
    "peak PSS MiB": ("peak_pss_mib", "{:+,.0f}"),
    "CPU s/epoch": ("cpu_s", "{:.2f}"),
}
GATES = [
    ("samples_per_s", 0.10, True, True),
    ("peak_rss_mib", 0.15, True, False),
    ("idle_fraction", 0.05, False, False),
]


def _worse_beyond_limit(old, new) -> bool:
    for field, limit, relative, higher_is_better in GATES:
        before, after = old.get(field), new.get(field)
        if before is None or after is None or (relative and before == 0):
            continue
        change = (after - before) / abs(before) if relative else after - before
        if (-change if higher_is_better else change) > limit:
            return True
    return False


def _expected_compare_codes(base: dict, new: dict) -> set[int]:
    """1 when a scenario that completed in the base is missing from the new run or no longer
    completes; 1 or 0 when a gated figure got worse beyond its limit (a test on the windows may call
    it noise); else 0."""
    old_rows = {row["name"]: row for row in base.get("scenarios", [])}
    new_rows = {row["name"]: row for row in new.get("scenarios", [])}
    if any(
        row["status"] == "ok" and new_rows.get(name, {}).get("status") != "ok"
        for name, row in old_rows.items()
    ):
        return {1}
    if any(
        _worse_beyond_limit(row, new_rows[name])
        for name, row in old_rows.items()
        if name in new_rows
    ):
        return {0, 1}
    return {0}


def _shown(field_format: tuple[str, str], row: dict) -> str:
    value = row.get(field_format[0])
    return "-" if value is None else field_format[1].format(value)


def _check_the_table_shows_both_files(markdown: str, base: dict, new: dict) -> None:
    rows = [line[2:-2].split(" | ") for line in markdown.splitlines() if line.startswith("| ")][1:]
    shown = {(cells[0], cells[1]): (cells[2], cells[3]) for cells in rows}
    old_rows = {row["name"]: row for row in base.get("scenarios", [])}
    new_rows = {row["name"]: row for row in new.get("scenarios", [])}
    common = [name for name in old_rows if name in new_rows]
    both_ok = {
        name for name in common if old_rows[name]["status"] == new_rows[name]["status"] == "ok"
    }
    assert len(rows) == sum(len(SHOWN) if name in both_ok else 1 for name in common), markdown
    for name in common:
        if name not in both_ok:
            assert shown[(name, "status")] == (old_rows[name]["status"], new_rows[name]["status"])
            continue
        for label, field_format in SHOWN.items():
            expected = (_shown(field_format, old_rows[name]), _shown(field_format, new_rows[name]))
            assert shown[(name, label)] == expected, (name, label)


def _named_key(path: tuple) -> str:
    """The field an error about this path names: its last key that is a name, not an index."""
    return next(key for key in reversed(path) if isinstance(key, str))


@pytest.mark.parametrize(("number", "mutation"), list(enumerate(_mutations(80))))
def test_a_damaged_results_file_is_refused_in_one_line_or_read(tmp_path, number, mutation):
    damaged = _mutated(*mutation)
    good_data = json.loads(GOOD_RUN.read_text())
    refused = not RUN_FILE(damaged)
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps(damaged))
    good = tmp_path / "good.json"
    good.write_text(GOOD_RUN.read_text())
    table = tmp_path / "compare.md"
    commands = [
        (["compare", str(good), str(bad)], good_data, damaged),
        (["compare", str(bad), str(good)], damaged, good_data),
    ]
    if number % 10 == 0:  # plots are slow to draw: one case in ten also renders the report
        report = tmp_path / "out" / "report.md"
        report.parent.mkdir()
        report.write_text("an earlier, good report\n")
        commands.append((["report", str(bad), "-o", str(report.parent)], None, None))
    for argv, base, new in commands:
        table.unlink(missing_ok=True)
        if argv[0] == "compare":
            argv = [*argv, "--markdown", str(table)]
        code, out, err = _call(argv)
        assert "Traceback" not in err
        if refused:
            lines = err.strip().splitlines()
            assert code == 2 and len(lines) == 1, (mutation, argv[0], code, err)
            key = _named_key(mutation[0])
            # the field, and the fix:
            assert key in lines[0] or key.replace("_", " ") in lines[0], lines[0]
            assert "pass " in lines[0] or "use " in lines[0], lines[0]
            assert out == "" and not table.exists()
            if argv[0] == "report":
                assert report.read_text() == "an earlier, good report\n", (
                    "a refused file replaced a good report"
                )
        elif argv[0] == "compare":
            assert code in _expected_compare_codes(base, new), (mutation, argv, code, err)
            _check_the_table_shows_both_files(table.read_text(), base, new)
        else:
            assert code == 0, (mutation, err)
            assert report.read_text() != "an earlier, good report\n", (
                "the report of a readable file was not written"
            )


HOSTILE = (
    "evil\x1b[2J\x1b]0;pwned\x07 <img src=x onerror=alert(1)> [click](http://example.com) "
    "`code`\n# Heading [/b] \\[sneaky\\](http://example.org)"
)


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
        # the backslashes shown, the brackets escaped
        assert "\\\\\\[sneaky\\\\\\](http://example.org)" in text
        assert "\n# Heading" not in text
        assert (
            "&lt;img src=x onerror=alert(1)&gt; \\[click\\](http://example.com) 'code' # Heading"
            in text
        )
    assert "\x1b" not in terminal and "\\x1b[2J" in terminal


def test_names_no_file_can_encode_and_marks_that_reorder_a_line_come_out_escaped(tmp_path):
    # A byte of a path or argument that was not UTF-8 reaches a name as a lone surrogate; U+202E
    # shows the rest of a line backwards.
    data = json.loads(GOOD_RUN.read_text())
    data["scenarios"][0]["name"] = "gen\udcff\u202eevil"
    data["scenarios"][1].update(status="failed", error="boom\udc80\u2028next")
    run = tmp_path / "surrogates.json"
    run.write_text(json.dumps(data))  # JSON keeps them as \udcff escapes
    code, _, err = _call(["report", str(run)])
    assert code == 0, err
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    comment = tmp_path / "comment.md"
    code, terminal, err = _call(["compare", str(GOOD_RUN), str(run), "--markdown", str(comment)])
    assert code == 1 and "Traceback" not in err, err
    for text in (report, comment.read_text(encoding="utf-8"), terminal):
        assert not any(0xD800 <= ord(c) <= 0xDFFF for c in text)
        assert "\u202e" not in text and "\u2028" not in text
    for text in (report, comment.read_text(encoding="utf-8")):
        assert "gen\\\\xff\\\\u202eevil" in text  # the backslash itself escaped for markdown
    assert "gen\\xff\\u202eevil" in terminal
    # A path of a byte that is not UTF-8, named in the comparison's heading.
    odd = tmp_path / "d\udcff"
    odd.mkdir()
    shutil.copy(GOOD_RUN, odd / "results.json")
    code, terminal, err = _call(
        ["compare", str(GOOD_RUN), str(odd / "results.json"), "--markdown", str(comment)]
    )
    assert code == 0 and "Traceback" not in err, err
    assert "d\\\\xff" in comment.read_text(encoding="utf-8") and "d\\xff" in terminal
