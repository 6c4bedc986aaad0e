"""sweep.json, tune.json and scale.json with one field corrupted, every field in turn, as the
commands read them.

Good files are made through the library: the committed example sweep, read and written again with
its long series cut short; a tuning and a scale measurement built from records. Each field of each
record, where it first occurs (lists are walked through their first item), is then, in a copy,
removed or set to a value of another JSON type. What must happen follows from the records'
annotations, not from the reader's code:

- a value of the wrong type is refused, naming its place in the file, unless the field is typed Any
  (a knob's value, a pipeline's arguments) or is one the writer derives for readers and the reader
  recomputes (a verdict, the fits);
- a removed field is refused, naming it, where its record gives it no default; else the file reads.

``report`` and ``compare`` refuse in one line on stderr with exit 2, no traceback, nothing written;
neither reads a tuning or a scale measurement, so those are refused whatever was changed in them.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
import types
import typing
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from profiler.analysis.scale_result import ScalePoint, ScaleResult, advise, fit, scale_to_json
from profiler.analysis.sweep_result import SweepResult, load_results, load_sweep, sweep_to_json
from profiler.analysis.tune_result import (
    Configuration,
    KnobRecord,
    Trial,
    TunedStrategy,
    TuneResult,
    tune_to_json,
)
from profiler.base.codec import DecodeError, decode
from profiler.base.errors import ProfilerError
from profiler.base.metadata import Machine, Metadata
from profiler.base.settings import MeasureSettings, Target
from profiler.ceiling.decoder_rates import DecoderRate
from profiler.ceiling.stage_times import StageBreakdown, StageTiming
from profiler.commands import main
from profiler.results.records import STATUS_OK, AutotuneValue, RoleCpu, ScenarioResult
from profiler.strategy.scenario import AUTOTUNE, TRAINER

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_SWEEP = ROOT / "reports" / "example-sweep" / "sweep.json"
GOOD_RUN = ROOT / "reports" / "example" / "results.json"
RUN_1 = ROOT / "tests" / "data" / "run_base.json"  # format version 1

# Keys the writer adds for readers and the reader drops, by the record they sit in.
DERIVED = {
    SweepResult: {"format_version", "kind", "fits", "predictions", "advice"},
    "RunResult": {"format_version", "kind"},
    "DataRecord": {"description"},
    "Ceiling": {"samples_per_s", "bound_by"},
    "ScenarioResult": {"verdict", "windows"},
    TuneResult: {"format_version", "kind"},
    ScaleResult: {"format_version", "kind"},
    "ScaleFit": {"predicted_here", "predicted_from_fewest"},
}


def _good_sweep() -> dict[str, Any]:
    """The example sweep stopped after its first size, with one strategy, its long series cut short,
    and every record a run can hold filled in (CPU by role, autotuning's values, the decoders and
    the stages)."""
    sweep = load_sweep(EXAMPLE_SWEEP)

    def filled(result: ScenarioResult) -> ScenarioResult:
        return replace(
            result,
            memory_timeline=result.memory_timeline[:3],
            wait_ms=result.wait_ms[:3],
            epoch_s=result.epoch_s[:3],
            window_samples_per_s=result.window_samples_per_s[:9],
            cpu_roles=(RoleCpu(TRAINER, 400.0),),
            autotune=(AutotuneValue("Prefetch", "buffer_size", 8.0),),
            trace_files=("trace.xplane.pb",),
            log_path="logs/generator.log",
            step_device="simulated",
            gpu_utilization_percent=0.0,
            service_workers=2,
            other_busy_cores=0.1,
        )

    stages = StageBreakdown(
        (StageTiming("read", 0.0001, 0.0001), StageTiming("decode", 0.001, 0.0011)), 4, 32
    )
    ceiling = replace(
        sweep.ceiling, decoders=(DecoderRate("opencv", 0.001, 100, "cv2.imdecode"),), stages=stages
    )
    run = replace(sweep.runs[0], scenarios=(filled(sweep.runs[0].scenarios[1]),), ceiling=ceiling)
    return sweep_to_json(replace(sweep, runs=(run,), sizes=sweep.sizes[:1], ceiling=ceiling))


def _measured(rate: float, **extra: Any) -> ScenarioResult:
    return ScenarioResult(
        name="parallel_map",
        status=STATUS_OK,
        samples_per_s=rate,
        samples_per_s_ci=(rate * 0.98, rate * 1.02),
        window_samples_per_s=(rate,) * 3,
        samples_match=True,
        **extra,
    )


def _good_tune() -> dict[str, Any]:
    knob = KnobRecord(
        "map_parallelism", AUTOTUNE, (1, 2), what="threads", code="num_parallel_calls={value}"
    )
    default, best = _measured(6000.0), _measured(9000.0, cpu_s=0.4)
    strategy = TunedStrategy(
        "parallel_map",
        (knob,),
        Configuration({"map_parallelism": AUTOTUNE}, 6000.0, (5900.0, 6100.0), 0.5),
        Configuration({"map_parallelism": 2}, 9000.0, (8900.0, 9100.0), 0.75),
        (Trial("", None, default), Trial("map_parallelism", 2, best)),
        gain=1.5,
        gain_ci=(1.45, 1.55),
        best_result=best,
        complete=True,
    )
    metadata = Metadata(
        python="3.11", machine=Machine(hostname="box", cpu_count=8), packages={"numpy": "2.0"}
    )
    return tune_to_json(
        TuneResult(
            metadata,
            MeasureSettings(),
            None,
            None,
            "2026-11-26T12:00:00+00:00",
            candidates={"parallel_map": 6000.0},
            targets=(Target.scenario("parallel_map"),),
            tuned=(strategy,),
            wall_s=12.5,
        )
    )


def _good_scale() -> dict[str, Any]:
    points = tuple(
        ScalePoint(
            n,
            STATUS_OK,
            samples_per_s=1000.0 * n,
            samples_per_s_ci=(950.0 * n, 1050.0 * n),
            trainer_us_per_sample=50.0,
            dispatcher_us_per_sample=5.0,
            workers_us_per_sample=900.0,
            startup_s=1.5,
            idle_fraction=0.1,
            samples_match=True,
            other_busy_cores=0.2,
        )
        for n in (1, 2)
    )
    scale = fit(points, 8)
    advice = advise(scale, 20.0, 32, 1, 1)
    return scale_to_json(
        ScaleResult(
            Metadata(python="3.11"),
            MeasureSettings(),
            None,
            "now",
            8,
            (1, 2),
            points,
            scale,
            advice,
        )
    )


GOOD = {
    "sweep": (_good_sweep(), SweepResult),
    "tune": (_good_tune(), TuneResult),
    "scale": (_good_scale(), ScaleResult),
}


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    found: list[tuple] = []
    if isinstance(data, dict):
        for key, value in data.items():
            found += [(*prefix, key), *_paths(value, (*prefix, key))]
    elif isinstance(data, list) and data:
        found += [(*prefix, 0), *_paths(data[0], (*prefix, 0))]
    return found


def _unwrapped(hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(hint) if option is not type(None)]
        return options[0] if len(options) == 1 else hint
    return hint


_hints = functools.cache(typing.get_type_hints)


def _expected(root: type, path: tuple) -> tuple[str, bool]:
    """("derived" | "any" | "typed", whether removing it is refused), from the annotations along
    ``path``."""
    hint: Any = root
    required = False
    for key in path:
        hint = _unwrapped(hint)
        if hint is Any:
            return "any", False
        if dataclasses.is_dataclass(hint):
            derived = DERIVED.get(hint, set()) | DERIVED.get(hint.__name__, set())
            if key in derived:
                return "derived", False
            field = {f.name: f for f in dataclasses.fields(hint)}[key]
            required = (
                field.default is dataclasses.MISSING
                and field.default_factory is dataclasses.MISSING
            )
            hint = _hints(hint)[key]
            continue
        required = False  # an item of a list or an entry of a dict: no record requires it
        arguments = typing.get_args(hint)
        if typing.get_origin(hint) in (tuple, list):
            hint = (
                arguments[0] if len(arguments) == 2 and arguments[1] is Ellipsis else arguments[key]
            )
        else:
            hint = arguments[1] if arguments else Any
    return ("any" if _unwrapped(hint) is Any else "typed"), required


def _wrong(value: Any) -> Any:
    """A value of another JSON type than ``value``'s; None where the intended type cannot be
    told."""
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, (int, float)):
        return "fast"
    if isinstance(value, str):
        return 12345
    if isinstance(value, list):
        return {"not": "a list"}
    if isinstance(value, dict):
        return ["not", "an object"]
    return None


def _where(path: tuple) -> str:
    return "results" + "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path)


def _corrupted(
    data: dict[str, Any], path: tuple, value: Any = None, remove: bool = False
) -> dict[str, Any]:
    """A copy of ``data`` with the value at ``path`` removed or replaced; only the containers on the
    way are copied, the good data is left as it was."""
    copied = dict(data)
    parent: Any = copied
    for key in path[:-1]:
        parent[key] = dict(parent[key]) if isinstance(parent[key], dict) else list(parent[key])
        parent = parent[key]
    if remove:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return copied


def _call(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _owner(root: type, path: tuple) -> str:
    """What holds the last key of ``path``: the record's name, or the list or dict annotation."""
    hint: Any = root
    for key in path[:-1]:
        hint = _unwrapped(hint)
        if hint is Any:
            return "Any"
        if dataclasses.is_dataclass(hint):
            hint = _hints(hint).get(key, Any)
            continue
        arguments = typing.get_args(hint)
        if typing.get_origin(hint) in (tuple, list):
            hint = (
                arguments[0] if len(arguments) == 2 and arguments[1] is Ellipsis else arguments[key]
            )
        else:
            hint = arguments[1] if arguments else Any
    hint = _unwrapped(hint)
    return hint.__name__ if dataclasses.is_dataclass(hint) else repr(hint)


