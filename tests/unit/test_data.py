from __future__ import annotations

import numpy as np
import pytest

from profiler.data.synthetic import DataSpec, prepare_data

SPEC = DataSpec(kind="images", samples=12, height=16, width=20, source_size=32, seed=3)


def _files(source):
    return {
        p.name: p.read_bytes()
        for p in source.root.iterdir()
        if p.suffix in (".jpg", ".png", ".npy")
    }


def test_generation_is_deterministic(tmp_path):
    first, generated_first = prepare_data(SPEC, tmp_path / "a")
    second, generated_second = prepare_data(SPEC, tmp_path / "b")
    assert generated_first and generated_second
    assert _files(first) == _files(second)
    assert len([name for name in _files(first) if name.endswith(".jpg")]) == SPEC.samples


def test_cache_is_reused_and_regenerated_when_the_spec_changes(tmp_path):
    source, generated = prepare_data(SPEC, tmp_path)
    assert generated
    again, generated_again = prepare_data(SPEC, tmp_path)
    assert not generated_again and again.root == source.root
    # The target size is applied at decode time: the same files serve it.
    resized, generated_resized = prepare_data(
        DataSpec(**{**SPEC.to_dict(), "height": 8, "width": 8}), tmp_path
    )
    assert not generated_resized and resized.root == source.root
    reseeded, generated_reseeded = prepare_data(DataSpec(**{**SPEC.to_dict(), "seed": 4}), tmp_path)
    assert generated_reseeded and reseeded.root != source.root
    assert _files(reseeded) != _files(source)


def test_incomplete_cache_folder_is_regenerated(tmp_path):
    source, _ = prepare_data(SPEC, tmp_path)
    (source.root / "spec.json").unlink()  # as if generation had been cut off
    again, generated = prepare_data(SPEC, tmp_path)
    assert generated and (again.root / "spec.json").exists()


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    import profiler.data.synthetic as data

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(data, "_write_images", fail)
    with pytest.raises(KeyboardInterrupt):
        prepare_data(SPEC, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_decoded_images_have_the_delivered_shape_and_range(tmp_path):
    source, _ = prepare_data(SPEC, tmp_path)
    images, labels = source.load_range(0, 5)
    assert images.shape == (5, 16, 20, 3) and images.dtype == np.float32
    assert labels.shape == (5,) and labels.dtype == np.int32
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert images.std() > 0.05, "synthetic images must not be flat"


def test_grayscale_png(tmp_path):
    spec = DataSpec(
        kind="images", samples=3, height=8, width=8, channels=1, source_size=16, image_format="png"
    )
    source, _ = prepare_data(spec, tmp_path)
    assert source.load_sample(2).shape == (8, 8, 1)
    assert sorted(p.suffix for p in source.root.glob("*.png")) == [".png"] * 3


def test_arrays_are_memory_mapped_and_match_the_stored_values(tmp_path):
    spec = DataSpec(kind="arrays", samples=9, height=4, width=5, channels=2, seed=1)
    source, _ = prepare_data(spec, tmp_path)
    stored = np.load(source.root / "images.npy", mmap_mode="r")
    assert isinstance(stored, np.memmap)
    images, _ = source.load_range(3, 9)
    assert np.array_equal(images, stored[3:9])
    assert images.dtype == np.float32 and images.shape == (6, 4, 5, 2)


def test_batch_bounds_end_with_a_partial_batch():
    from profiler.data.synthetic import DataSource

    source = DataSource(DataSpec(samples=70), root=".")
    bounds = source.batch_bounds(16)
    assert bounds[-1] == (64, 70) and len(bounds) == 5
    assert sum(stop - start for start, stop in bounds) == 70
