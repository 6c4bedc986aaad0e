"""A user's own data: an image folder, TFRecord files or a pair of .npy files, indexed once.

Preparing it lists the samples in a stable order (class subfolders sorted, as
keras.utils.image_dataset_from_directory labels them), draws a seeded subset where --samples asks
for one, and decodes every chosen sample once: one that does not decode is skipped, the same for
every strategy, or, with --on-bad-file fail, stops the run before anything is measured. The
result is an index in the profiler's cache, keyed by the listing (names, sizes and times) and the
options; the user's files are only ever read. The index records a checksum of each of its files; one
damaged or edited since (cut short, labels changed by hand) is built again, never read as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from profiler.base.errors import ProfilerError
from profiler.data.published import publish_folder
from profiler.data.sample_work import decode_encoded, from_array
from profiler.data.synthetic import DataSource, DataSpec
from profiler.data.tfrecord_reader import (
    DamagedRecords,
    framed_records,
    parse_example,
    read_record,
    record_offsets,
)
from profiler.data.user_index import BadFile, choose
from profiler.data.user_scan import (
    DataNotFound,
    check_arrays,
    describe_sizes,
    list_folder,
    locate,
    npy_pair,
    tfrecord_files,
)

_INDEX = "index.npz"
SUMMARY = "summary.json"
CHECKSUMS = "checksums.json"
STAMPS = "stamps.json"  # each data file's _stamp when it was indexed
# The index's files, whose checksums CHECKSUMS holds.
_RECORDED = (_INDEX, "spec.json", SUMMARY, STAMPS)
INDEX_VERSION = 3
# Bad samples named in the results and the report; all of them are counted.
NAMED_BAD = 5
MAX_SKIPPED_PATHS = 1000


@dataclass(frozen=True)
class Summary:
    """What the data is, for the table's title and the results' ``data`` record."""

    found: int  # samples the data holds (files, records or rows), bad ones included
    skipped_files: int
    skipped_examples: tuple[str, ...]
    typical_size: str  # median source size, "375x500"
    bytes_per_file: float
    formats: tuple[str, ...]
    # The bad files themselves (the first MAX_SKIPPED_PATHS), or a TFRecord's bad records
    # (user_index.RECORD_AT): the printed script leaves them out.
    skipped_paths: tuple[str, ...] = ()


class UserDataSource(DataSource):
    """Read access to a user's data through its index; picklable like DataSource."""

    def _index(self) -> dict[str, np.ndarray]:
        if getattr(self, "_loaded", None) is None:
            with np.load(self.root / _INDEX) as index:
                self._loaded = {name: index[name] for name in index.files}
        return self._loaded

    @property
    def labels(self) -> np.ndarray:
        return self._index()["labels"]

    def summary(self) -> Summary:
        return Summary(
            **{
                k: tuple(v) if isinstance(v, list) else v
                for k, v in json.loads((self.root / SUMMARY).read_text()).items()
            }
        )

    def image_paths(self) -> list[str]:
        if self.spec.kind != "folder":
            raise ValueError("image_paths() is only defined for image folders")
        return [str(p) for p in self._index()["paths"]]

    def files(self) -> list[Path]:
        return [Path(str(p)) for p in dict.fromkeys(self._index()["paths"].tolist())]

    def cold_paths(self) -> list[Path]:
        return [*self.files(), self.root]

    def changed_files(self) -> list[str]:
        """The data's files that are gone, or were rewritten, since they were indexed."""
        try:
            recorded = json.loads((self.root / STAMPS).read_text())
        except (OSError, ValueError):
            return []
        return [path for path, stamp in recorded.items() if _stamp(path) != stamp]

    def stored_samples(self) -> int:
        index = self._index()
        return int(index["held"]) if "held" in index else self.num_samples

    def record_plan(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The TFRecord files in reading order, the number (across them) of each file's first
        record, and the record numbers of the samples."""
        index = self._index()
        return [str(p) for p in index["paths"]], index["starts"], index["records"]

    def encoded(self, index: int) -> bytes:
        entries = self._index()
        if self.spec.kind == "folder":
            return Path(str(entries["paths"][index])).read_bytes()
        file = str(entries["paths"][entries["files"][index]])
        payload = read_record(file, int(entries["offsets"][index]), int(entries["lengths"][index]))
        feature = parse_example(payload)[self.spec.image_key]
        return bytes(feature.values[0])  # type: ignore[arg-type]

    def load_sample(self, index: int) -> np.ndarray:
        if self.spec.kind == "npy":
            if self._arrays is None:
                self._arrays = np.load(str(self._index()["paths"][0]), mmap_mode="r")
            return from_array(self._arrays[int(self._index()["rows"][index])], self.spec, index)
        return decode_encoded(self.encoded(index), self.spec, index, what=self._name(index))

    def _name(self, index: int) -> str:
        entries = self._index()
        if self.spec.kind == "folder":
            return str(entries["paths"][index])
        return f"record {int(entries['records'][index])} of {self.spec.path}"


ProgressCallback = Callable[[int, int], None]


def prepare_user_data(
    spec: DataSpec,
    cache_root: Path,
    on_bad_file: str = "skip",
    on_progress: ProgressCallback | None = None,
) -> UserDataSource:
    """The index of ``spec``'s data (``spec.samples`` 0: all of it), built now unless the cache has
    it."""
    kind, path = locate(spec.path)
    spec = replace(spec, kind=kind, path=path)
    listing = _readable(_listing, spec)
    # Everything the index and what is derived from it (TFRecord shards of decoded arrays) depend
    # on.
    fields = [
        spec.kind,
        spec.path,
        spec.samples,
        spec.seed,
        spec.image_key,
        spec.label_key,
        spec.height,
        spec.width,
        spec.channels,
    ]
    key = hashlib.sha256(
        json.dumps({"listing": listing.signature, "spec": fields, "v": INDEX_VERSION}).encode()
    )
    folder = Path(cache_root) / f"user-{kind}-{spec.samples or 'all'}-{key.hexdigest()[:12]}"
    if folder.exists() and not _intact(folder):
        _discard(folder)
    if not folder.exists():
        publish_folder(
            folder, lambda staging: _build(spec, listing, staging, on_bad_file, on_progress)
        )
    summary = json.loads((folder / SUMMARY).read_text())
    if on_bad_file == "fail" and summary["skipped_files"]:  # an index built before, skipping
        raise BadFile(
            f"{summary['skipped_examples'][0]}: pass --on-bad-file skip to leave bad files out, or "
            "remove or replace the file"
        )
    settled = json.loads((folder / "spec.json").read_text())
    return UserDataSource(replace(spec, **settled), folder)


def _checksums(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in _RECORDED}


def _intact(folder: Path) -> bool:
    """Every file of the index is there and as it was built."""
    try:
        return bool(json.loads((folder / CHECKSUMS).read_text()) == _checksums(folder))
    except (OSError, ValueError):
        return False


def _discard(folder: Path) -> None:
    """Remove an index damaged or edited since it was built, with what was derived from it."""
    try:
        shutil.rmtree(folder)
    except OSError as error:
        raise ProfilerError(
            f"the index of your data in '{folder}' is damaged or was edited, and cannot be removed "
            f"({error.strerror or error}): remove the folder, and it is built again"
        ) from None


def count_samples(spec: DataSpec) -> int:
    """How many samples a user's data holds (files, records or rows), bad ones included."""
    return len(_readable(_listing, spec).entries)


@dataclass(frozen=True)
class _Listing:
    signature: str
    entries: list[tuple[str, int, int]]  # (path, label or record file number, offset)
    lengths: list[int]
    classes: int


def _readable(read: Callable[[DataSpec], _Listing], spec: DataSpec) -> _Listing:
    """``read(spec)``, with a folder or file that cannot be read named in one line."""
    try:
        return read(spec)
    except OSError as error:
        where = error.filename or spec.path
        raise DataNotFound(
            f"cannot read '{where}' ({error.strerror or error}): check that it exists and that you "
            "may read it"
        ) from None


def _listing(spec: DataSpec) -> _Listing:
    if spec.kind == "folder":
        paths, labels, classes = list_folder(Path(spec.path))
        return _Listing(
            _signature(paths),
            [(p, label, 0) for p, label in zip(paths, labels, strict=True)],
            [0] * len(paths),
            classes,
        )
    if spec.kind == "npy":
        images, labels_path = npy_pair(spec.path)
        rows = check_arrays(images, labels_path)
        return _Listing(
            _signature([images, labels_path]),
            [(str(images), 0, row) for row in range(rows)],
            [0] * rows,
            0,
        )
    files = tfrecord_files(spec.path)
    entries: list[tuple[str, int, int]] = []
    lengths: list[int] = []
    for number, file in enumerate(files):
        try:
            found = list(record_offsets(Path(file)))
        except (DamagedRecords, OSError):  # tf.data would fail on the whole file: leave it out
            lost = framed_records(Path(file))  # every record of it, counted as a bad sample
            entries.extend([(file, -1, 0)] * lost)
            lengths.extend([-1] * lost)
            continue
        entries.extend((file, number, offset) for offset, _ in found)
        lengths.extend(length for _, length in found)
    return _Listing(_signature(files), entries, lengths, 0)


def _signature(paths: list[str]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(os.fsencode(path) + f"\0{_stamp(path)}\n".encode())
    return digest.hexdigest()


def _stamp(path: str) -> str:
    """What changes when a file is rewritten: its size, its time, and the time of its last change
    of any kind, which no one can set back (a copy that keeps size and time still moves it)."""
    try:
        status = os.stat(path)
    except OSError:  # a dangling link, say: a bad file, found when it is read
        return "unreadable"
    return f"{status.st_size}:{status.st_mtime_ns}:{status.st_ctime_ns}"


def _build(
    spec: DataSpec,
    listing: _Listing,
    folder: Path,
    on_bad_file: str,
    on_progress: ProgressCallback | None,
) -> None:
    choice = choose(spec, listing, on_bad_file, on_progress)
    chosen = choice.chosen
    entries = [listing.entries[i] for i in chosen]
    if spec.kind == "tfrecord":
        readable = [i for i, length in enumerate(listing.lengths) if length >= 0]
        record_number = {position: number for number, position in enumerate(readable)}
        files = list(dict.fromkeys(listing.entries[i][0] for i in readable))
        file_number = {file: number for number, file in enumerate(files)}
        first: dict[str, int] = {}
        for position in readable:
            first.setdefault(listing.entries[position][0], record_number[position])
        starts = [first[file] for file in files]
        np.savez(
            folder / _INDEX,
            paths=np.array(files),
            files=np.array([file_number[e[0]] for e in entries]),
            starts=np.array(starts, dtype=np.int64),
            offsets=np.array([e[2] for e in entries], dtype=np.int64),
            lengths=np.array([listing.lengths[i] for i in chosen], dtype=np.int64),
            records=np.array([record_number[i] for i in chosen], dtype=np.int64),
            labels=choice.labels,
            held=np.array(len(readable)),
        )
    elif spec.kind == "npy":
        np.savez(
            folder / _INDEX,
            paths=np.array([spec.path.split(",")[0]]),
            rows=np.array([e[2] for e in entries], dtype=np.int64),
            labels=choice.labels,
        )
    else:
        np.savez(folder / _INDEX, paths=np.array([e[0] for e in entries]), labels=choice.labels)
    settled = {
        "samples": len(chosen),
        "classes": max(int(choice.labels.max()) + 1, listing.classes, 1),
        **choice.settled,
    }
    if spec.kind == "npy" and not spec.height:
        settled.update(height=int(choice.shapes[0][0]), width=int(choice.shapes[0][1]))
    (folder / "spec.json").write_text(json.dumps(settled))
    summary = Summary(
        len(listing.entries),
        len(choice.bad),
        tuple(dict.fromkeys(choice.bad))[:NAMED_BAD],  # a damaged file's records, named once
        describe_sizes(choice.shapes),
        float(np.mean(choice.sizes)),
        tuple(sorted(set(choice.formats))),
        tuple(dict.fromkeys(choice.bad_paths))[:MAX_SKIPPED_PATHS],
    )
    (folder / SUMMARY).write_text(json.dumps(summary.__dict__))
    files = spec.path.split(",") if spec.kind == "npy" else [str(e[0]) for e in entries]
    (folder / STAMPS).write_text(json.dumps({path: _stamp(path) for path in dict.fromkeys(files)}))
    (folder / CHECKSUMS).write_text(json.dumps(_checksums(folder)))