def _cases(kind: str) -> list[tuple[tuple, str, Any]]:
    """Each field of each record once (where it first occurs), removed and set to a wrong type."""
    data, root = GOOD[kind]
    cases, seen = [], set()
    for path in _paths(data):
        owner = _owner(root, path)
        # A derived key stands for all it holds; a dict's entries, like a list's items, are alike.
        if any(_expected(root, path[:cut])[0] == "derived" for cut in range(1, len(path))):
            continue
        where = (owner, "*" if owner.startswith("dict") else path[-1])
        if where in seen:
            continue
        seen.add(where)
        if not isinstance(path[-1], int):
            cases.append((path, "removed", None))
        value = data
        for key in path:
            value = value[key]
        if _wrong(value) is not None:
            cases.append((path, "set", _wrong(value)))
    return cases


def _refused_in_one_line(argv: list[str], folder: Path) -> tuple[str | None, str]:
    """(None where the command refused as it should, else what it did instead; its stderr)."""
    report = folder / "report.md"
    if not report.exists():
        report.write_text("an earlier, good report\n")
    try:
        code, out, err = _call(argv)
    except Exception as error:  # noqa: BLE001 - a traceback is the finding
        return f"raised {type(error).__name__}: {error}", ""
    lines = err.strip().splitlines()
    if (
        code != 2
        or out
        or len(lines) != 1
        or not lines[0].startswith("error: ")
        or "Traceback" in err
    ):
        return f"exit {code}, stdout {out[:80]!r}, stderr {err[:200]!r}", err
    if report.read_text() != "an earlier, good report\n":
        report.unlink()
        return "the earlier report was replaced", err
    return None, err


