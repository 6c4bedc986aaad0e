"""Advice beside the pick: the disk a disk cache needs, what "of ceiling" above 100% means, the
code."""

from __future__ import annotations

import io
from dataclasses import replace
from types import SimpleNamespace

from profiler.base.metadata import Metadata
from profiler.base.settings import MeasureSettings, Target
from profiler.data.fingerprint import Fingerprint
from profiler.data.synthetic import DataSpec
from profiler.drivers.run import with_results
from profiler.reporters.advice import PLACEHOLDER_FOLDER, snippet_script
from profiler.reporters.run import RunMarkdownReporter, RunTerminalReporter
from profiler.reporters.script_headers import ScriptData
from profiler.results.records import DataRecord, RunResult, ScenarioResult

EXPECTED = Fingerprint(4000, 125, (64, 64, 3), "float32", "int32", "00112233445566ff", "aa")


def _run(rows, spec=None):
    run = RunResult(
        metadata=Metadata(python="3.11"),
        settings=MeasureSettings(step_ms=20.0, batch_size=32),
        targets=tuple(Target.scenario(r.name) for r in rows),
        data=DataRecord(spec or DataSpec(samples=4000)),
        expected_fingerprint=EXPECTED,
        created="2026-11-26T12:00:00+00:00",
    )
    return with_results(run, rows)


def row(name, idle, rate, **extra):
    return ScenarioResult(
        name=name,
        status="ok",
        idle_fraction=idle,
        samples_per_s=rate,
        peak_rss_mib=30.0,
        fingerprint=EXPECTED,
        fingerprint_matches=True,
        **extra,
    )


def _text(run):
    terminal, markdown = io.StringIO(), io.StringIO()
    RunTerminalReporter(terminal, width=200, color=False).render(run)
    RunMarkdownReporter(markdown).render(run)
    return " ".join(terminal.getvalue().split()), markdown.getvalue()


def test_a_disk_cache_pick_says_how_much_disk_at_this_size_and_per_million():
    # 4,000 samples wrote 200 MiB: 51.2 KiB a sample, 48.8 GiB per million.
    cache_file = row(
        "cache_file",
        0.0,
        30000.0,
        disk_grows_with_data=True,
        disk_written_mib=200.0,
        ceiling_fraction=2.5,
        snippet="def make_dataset():\n    return 1\n",
    )
    run = _run([row("generator", 0.3, 3000.0, ceiling_fraction=0.3), cache_file])
    assert run.recommendation.name == "cache_file"
    terminal, markdown = _text(run)
    for text in (terminal, markdown):
        assert (
            "Disk: cache_file wrote 200.0 MiB for the 4,000 samples of this run, about 51.2 KiB a "
            "sample (64x64x3 float32): 48.8 GiB per million samples at this image size" in text
        )
        # Generated JPEGs decode to uint8 pixels: 64x64x3 bytes and a 4-byte label a sample.
        assert (
            "The data's pixels are uint8: cached before the scaling to float32 [0, 1] (cast and "
            "scale in a map after the cache), it would take about 11.4 GiB per million" in text
        )
        # One name, one verb: "cache_file keeps", never "cache_file keep".
        assert (
            "Of ceiling above 100%: cache_file keeps the decoded samples (in memory or on disk) "
            "after the first epoch, so it skips" in text
        )


def test_the_disk_note_speaks_of_uint8_only_where_the_data_holds_uint8():
    cache_file = row("cache_file", 0.0, 30000.0, disk_grows_with_data=True, disk_written_mib=200.0)
    for spec, formats, said in (
        (DataSpec(kind="npy", path="/d/x.npy,/d/y.npy", samples=4000), ("uint8 array",), True),
        (DataSpec(kind="npy", path="/d/x.npy,/d/y.npy", samples=4000), ("float32 array",), False),
        (DataSpec(kind="arrays", samples=4000), (), False),  # generated float32 arrays
        (DataSpec(kind="tfrecord", path="/d/*.tfrecord", samples=4000), ("JPEG",), True),
    ):
        run = replace(_run([cache_file], spec), data=DataRecord(spec, spec.path, formats=formats))
        assert ("The data's pixels are uint8" in _text(run)[0]) is said, (spec.kind, formats)


def test_no_disk_note_when_the_pick_writes_nothing():
    run = _run([row("generator_prefetch", 0.0, 3000.0)])
    assert "Disk:" not in _text(run)[0]


def test_a_decoder_faster_than_the_ceilings_is_named_as_the_reason():
    run = _run([row("parallel_map", 0.0, 6000.0, ceiling_fraction=1.23)])
    assert (
        "parallel_map decodes every epoch, faster than the OpenCV decoder the ceiling was set by"
        in _text(run)[0]
    )


