"""Bad input: one line naming the problem and the fix, exit code 2, no traceback, nothing run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from profiler.commands import main


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TF_PIPELINE_PROFILER_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "--scenario", "nope"], "unknown scenario 'nope': choose from preload, generator"),
        (["run", "--scenario", "preload,bogus"], "unknown scenario 'bogus'"),
        (
            ["run", "--scenario", "all,preload"],
            "'all' stands for every scenario and goes alone: pass --scenario all by itself",
        ),
        (["run", "--scenario", "preload,preload"], "listed twice"),
        (["run", "--samples", "0"], "--samples: got 0: pass a positive integer"),
        (["run", "--samples", "-5"], "--samples: got -5: pass a positive integer"),
        (["run", "--batch-size", "0"], "--batch-size: got 0"),
        (["run", "--epochs", "ten"], "'ten' is not a whole number"),
        (["run", "--image-size", "0x4"], "is not a size"),
        (["run", "--step-ms", "-1"], "--step-ms: got -1: pass a finite number of 0 or more"),
        (["run", "--step-ms", "inf"], "--step-ms: got inf: pass a finite number of 0 or more"),
        (["run", "--timeout", "inf"], "--timeout: got inf: pass a finite number"),
        (["run", "--timeout", "nan"], "--timeout: got nan: pass a finite number"),
        (["run", "--time-cap", "1e400"], "--time-cap: got 1e400: pass a finite number"),
        (["sweep", "--memory-budget", "infGB"], "'infGB' is not a memory size"),
        (["sweep", "--memory-budget", "1e400MiB"], "'1e400MiB' is not a memory size"),
        (["run", "--seed", "-1"], "--seed: got -1: pass a whole number from 0 to 4,294,967,295"),
        (
            ["run", "--classes", "1e10"],
            "--classes: '1e10' is not a whole number: pass one from 1 to 2,147,483,647",
        ),
        (
            ["run", "--classes", "10000000000"],
            "--classes: got 10,000,000,000: pass a whole number from 1 to",
        ),
        (["run", "--workers", "10000"], "--workers: got 10,000: pass a whole number from 1 to"),
        (["run", "--image-size", "100000"], "'100000' is too large: pass sides of at most 8192"),
        (
            ["run", "--source-size", "100000"],
            "--source-size: got 100,000: pass a whole number from 1 to 8,192",
        ),
        (
            ["run", "--samples", "1" + "0" * 400],
            "--samples: got a number of 401 characters: pass a positive integer of at most",
        ),
        (
            ["sweep", "--samples", "40,80", "--target-samples", "1" + "0" * 400],
            "--target-samples: got a number of 401 characters",
        ),
        (["run", "--data", "a" * 300], "cannot be looked up (File name too long)"),
        (
            ["run", "--output", "~no-such-user-of-this-machine/out"],
            "cannot find the home folder that '~no-such-user-of-this-machine/out' starts from",
        ),
        (
            ["run", "--pipeline", "m:f", "--pipeline-arg", "x=-0x" + "f" * 5000],
            "the value of x holds a number too long to write out",
        ),
        (["run", "--data", "~no-such-user-here/x"], "cannot be looked up"),
        (
            ["run", "--scenario", ""],
            "--scenario is empty: pass 'all', a name, or a comma list of names",
        ),
        (["run", "--output", ""], "--output: the path is empty: pass a folder or file name"),
        (["report", "x.json", "-o", ""], "the path is empty"),
        (
            ["run", "--scenario", "preload", "--dispatcher", "grpc://localhost:5000"],
            "--dispatcher is for the data_service scenario, which is not selected",
        ),
        (
            ["run", "--scenario", "data_service", "--dispatcher", "grpc://127.0.0.1:1"],
            "nothing answers at --dispatcher grpc://127.0.0.1:1",
        ),
        (
            ["run", "--scenario", "data_service", "--dispatcher", "grpc://nohost"],
            "is not a tf.data service address",
        ),
        (
            ["run", "--scenario", "preload", "--service-on-all-interfaces"],
            "--service-on-all-interfaces is for the data_service scenario",
        ),
        (["run", "--timeout", "0"], "--timeout: got 0"),
        (
            ["run", "--samples", "10", "--batch-size", "11"],
            "--batch-size 11 is larger than --samples 10",
        ),
        (
            ["run", "--scenario", "no.such.module:THING"],
            "cannot import scenario module 'no.such.module'",
        ),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (
            ["run", "--data", "arrays", "--scenario", "parallel_map"],
            "scenario 'parallel_map' cannot read arrays, only image files or TFRecord files: leave "
            "it out of --scenario",
        ),
        (["run", "--pipeline-arg", "a=1"], "--pipeline-arg comes before any --pipeline"),
        (["run", "--pipeline", "just_a_module"], "'just_a_module' does not name a function"),
        (
            ["run", "--pipeline", "m:f", "--pipeline-arg", "no-equals"],
            "'no-equals' is not KEY=VALUE",
        ),
        (["run", "--pipeline", "m:f", "--pipeline", "m:f"], "'m:f' is listed twice"),
        (
            ["run", "--pipeline", "m:f", "--pipeline-arg", "a=" + "-" * 5000 + "1"],
            "the value of a is nested too deeply to read",
        ),
        (
            ["run", "--pipeline", "m:f", "--pipeline-arg", "a=" + "x" * 20_000],
            "the value of a is 20,000 characters long: pass at most 10,000",
        ),
        # values a results file cannot keep, however deep
        *(
            (
                ["run", "--pipeline", "m:f", "--pipeline-arg", f"a={value}"],
                f"the value of a holds a value of type {kind}, which a results file cannot keep",
            )
            for value, kind in (
                ("1j", "complex"),
                ("[1, {'k': {2, 3}}]", "set"),
                ("{(1, 2): 3}", "tuple"),
            )
        ),
        (
            ["compare", "a.json", "b.json", "--fail-on", "samples_per_s:" + "9" * 400 + "%"],
            "is too large to ever be reached",
        ),
        ([], "no command given: use one of run, sweep, tune, scale, list, report, compare"),
        (["sweep", "--samples", "100,x"], "in '100,x': 'x' is not a whole number"),
        (["sweep", "--samples", "100,0,200"], "in '100,0,200': got 0"),
        (
            ["sweep", "--samples", "100,200", "--batch-size", "101"],
            "larger than the smallest size 100",
        ),
        (
            ["sweep", "--memory-budget", "16"],
            "'16' is not a memory size: write a positive number with a unit",
        ),
        (["sweep", "--memory-budget=-2GiB"], "'-2GiB' is not a memory size"),
        (["sweep", "--memory-budget", "lots"], "'lots' is not a memory size"),
        (["sweep", "--target-samples", "0"], "--target-samples: got 0"),
        (["sweep", "--pipeline", "m:f"], "cannot import module 'm' of --pipeline m:f from "),
        (["run", "--pipeline", "no_such_module_here:make"], "add that folder to PYTHONPATH"),
        (
            [
                "run",
                "--pipeline",
                "m:f",
                "--pipeline-arg",
                "k=1",
                "--pipeline",
                "m:f",
                "--pipeline-arg",
                "k=1",
            ],
            "'m:f' is listed twice with the same --pipeline-arg values",
        ),
        (["sweep", "--scenario", "nope"], "unknown scenario 'nope'"),
        (["run", "--consumer", "pytorch"], "invalid choice: 'pytorch'"),
        (
            ["scale", "--service-workers", "2"],
            "--service-workers is chosen by scale: use --max-workers N",
        ),
        (
            ["scale", "--step-ms", "0"],
            "--step-ms 0 asks for batches faster than any accelerator takes them",
        ),
        (["scale", "--step-ms", "1e-320"], "give your training step's length, 0.1 ms or more"),
        (["run", "--step-ms", "1e9"], "--step-ms: got 1e9: pass a step of at most 60,000 ms"),
        (
            ["scale", "--scenario", "all"],
            "scale measures one strategy that runs on tf.data service workers",
        ),
        (["scale", "--consumer", "keras"], "--consumer keras times its own: leave --consumer out"),
        (["scale", "--cold"], "data_service cannot time cold reads"),
        (["scale", "--shuffle-buffer", "8"], "data_service cannot take --shuffle-buffer"),
        (
            ["run", "--scenario", "data_service", "--cold"],
            "scenario 'data_service' cannot time cold reads",
        ),
        (
            ["scale", "--dispatcher", "grpc://127.0.0.1:1", "--worker-cores", "4"],
            "--worker-cores is for workers started here, and --dispatcher measures your cluster's",
        ),
        (
            ["scale", "--scenario", "parallel_map"],
            "scale measures one strategy that runs on tf.data service workers",
        ),
        (["scale", "--scenario", "data_service,parallel_map"], "not 'data_service,parallel_map'"),
        (
            ["scale", "--dispatcher", "grpc://127.0.0.1:1", "--max-workers", "5"],
            "--max-workers is for workers started here, and --dispatcher measures your cluster's",
        ),
        (
            ["scale", "--dispatcher", "grpc://127.0.0.1:1"],
            "nothing answers at --dispatcher grpc://127.0.0.1:1",
        ),
        (["scale", "--accelerators", "0"], "--accelerators: got 0"),
        (["scale", "--worker-cores", "x"], "--worker-cores: 'x' is not a whole number"),
        (["scale", "--data", "arrays"], "scenario 'data_service' cannot read arrays"),
        (["sweep", "--memory-budget", "1e-300MiB"], "is less than 1 MiB, which no pipeline fits"),
        (["sweep", "--memory-budget", "900KiB"], "'900KiB' is less than 1 MiB"),
        # A path with bytes that are not UTF-8, as Python hands them on: TensorFlow opens none.
        (["run", "--data-dir", "\udcff\udcfeabc"], "--data-dir: the path holds bytes that are not"),
        (["sweep", "--data", "/tmp/\udcffimgs"], "--data: the path holds bytes that are not UTF-8"),
        (["tune", "--data", "/tmp/a\udcff/b.npy,l.npy"], "which TensorFlow cannot open"),
    ],
)
def test_bad_input_is_one_line_with_exit_2(isolated, capsys, argv, expected):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert expected in lines[0]
    assert not (isolated / "reports").exists(), "nothing may be created for bad input"
    assert not (isolated / "cache").exists(), "no data may be generated for bad input"


def test_unwritable_output_folder(isolated, capsys):
    blocker = isolated / "a-file"
    blocker.write_text("not a folder")
    assert (
        main(["run", "--output", str(blocker / "reports"), "--samples", "8", "--batch-size", "4"])
        == 2
    )
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"error: cannot write to output folder '{blocker / 'reports'}'")
    assert "pass --output with a writable folder" in line
    assert "\n" not in line


def test_unwritable_data_dir(isolated, capsys):
    blocker = isolated / "a-file"
    blocker.write_text("not a folder")
    argv = ["run", "--data-dir", str(blocker / "cache"), "--samples", "8", "--batch-size", "4"]
    assert main(argv) == 2
    line = capsys.readouterr().err.strip()
    assert "cannot write the dataset cache" in line and "pass --data-dir" in line


@pytest.mark.parametrize(
    ("text", "mib"),
    [
        ("16GiB", 16 * 1024),
        ("16G", 16 * 1024),
        ("512MiB", 512),
        ("1.5 gib", 1536),
        ("2GB", 2e9 / 2**20),
    ],
)
def test_memory_budget_units(text, mib):
    from profiler.commands.value_parsers import memory_size

    assert memory_size(text) == pytest.approx(mib)


def test_list_names_every_scenario_without_tensorflow(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("preload", "generator", "generator_prefetch", "multiprocessing", "cache"):
        assert name in out


def test_list_shows_whole_descriptions_wrapped_at_any_width(capsys, monkeypatch):
    from profiler.strategy.registry import registered

    monkeypatch.setenv("COLUMNS", "60")
    assert main(["list"]) == 0
    words = " ".join(capsys.readouterr().out.split())
    for scenario in registered().values():
        # every word, none cut
        assert " ".join(scenario.description.split()) in words, scenario.name
    assert main(["list", "--brief"]) == 0
    brief = " ".join(capsys.readouterr().out.split())
    assert " ".join(registered()["parallel_map"].summary.split()) in brief


def test_version(capsys):
    from profiler import __version__

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"tf-pipeline-profiler {__version__}"
    assert "tensorflow" not in sys.modules


def test_an_output_folder_starting_at_home_is_expanded_as_data_is():
    # the shell leaves the "~" of "--output=~/runs" as it is
    from profiler.commands.value_parsers import path_argument

    assert path_argument("~/runs") == Path.home() / "runs"
    assert path_argument("runs/~") == Path("runs/~")


@pytest.mark.parametrize(("text", "limit"), [("5.", 0.05), (".5", 0.005), ("5.0", 0.05)])
def test_a_limit_with_a_point_at_either_end_is_read(text, limit):
    from profiler.analysis.thresholds import Threshold

    assert Threshold.parse(f"samples_per_s:{text}%").limit == pytest.approx(limit)


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--samples", "x" * 100_000],
        ["tune", "--top", "7" * 100_000 + "x"],
        ["compare", "a.json", "b.json", "--fail-on", "samples_per_s:10%," + "q" * 100_000],
        ["compare", "a.json", "b.json", "--fail-on", "," * 10_000],
    ],
)
def test_an_error_quoting_a_pasted_value_shows_its_ends_and_length(isolated, capsys, argv):
    assert main(argv) == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and line.startswith("error: ")
    assert len(line) < 600, len(line)
    assert "characters)..." in line  # the value's length, so the user knows what was cut


DATA = Path(__file__).resolve().parents[1] / "data"


def test_a_path_the_file_system_cannot_hold_is_one_line(isolated, capsys):
    results = str(DATA / "run_base.json")
    too_long = str(isolated / ("m" * 300))
    loop = isolated / "loop.md"
    loop.symlink_to(loop)
    for argv, problem in (
        (["compare", results, results, "--markdown", too_long], "File name too long"),
        (["compare", results, results, "--markdown", str(loop)], "loop"),
        (["report", results, "-o", too_long], "File name too long"),
    ):
        assert main(argv) == 2, argv
        line = capsys.readouterr().err.strip()
        assert "\n" not in line and line.startswith("error: ") and problem in line, line
        assert "pass" in line  # and the fix