def _message_names(message: str, path: tuple, how: str) -> bool:
    if path == ("format_version",):
        return "format_version" in message or "format version" in message
    if path == ("kind",):
        return True  # read as another kind of file: refused for what it then lacks or holds
    if how == "removed":
        return f"{_where(path[:-1])}: the field '{path[-1]}' is missing" in message
    return _where(path) in message


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_the_good_files_read_back_as_their_records(kind, tmp_path):
    data, record = GOOD[kind]
    if kind == "sweep":
        # Every field of every record a sweep holds is corrupted below, removed and set: hundreds of
        # cases.
        assert len(_cases("sweep")) > 350 and len(SWEEP_RECORDS) > 20
        path = tmp_path / "sweep.json"
        path.write_text(json.dumps(data))
        assert isinstance(load_results(path), SweepResult)
        return
    fields = _fields(data)
    assert decode(record, fields).metadata.python == "3.11"


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    """A tuning's or scale's JSON less what the writer derived for readers."""
    fields = {key: value for key, value in data.items() if key not in ("format_version", "kind")}
    if isinstance(fields.get("fit"), dict):
        fields["fit"] = {
            key: value for key, value in fields["fit"].items() if key not in DERIVED["ScaleFit"]
        }
    return fields


def _judged(kind: str, read: Any, cases: list[tuple[tuple, str, Any]]) -> list[str]:
    """Each case through ``read(data)``, which raises ProfilerError or DecodeError to refuse; what
    went otherwise than the annotations say."""
    data, root = GOOD[kind]
    original = read(data)
    wrong: list[str] = []
    for path, how, value in cases:
        what, _ = _expected(root, path)
        refused = _refused(root, path, how, value)
        try:
            loaded = read(_corrupted(data, path, value, remove=how == "removed"))
        except (ProfilerError, DecodeError) as error:
            message = str(error)
            if not refused:
                wrong.append(f"{_where(path)} {how}: refused, though {what}: {message}")
            elif "\n" in message or not _message_names(message, path, how):
                wrong.append(
                    f"{_where(path)} {how}: the error is not one line naming the field: {message}"
                )
            continue
        if refused:
            wrong.append(f"{_where(path)} {how}: read, though {what}")
        elif what == "derived" and loaded != original:
            wrong.append(f"{_where(path)} {how}: a derived value changed what was read")
    return wrong