def test_the_code_for_the_pick_is_printed_and_the_whole_script_is_in_the_report(tmp_path):
    snippet = "def make_dataset():\n    return tf.data.Dataset.range(3)\n"
    run = _run([row("parallel_map", 0.0, 6000.0, snippet=snippet)])
    terminal, markdown = _text(run)
    assert (
        "Code: the pick on your own files" in terminal
        and "return tf.data.Dataset.range(3)" in terminal
    )
    raw = io.StringIO()
    RunTerminalReporter(raw, width=80, color=False).render(run)
    # its lines kept
    assert "def make_dataset():\n    return tf.data.Dataset.range(3)\n" in raw.getvalue()
    script = snippet_script(run)
    assert f"DATA = pathlib.Path('{PLACEHOLDER_FOLDER}')" in script
    assert "HEIGHT, WIDTH, CHANNELS, BATCH = 64, 64, 3, 32" in script
    assert f"```python\n{script}```" in markdown
    compile(script, "pipeline.py", "exec")  # it is Python as printed
    folder = tmp_path / 'my "photos"\\new'
    on_folder = replace(
        run,
        data=DataRecord(
            DataSpec(kind="folder", path=str(folder), samples=10, height=96, width=128, channels=1)
        ),
    )
    script = snippet_script(on_folder)
    assert f"DATA = pathlib.Path({str(folder)!r})" in script
    assert "HEIGHT, WIDTH, CHANNELS, BATCH = 96, 128, 1, 32" in script
    compile(script, "pipeline.py", "exec")
    # The header up to the listing, without OpenCV and TensorFlow (a stand-in gives AUTOTUNE).
    namespace: dict = {
        "tf": SimpleNamespace(data=SimpleNamespace(AUTOTUNE=-1)),
        "cv2": SimpleNamespace(IMREAD_GRAYSCALE=0, IMREAD_COLOR=1),
    }
    exec(
        script.split("classes = ")[0]
        .replace("import cv2\n", "")
        .replace("import tensorflow as tf\n", ""),
        namespace,
    )
    assert namespace["DATA"] == folder  # the path arrives as it is, quotes and backslash included


def test_every_builtin_has_a_script_that_compiles_and_reads_in_80_columns():
    from profiler.reporters.advice import script_for
    from profiler.strategy.registry import registered
    from scenarios._snippets import SNIPPETS

    assert set(SNIPPETS) == set(registered())
    data = (
        ScriptData("folder", "path/to/your/images"),
        ScriptData("tfrecord", "/data/*.tfrecord", ("/data/a.tfrecord", "/data/b\x00123")),
        ScriptData("npy", "/data/images.npy,/data/labels.npy"),
    )
    for name, snippet in SNIPPETS.items():
        assert "def make_dataset():" in snippet
        for source in data:
            script = script_for(snippet, 64, 64, 3, 32, source)
            compile(script, name, "exec")
            assert max(len(line) for line in script.splitlines()) <= 79, (name, source.kind)


def test_records_and_arrays_get_a_script_that_reads_them():
    snippet = "def make_dataset():\n    return tf.data.Dataset.range(3)\n"
    for kind, path, words in (
        ("tfrecord", "/data/*.tfrecord", "FILES = record_files(DATA)"),
        ("npy", "/data/x.npy,/data/y.npy", "IMAGES = np.load('/data/x.npy', mmap_mode=\"r\")"),
    ):
        run = _run(
            [row("parallel_map", 0.0, 6000.0, snippet=snippet)],
            DataSpec(kind=kind, path=path, samples=4000),
        )
        terminal, markdown = _text(run)
        assert words in markdown and "This run read" not in markdown + terminal
    # the one script left to adapt: the data service's, on TFRecords
    run = _run(
        [row("data_service", 0.0, 6000.0, snippet=snippet)],
        DataSpec(kind="tfrecord", path="/data/*.tfrecord", samples=4000),
    )
    assert "the data_service script reads image files" in _text(run)[1]


def test_an_interrupted_run_says_whether_anything_is_missing():
    both = _run([row("generator", 0.3, 3000.0), row("preload", 0.0, 9000.0)])
    one = replace(both, scenarios=both.scenarios[:1], interrupted=True)
    assert "Run interrupted: scenarios not listed did not run." in _text(one)[0]
    done = replace(both, interrupted=True)
    said = _text(done)[0]
    assert "Run interrupted after every scenario was measured: nothing is missing." in said
    # A stop before any turn leaves every row, not none, cut short.
    cut = replace(
        both,
        scenarios=[replace(r, status="interrupted") for r in both.scenarios],
        interrupted=True,
    )
    said = _text(cut)[0]
    assert "Run interrupted: 2 scenario(s) stopped before their figures were whole." in said
    assert "nothing is missing" not in said
