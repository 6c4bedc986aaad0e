"""Advice to act on beside the pick: the disk its cache needs, and the code that builds it on a
user's own files."""

from __future__ import annotations

from profiler.reporters.common import Note
from profiler.reporters.script_headers import ScriptData, header
from profiler.results.records import RunResult, ScenarioResult

SNIPPET_FOOTER = """

if __name__ == "__main__":
    dataset = make_dataset()
    # model.fit(dataset, epochs=...)
"""
# What the main says of shuffling: measured with a shuffle buffer, the same buffer follows
# make_dataset(), as it followed every strategy in the run; measured without one, the file order
# was what was timed, and the line says how to time a shuffled pipeline.
_UNSHUFFLED = """    # Measured in file order. Training wants shuffled samples: run the
    # profiler with --shuffle-buffer N to time a buffer of N and print it here.
"""
_SHUFFLED = """    # Shuffled as measured: a seeded buffer of {buffer} samples.
    if isinstance(dataset, tf.data.Dataset):
        dataset = dataset.unbatch().shuffle({buffer}, seed={seed}).batch(BATCH)
"""
PLACEHOLDER_FOLDER = "path/to/your/images"


def picked(run: RunResult) -> ScenarioResult | None:
    pick = run.recommendation
    if pick is None or pick.name is None:
        return None
    return next((r for r in run.scenarios if r.name == pick.name), None)


def snippet_script(run: RunResult) -> str | None:
    """A whole script that builds the picked strategy on the data the run read: a user's folder,
    TFRecords or arrays, or (generated data) a folder of images, one subfolder per class."""
    result = picked(run)
    if result is None or not result.snippet:
        return None
    spec = run.data.spec if run.data is not None else None
    if spec is None or run.data is None or spec.kind not in ("folder", "tfrecord", "npy"):
        data = ScriptData("folder", PLACEHOLDER_FOLDER)
    else:
        data = ScriptData(
            spec.kind, spec.path, run.data.skipped_paths, spec.image_key, spec.label_key
        )
    return script_for(
        result.snippet,
        spec.height if spec else 64,
        spec.width if spec else 64,
        spec.channels if spec else 3,
        run.settings.batch_size,
        data,
        run.settings.shuffle_buffer,
        spec.seed if spec else 0,
    )


def script_caveat(run: RunResult) -> str | None:
    """What the script leaves to the user: the one strategy whose script reads image files only."""
    result = picked(run)
    if result is None or result.name != "data_service" or run.data is None:
        return None
    if run.data.spec.kind != "tfrecord":
        return None
    return (
        "This run read TFRecords, and the data_service script reads image files: build its "
        "`batch_of(chunk)` from `stored_samples()` (the kept records, as the header reads them) "
        "with `skip(chunk * BATCH).take(BATCH)`, then `decode_item` and `batch`."
    )


def script_for(
    snippet: str,
    height: int,
    width: int,
    channels: int,
    batch: int,
    data: ScriptData,
    shuffle_buffer: int = 0,
    seed: int = 0,
) -> str:
    """The whole script: the header for these sizes and this data (names quoted as Python), the
    snippet, a main that shuffles as the run did."""
    shuffled = _SHUFFLED.format(buffer=shuffle_buffer, seed=seed) if shuffle_buffer else _UNSHUFFLED
    main = SNIPPET_FOOTER.replace("    # model.fit", shuffled + "    # model.fit")
    return header(data, height, width, channels, batch) + snippet + main


def disk_note(run: RunResult) -> Note | None:
    """How much disk the pick's decoded cache takes, measured in this run, at its size and per
    million."""
    result = picked(run)
    if result is None or not result.disk_grows_with_data or not run.samples:
        return None
    samples = run.samples
    if result.disk_written_mib is not None and result.disk_written_mib > 0:
        per_sample_mib = result.disk_written_mib / samples
        measured = (
            f"wrote {result.disk_written_mib:,.1f} MiB for the {samples:,} samples of this run"
        )
    # results without the measured figure: the decoded size, with an int32 label
    elif run.data is not None:
        per_sample_mib = (run.data.spec.sample_bytes + 4) / 2**20
        measured = (
            f"writes about {per_sample_mib * samples:,.1f} MiB of decoded samples for this run's "
            f"{samples:,}"
        )
    else:
        return None
    kind = (
        run.expected_fingerprint.sample_kind
        if run.expected_fingerprint is not None
        else "samples of this size"
    )
    return Note(
        f"Disk: {result.name} {measured}, about {per_sample_mib * 2**20 / 1024:,.1f} KiB a sample "
        f"({kind}): {per_sample_mib * 1e6 / 1024:,.1f} GiB per million samples at this image size, "
        f"on the disk that holds its cache file.{_as_stored(run)}",
        "warning",
    )


def _as_stored(run: RunResult) -> str:
    """Where the data's pixels are uint8 and the samples float32: what a cache of the pixels as
    stored would take, scaled to [0, 1] only when read back."""
    if run.data is None or run.expected_fingerprint is None:
        return ""
    spec = run.data.spec
    stored_uint8 = spec.kind in ("images", "folder", "tfrecord") or (
        spec.kind == "npy" and "uint8 array" in run.data.formats
    )
    if not stored_uint8 or run.expected_fingerprint.image_dtype != "float32":
        return ""
    pixels = 1
    for side in run.expected_fingerprint.image_shape:
        pixels *= side
    per_million_gib = (pixels + 4) * 1e6 / 2**30  # uint8 pixels and an int32 label
    return (
        " The data's pixels are uint8: cached before the scaling to float32 [0, 1] (cast and "
        f"scale in a map after the cache), it would take about {per_million_gib:,.1f} GiB per "
        "million, a quarter, for the same samples."
    )


def script_reads(run: RunResult) -> str:
    """What the printed script reads, for the words above it."""
    kind = run.data.spec.kind if run.data is not None else ""
    if kind == "tfrecord":
        return "the run's TFRecord files, the records it could not read left out"
    if kind == "npy":
        return "the run's pair of .npy arrays, read row by row from a memory map"
    return (
        "a folder of images with one subfolder per class (as `image_dataset_from_directory` reads "
        "them)"
    )