SWEEP_RECORDS = sorted({_owner(SweepResult, path) for path, _, _ in _cases("sweep")})


@pytest.mark.parametrize("record", SWEEP_RECORDS)
def test_every_field_of_a_sweep_corrupted_is_refused_naming_it_or_read_as_its_type_says(
    tmp_path, record
):
    written = iter(range(10**6))

    def read(data: dict[str, Any]) -> Any:  # what ``report`` reads a results file with
        # a new file each time: rewriting one is slower
        path = tmp_path / f"sweep-{next(written)}.json"
        path.write_text(json.dumps(data))
        return load_results(path)

    cases = [case for case in _cases("sweep") if _owner(SweepResult, case[0]) == record]
    assert cases
    wrong = _judged("sweep", read, cases)
    assert not wrong, "\n".join(wrong[:20])


@pytest.mark.parametrize("kind", ["tune", "scale"])
def test_the_records_of_a_tuning_or_scale_refuse_a_corrupted_field_as_their_types_say(kind):
    _, record = GOOD[kind]

    def read(data: dict[str, Any]) -> Any:  # no command reads them: the records' decoder
        return decode(record, _fields(data), "results")

    cases = [case for case in _cases(kind) if case[0][0] not in ("format_version", "kind")]
    assert len(cases) > 100
    wrong = _judged(kind, read, cases)
    assert not wrong, "\n".join(wrong[:20])


def _command_cases(kind: str) -> list[tuple[tuple, str, Any]]:
    """Top-level fields, and a few deep ones, corrupted: what the commands must refuse (or, for a
    sweep, read) is settled above; here, that they do it in one line."""
    _, root = GOOD[kind]
    deep = {
        ("runs", 0, "scenarios", 0, "samples_per_s"),
        ("runs", 0, "scenarios", 0, "name"),
        ("runs", 0, "settings", "batch_size"),
        ("spec", "samples"),
        ("tuned", 0, "best", "settings"),
        ("tuned", 0, "trials", 0, "result", "status"),
        ("points", 0, "workers"),
        ("fit", "counts_fitted"),
    }
    chosen = [case for case in _cases(kind) if len(case[0]) == 1 or case[0] in deep]
    return [case for case in chosen if kind != "sweep" or _refused(root, *case)]


def _refused(root: type, path: tuple, how: str, value: Any) -> bool:
    what, required = _expected(root, path)
    return path in (("format_version",), ("kind",)) or (
        what == "typed" if how == "set" else required
    )


@pytest.mark.parametrize("kind", ["sweep", "tune", "scale"])
def test_report_and_compare_refuse_a_corrupted_file_in_one_line_with_exit_2(tmp_path, kind):
    data, _ = GOOD[kind]
    wrong: list[str] = []
    cases = [((), "as written", None)] * (kind != "sweep") + _command_cases(kind)
    assert len(cases) > 15
    for number, (path, how, value) in enumerate(cases):
        bad = tmp_path / f"{kind}-{number}.json"
        bad.write_text(
            json.dumps(_corrupted(data, path, value, remove=how == "removed") if path else data)
        )
        # compare reads its base first: the corrupted file there, a good run after it.
        for argv in (
            ["report", str(bad), "-o", str(tmp_path)],
            ["compare", str(bad), str(GOOD_RUN)],
        ):
            problem, err = _refused_in_one_line(argv, tmp_path)
            if (
                problem is None
                and kind == "sweep"
                and argv[0] == "report"
                and not _message_names(err, path, how)
            ):
                problem = f"the error names no field: {err.strip()}"
            if problem is not None:
                wrong.append(f"{argv[0]}: {_where(path)} {how}: {problem}")
    assert not wrong, "\n".join(wrong[:20])
    if kind != "sweep":  # what report says of a file it does not read, and where to look instead
        (tmp_path / "untouched.json").write_text(json.dumps(data))
        _, _, err = _call(["report", str(tmp_path / "untouched.json")])
        assert f"written by 'profiler {kind}'" in err and "report.md" in err


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,  # past the JSON parser's own stack
        '{"format_version": 3, "kind": "run", "scenarios": ' + "[" * 200 + "]" * 200 + "}",
    ],
    ids=["past-the-parser", "deep-inside"],
)
def test_a_file_nested_deeper_than_any_results_file_is_refused_in_one_line(text, tmp_path):
    bad = tmp_path / "deep.json"
    bad.write_text(text)
    for argv in (["report", str(bad), "-o", str(tmp_path)], ["compare", str(bad), str(GOOD_RUN)]):
        problem, err = _refused_in_one_line(argv, tmp_path)
        assert problem is None, problem
        assert "nested deeper than any results file" in err


def _sweep_1(change: Any) -> dict[str, Any]:
    data = json.loads((ROOT / "tests" / "data" / "sweep.json").read_text())
    assert data["format_version"] == 1
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d.update(runs="abc"), "results.runs: expected a list"),
        (lambda d: d["options"].update(sizes=5), "results.sizes: expected a list"),
        (lambda d: d["options"].update(sizes=["a", 1]), "results.sizes[0]: expected a whole"),
        (lambda d: d.update(data="x"), "results.spec: expected an object"),
        (lambda d: d["runs"].__setitem__(0, "x"), "results.runs[0]: expected an object"),
        (lambda d: d["runs"][0].update(data="x"), "results.runs[0].data: expected an object"),
    ],
    ids=["runs", "sizes", "size", "data", "a-run", "a-runs-data"],
)
def test_a_version_1_sweep_of_the_wrong_types_is_refused_naming_the_field(change, named, tmp_path):
    bad = tmp_path / "sweep.json"
    bad.write_text(json.dumps(_sweep_1(change)))
    problem, err = _refused_in_one_line(["report", str(bad), "-o", str(tmp_path)], tmp_path)
    assert problem is None, problem
    assert named in err


@pytest.mark.parametrize(
    "sizes",
    [[1, 2, 4, 8], [1000, 2000], [2000, 1000, 4000, 8000], [0, 1000, 2000, 4000, 8000]],
    ids=["not-its-runs", "fewer-than-its-runs", "not-ascending", "zero"],
)
@pytest.mark.parametrize("version", [1, 3])
def test_a_sweep_whose_sizes_are_not_its_runs_sizes_is_refused(sizes, version, tmp_path):
    # Of the right type, so the field-by-field check lets them through; the title and the fits
    # would then show sizes that were never measured.
    data = _sweep_1(lambda d: d["options"].update(sizes=sizes))
    if version == 3:
        data = sweep_to_json(load_sweep(ROOT / "tests" / "data" / "sweep.json"))
        data["sizes"] = sizes
    bad = tmp_path / "sweep.json"
    bad.write_text(json.dumps(data))
    problem, err = _refused_in_one_line(["report", str(bad), "-o", str(tmp_path)], tmp_path)
    assert problem is None, problem
    assert "'sizes'" in err and "are not the ascending sizes of its runs" in err


def test_an_interrupted_sweep_has_more_sizes_than_runs(tmp_path):
    sweep = load_sweep(ROOT / "tests" / "data" / "sweep.json")
    short = tmp_path / "sweep.json"
    short.write_text(json.dumps(sweep_to_json(replace(sweep, runs=sweep.runs[:2]))))
    assert load_results(short).sizes == sweep.sizes


def _run_changed(change: Any) -> dict[str, Any]:
    data = json.loads(GOOD_RUN.read_text())
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            lambda d: d["data"]["spec"].update(seed=10**400),
            "results.data.spec.seed: a whole number",
        ),
        (lambda d: d["ceiling"].update(cores=10**400), "results.ceiling.cores: a whole number"),
        (lambda d: d["reference"].update(rate=0), "results.reference.rate: 0 is out of range"),
        (lambda d: d["reference"]["rates"].__setitem__(0, 0), "results.reference.rates"),
    ],
    ids=["huge-seed", "huge-cores", "reference-rate-0", "a-reference-turn-0"],
)
def test_a_figure_no_float_holds_or_a_reference_to_divide_by_zero_is_refused(
    change, named, tmp_path
):
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps(_run_changed(change)))
    for argv in (["compare", str(bad), str(GOOD_RUN)], ["compare", str(GOOD_RUN), str(bad)]):
        problem, err = _refused_in_one_line(argv, tmp_path)
        assert problem is None, problem
        assert named in err


@pytest.mark.parametrize("names", [[[1]], [{}], [None]], ids=["list", "object", "null"])
def test_a_version_1_run_whose_scenario_names_are_not_text_is_refused(names, tmp_path):
    bad = tmp_path / "results.json"
    options = {"scenarios": names, "pipeline_arguments": {"a": 1}}
    bad.write_text(json.dumps({"format_version": 1, "kind": "run", "options": options}))
    problem, err = _refused_in_one_line(["compare", str(bad), str(GOOD_RUN)], tmp_path)
    assert problem is None, problem
    assert "results.targets[0]" in err


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("pipeline_arguments", "x", "options.pipeline_arguments: expected a mapping, got str"),
        ("scenario_options", [1], "options.scenario_options: expected a mapping, got list"),
        ("kind", "tune", "has kind 'tune'"),
    ],
)
def test_a_version_1_run_of_the_wrong_types_or_kind_is_refused_naming_it(
    option, value, named, tmp_path
):
    data = json.loads(RUN_1.read_text())
    assert data["format_version"] == 1
    if option == "kind":
        data["kind"] = value
    else:
        data["options"][option] = value
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps(data))
    report = ["report", str(bad), "-o", str(tmp_path / "out")]
    for argv in (report, ["compare", str(bad), str(bad)]):
        problem, err = _refused_in_one_line(argv, tmp_path)
        assert problem is None, problem
        assert named in err, err


def test_null_says_no_format_version_and_a_fifo_is_refused_unread(tmp_path):
    null = tmp_path / "null.json"
    null.write_text("null")
    _, err = _refused_in_one_line(["compare", str(null), str(GOOD_RUN)], tmp_path)
    assert "has no format_version" in err
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # no writer ever comes: opened, it would wait for ever
    for argv in (["compare", str(fifo), str(GOOD_RUN)], ["report", str(fifo), "-o", str(tmp_path)]):
        problem, err = _refused_in_one_line(argv, tmp_path)
        assert problem is None, problem
        assert "not a regular file" in err


@pytest.mark.parametrize("field", ["peak_pss_mib", "baseline_rss_mib"])
def test_a_figure_no_plot_can_draw_is_refused_in_one_line_the_old_report_kept(field, tmp_path):
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps(_run_changed(lambda d: d["scenarios"][0].update({field: 1.7e308}))))
    problem, err = _refused_in_one_line(["report", str(bad), "-o", str(tmp_path)], tmp_path)
    assert problem is None, problem
    assert "cannot render the report" in err
    assert (tmp_path / "report.md").read_text() == "an earlier, good report\n"


def test_a_report_asked_into_something_that_is_not_a_folder_is_refused_as_such(tmp_path):
    # /dev/null, or a file: the old message was the folder's mkdir error, "File exists".
    a_file = tmp_path / "taken"
    a_file.write_text("")
    for output in ("/dev/null", str(a_file)):
        code, _, err = _call(["report", str(GOOD_RUN), "-o", output])
        assert code == 2, err
        assert err.strip().endswith(
            f"'{output}' is not a folder: pass -o with a folder for report.md and its plots"
        ), err
